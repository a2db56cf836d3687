"""Shared by the thinking-brain tests: the sample game's brain on a model, and FakeLlm."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from npc.designer.reload import Designs
from npc.llm.base import Llm, LlmCapabilities, LlmRequest
from npc.memory import Memory
from npc.mind.brain import MindBrain, MindOptions
from npc.steer import SteerLog
from sample_game import HERE
from sample_game.world import ENGINE_ACTIONS

GAME_PARTS = ("npcs", "actions", "lore")
PAINT = {
    "type": "function",
    "function": {
        "name": "paint_mech",
        "description": "Paint the player's mech in one colour.",
        "parameters": {
            "type": "object",
            "properties": {"color": {"type": "string", "enum": ["red", "blue", "black"]}},
            "required": ["color"],
            "additionalProperties": False,
        },
    },
}

GIVE = ENGINE_ACTIONS["give_item"]  # the stores are the game's: an engine action


class FakeLlm(Llm):
    """Says what the test scripted, one output per request (the last one repeats)."""

    name = "fake"
    capabilities = LlmCapabilities(json_schema=False)

    def __init__(self, *outputs: str) -> None:
        self.outputs = list(outputs)
        self.requests: list[LlmRequest] = []

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        self.requests.append(request)
        text = self.outputs.pop(0) if len(self.outputs) > 1 else self.outputs[0]
        for i in range(0, len(text), 5):
            yield text[i : i + 5]


def reply(say: str, action: str = "", **arguments: Any) -> str:
    call = {"name": action, "arguments": arguments} if action else None
    return json.dumps({"action": call, "say": say})


def copy_game(to: Path) -> Path:
    """A writable copy of the sample game's designer files."""
    for part in GAME_PARTS:
        shutil.copytree(HERE / part, to / part)
    return to


def mind(llm: Llm, state: Path, game: Path = HERE, **options: Any) -> MindBrain:
    """The sample game's thinking brain on `llm`, its memory and logs under `state`."""
    options.setdefault("seed", 7)
    options.setdefault("reload_s", 0)
    designs = Designs.load(game / "npcs", game / "actions", game / "lore")
    return MindBrain(
        designs,
        llm,
        Memory(state / "memory.sqlite3"),
        options=MindOptions(cache_dir=state / "cache", **options),
        steer_log=SteerLog(state / "steerlm.jsonl"),
        own=False,
    )
