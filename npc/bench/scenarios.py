"""Run the sample game's action scenarios through a MindBrain and score the actions it takes.

Each scenario opens a session with one NPC (declaring the engine actions the sample game
declares for it), says one player line, answers any engine action with success, and
checks the action the NPC took against the expected one (or none).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.messages import (
    ActionCall,
    ActionResult,
    DialogueFinal,
    Message,
    TextInput,
    TurnEnd,
)
from bridge.seam import Brain, SessionInfo
from sample_game import HERE

SCENARIOS = HERE / "scenarios" / "actions.json"


@dataclass
class Collector:
    """An Outbox that keeps what the brain sends and answers engine actions at once."""

    answer: Callable[[ActionCall], ActionResult | None] | None = None
    messages: list[Message] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    conversation: Any = None

    def send(self, msg: Message) -> None:
        self.messages.append(msg)
        if isinstance(msg, ActionCall) and self.answer is not None:
            result = self.answer(msg)
            if result is not None:
                asyncio.get_running_loop().call_soon(self.conversation.receive, result)
        if isinstance(msg, TurnEnd):
            self.ended.set()

    def send_threadsafe(self, msg: Message) -> None:
        raise AssertionError("the mind brain sends from the event loop")

    @property
    def line(self) -> str:
        """What the NPC said in the turn (its dialogue-final)."""
        return next((m.text for m in self.messages if isinstance(m, DialogueFinal)), "")


def succeed(call: ActionCall) -> ActionResult:
    return ActionResult(session=call.session, call_id=call.call_id, ok=True, result="done")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One scenario's result: what the NPC did and said, and whether that was right."""

    npc: str
    player: str
    expected: dict[str, Any] | None
    got: dict[str, Any] | None
    line: str
    correct: bool
    latency_ms: dict[str, float] = field(default_factory=dict)  # the turn-end's breakdown


def load(path: Path = SCENARIOS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def tools_for(data: dict[str, Any], npc: str) -> list[dict[str, Any]]:
    """The engine actions the sample game declares when it opens a session with `npc`."""
    return [data["engine_actions"][name] for name in data["declares"].get(npc, [])]


async def say(
    brain: Brain, npc: str, player: str, text: str, tools: list[dict[str, Any]],
    steer: dict[str, int] | None = None, timeout_s: float = 120.0,
) -> Collector:
    """Open a session, say `text`, wait for the turn to end; the collector has it all."""
    out = Collector(answer=succeed)
    info = SessionInfo(f"s-{player}", npc, player, 24000, tools, dict(steer or {}))
    opened = brain.open(info, out)
    out.conversation = opened.conversation
    try:
        opened.conversation.receive(TextInput(session=info.session, text=text))
        await asyncio.wait_for(out.ended.wait(), timeout_s)
    finally:
        await opened.conversation.close()
    return out


def matches(expected: dict[str, Any] | None, got: dict[str, Any] | None) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if expected["name"] != got["name"]:
        return False
    args = got["arguments"]
    return all(
        str(args.get(k, "")).strip().lower() == str(v).strip().lower()
        for k, v in expected["arguments"].items()
    )


async def run_scenarios(brain: Brain, data: dict[str, Any] | None = None) -> list[Outcome]:
    """Every scenario once, each with its own player (so no memory carries over)."""
    data = data or load()
    results = []
    for i, sc in enumerate(data["scenarios"]):
        out = await say(brain, sc["npc"], f"bench-{i}", sc["player"], tools_for(data, sc["npc"]))
        calls = [m for m in out.messages if isinstance(m, ActionCall)]
        got = _python_call(out) if not calls else {
            "name": calls[0].name, "arguments": calls[0].arguments}
        expected = sc["expect"]
        ends = [m for m in out.messages if isinstance(m, TurnEnd)]
        results.append(
            Outcome(
                sc["npc"], sc["player"], expected, got, out.line, matches(expected, got),
                dict(ends[-1].latency_ms) if ends else {},
            )
        )
    return results


def _python_call(out: Collector) -> dict[str, Any] | None:
    """The Python action the turn ran, from what the conversation remembered."""
    conv = out.conversation
    rec = conv.brain.memory.recent(conv.npc.id, conv.info.player, 1)
    meta = rec[-1].meta if rec else None
    if meta and meta.get("action"):
        return {"name": meta["action"], "arguments": meta.get("arguments", {})}
    return None
