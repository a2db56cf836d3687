"""Which actions an NPC may use in a session, and running one: in the brain or the engine.

Available = the NPC file's allowed Python actions + the actions the engine declared at
session-open. Only these reach the model's schema, so an action the NPC may not use can
never be generated; `Acting.run` checks the name and the arguments again before anything
runs, whatever the model (or anything else) produced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bridge import errors
from bridge.errors import BridgeError
from bridge.messages import ActionResult
from npc.designer.actions import ActionSpec, run_action
from npc.designer.persona import NpcFile
from npc.designer.validate import validate
from npc.memory import Memory

log = logging.getLogger("npc_bridge.mind")

EngineCall = Callable[[str, dict[str, Any], float], Awaitable[ActionResult | None]]

# A line asks for an action when the action's verb (its name up to the first "_":
# paint_mech -> "paint") opens the line or a clause ("Paint my mech red.", "Sure. Open
# the door.") or follows "you" or "please" ("Can you repair the arms?"); a line opened by
# a question word asks about it instead ("How much to paint it red?").
_ASKING = r"(?:^|[.!?,;:]\s*|\b(?:you|please)\s+){verb}\b"
_VERB = re.compile(r"([a-z]{3,})(?:_|$)")
_QUESTION = re.compile(r"\s*(?:how|what|when|where|which|who|whom|whose|why)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an action went, in words for the follow-up line and for memory."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    result: Any = None
    error: str = ""
    timed_out: bool = False

    def describe(self) -> str:
        if self.timed_out:
            return f"{self.name} got no answer"
        if not self.ok:
            return f"{self.name} failed: {self.error}"
        return f"{self.name} done: {self.result}"


def asks_for(text: str, names: Collection[str]) -> str:
    """The action of `names` that the player's `text` asks for by its verb, or ""."""
    if _QUESTION.match(text):
        return ""
    low = text.lower()
    for name in names:
        m = _VERB.match(name)
        if m is not None and re.search(_ASKING.format(verb=re.escape(m.group(1))), low):
            return name
    return ""


def python_action(spec: ActionSpec) -> dict[str, Any]:
    """A Python action as `available` lists it."""
    return {"description": spec.description, "parameters": spec.parameters, "kind": "python"}


def available(
    npc: NpcFile, python: Mapping[str, ActionSpec], engine: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """name -> {"description", "parameters", "kind": "python"|"engine"} for this session."""
    out: dict[str, dict[str, Any]] = {}
    for name in npc.actions:
        spec = python.get(name)
        if spec is None:
            log.warning("%s: allowed action '%s' is not defined in any action file", npc.id, name)
            continue
        out[name] = python_action(spec)
    for tool in engine:
        fn = tool["function"]
        name = fn["name"]
        if name in out:
            log.warning("%s: engine action '%s' shadows the Python one; using the engine's",
                        npc.id, name)
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        description = fn.get("description", "")
        out[name] = {"description": description, "parameters": params, "kind": "engine"}
    return out


@dataclass
class BrainContext:
    """The ActionContext a Python action gets: who it runs for, and memory to change."""

    npc: str
    player: str
    session: str
    memory: Memory

    def relationship(self) -> dict[str, int]:
        return self.memory.relationship(self.npc, self.player)

    def change_relationship(self, key: str, delta: int) -> int:
        return self.memory.change_relationship(self.npc, self.player, key, delta)

    def remember(self, text: str) -> None:
        self.memory.add_turn(self.npc, self.player, "event", text, session=self.session)


async def run(
    name: str,
    arguments: dict[str, Any],
    actions: Mapping[str, dict[str, Any]],
    python: Mapping[str, ActionSpec],
    context: BrainContext,
    engine_call: EngineCall,
    timeout_s: float,
) -> Outcome:
    """Run one action the model chose; BridgeError (bad-action) if it may not or cannot."""
    tool = actions.get(name)
    if tool is None:
        raise BridgeError(f"action '{name[:64]}' is not available to this NPC",
                          code=errors.BAD_ACTION)
    problems = validate(tool["parameters"], arguments)
    if problems:
        raise BridgeError(f"arguments for '{name}' are not valid: {'; '.join(problems)}",
                          code=errors.BAD_ACTION)
    if tool["kind"] == "engine":
        result = await engine_call(name, arguments, timeout_s)
        if result is None:
            return Outcome(name, arguments, False, timed_out=True, error="no answer")
        return Outcome(name, arguments, result.ok, result.result, result.error)
    try:
        value = await run_action(python[name], arguments, context)
    except BridgeError as e:
        if e.code == errors.BAD_ACTION:
            raise
        return Outcome(name, arguments, False, error=str(e.__cause__ or e.reason))
    return Outcome(name, arguments, True, value)
