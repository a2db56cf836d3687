"""Shared by the script tests: a thinking brain with scripts written by the test."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from bridge.messages import Error, Message
from npc.llm.base import Llm
from npc.mind.brain import MindBrain
from npc.script.loader import ScriptOptions, Scripts
from plugin_stubs.client import Session
from plugin_stubs.playback import Turn
from tests.mind_helpers import mind

HEADER = "from npc.script import Event, Idle, Intent, Npc, Trigger, Turn, after_turn, " \
         "before_turn, goal, on_event\n"


def write_script(folder: Path, source: str, name: str = "scene.py") -> Path:
    """A script file made of `source` (dedented), with the API imported at its top."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(HEADER + textwrap.dedent(source), encoding="utf-8")
    return path


def scripted(
    llm: Llm, state: Path, source: str, options: ScriptOptions | None = None, **brain: Any
) -> MindBrain:
    """The sample game's brain on `llm` with one script (`source`) in state/scripts."""
    write_script(state / "scripts", source)
    b = mind(llm, state, **brain)
    b.scripts = Scripts.load(state / "scripts", options or ScriptOptions(timeout_s=0.5))
    return b


async def until_turn(s: Session, timeout: float = 10.0) -> tuple[Turn, list[Error]]:
    """The next whole turn, and any `error` messages that came before its end."""
    turn = await s.turn(timeout)
    errors = [m for m in turn.messages if isinstance(m, Error)]
    return turn, errors


def kinds(messages: list[Message]) -> list[str]:
    return [m.TYPE for m in messages]
