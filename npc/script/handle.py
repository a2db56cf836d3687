"""The Npc handle: everything a script does to an NPC, the same object in every hook.

Its methods never block the caller: lines are queued as turns of the conversation, and a
hook running on a worker thread hands its calls to the event loop. The conversation
behind it is a `Host`.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.messages.dialogue import EMOTIONS
from bridge.messages.limits import check_steer

log = logging.getLogger("npc_bridge.script")


@dataclass(frozen=True, slots=True)
class Line:
    """A line a script asked for: `text` said as written, or made following `instruction`."""

    npc: str
    text: str = ""
    instruction: str = ""
    emotion: str | None = None


@dataclass
class Run:
    """One hook call in progress: abandoned once it timed out (what it does later is
    ignored); `capture` takes its lines instead of the queue (an intent goal's answer)."""

    abandoned: bool = False
    capture: list[Line] | None = None
    result: Any = None  # what the hook returned (a goal function's False: it did not fire)
    lock: threading.Lock = field(default_factory=threading.Lock)


current: contextvars.ContextVar[Run | None] = contextvars.ContextVar("npc_script_run", default=None)


@dataclass(frozen=True, slots=True)
class GoalState:
    """A goal's state for one NPC and player: on or off, times fired, last fired (epoch s)."""

    enabled: bool
    fired: int = 0
    last: float | None = None


class Host(Protocol):
    """What the handle needs from the conversation (all called on the event loop)."""

    @property
    def player(self) -> str: ...
    @property
    def session(self) -> str: ...
    @property
    def present(self) -> list[str]: ...

    def queue_line(self, line: Line) -> None: ...
    def run_action(self, npc: str, name: str, arguments: dict[str, Any]) -> None: ...
    def remember(self, npc: str, text: str) -> None: ...
    def change_relationship(self, npc: str, key: str, delta: int) -> int: ...
    def relationship_value(self, npc: str, key: str) -> int: ...
    def set_steer(self, npc: str, attributes: dict[str, int]) -> None: ...
    def set_listening(self, on: bool) -> None: ...
    def start_banter(self, npcs: list[str], about: str, lines: int, source: str) -> None: ...
    def goal_enable(self, npc: str, name: str, on: bool) -> None: ...
    def goal_state(self, npc: str, name: str) -> GoalState: ...


class Goals:
    """`npc.goals`: turn this NPC's goals on and off for this player, and read their state."""

    def __init__(self, npc: Npc) -> None:
        self._npc = npc

    def enable(self, name: str) -> None:
        self._npc._do(self._npc._host.goal_enable, self._npc.id, name, True)

    def disable(self, name: str) -> None:
        self._npc._do(self._npc._host.goal_enable, self._npc.id, name, False)

    def state(self, name: str) -> GoalState:
        return self._npc._host.goal_state(self._npc.id, name)


class Npc:
    """One NPC in one conversation, as scripts drive it."""

    def __init__(self, host: Host, npc_id: str, name: str, loop: asyncio.AbstractEventLoop) -> None:
        self._host = host
        self.id = npc_id
        self.name = name
        self._loop = loop
        self.goals = Goals(self)

    def __repr__(self) -> str:
        return f"Npc({self.id!r}, player={self.player!r})"

    @property
    def player(self) -> str:
        """The player this conversation (and this turn) is with."""
        return self._host.player

    @property
    def session(self) -> str:
        return self._host.session

    @property
    def present(self) -> list[str]:
        """The ids of the NPCs in this session, this one first."""
        ids = self._host.present
        return [self.id, *[i for i in ids if i != self.id]]

    # -- speaking ----------------------------------------------------------------------

    def say(self, text: str, emotion: str | None = None) -> None:
        """Say `text` as written (through the voice and the face), as its own turn."""
        if emotion is not None and emotion not in EMOTIONS:
            raise ValueError(f"emotion must be one of {', '.join(EMOTIONS)}, got {emotion!r}")
        self._line(Line(self.id, text=str(text), emotion=emotion))

    def prompt(self, instruction: str) -> None:
        """A line the NPC makes up in character following `instruction`, as its own turn."""
        self._line(Line(self.id, instruction=str(instruction)))

    def banter(self, *npc_ids: str, about: str, lines: int = 4) -> None:
        """This NPC and `npc_ids` (in this session) talk with each other about `about`."""
        caller = sys._getframe(1)
        source = f"{caller.f_code.co_filename}:{caller.f_lineno}"
        self._do(self._host.start_banter, [self.id, *npc_ids], about, int(lines), source)

    def _line(self, line: Line) -> None:
        run = current.get()
        if run is not None and run.capture is not None:
            with run.lock:
                if not run.abandoned:
                    run.capture.append(line)
            return
        self._do(self._host.queue_line, line)

    # -- doing and remembering -------------------------------------------------------------

    def act(self, name: str, **arguments: Any) -> None:
        """Run action `name` (a Python action, or the engine's: an action-call goes out)."""
        self._do(self._host.run_action, self.id, name, arguments)

    def remember(self, text: str) -> None:
        """A note in this NPC's memory of this player; later prompts see it."""
        if not self._abandoned():
            self._host.remember(self.id, str(text))

    def relationship(self, key: str, delta: int) -> int:
        """Add `delta` to a relationship value with this player (-100..100); the new value."""
        if self._abandoned():
            return self.relationship_value(key)
        return self._host.change_relationship(self.id, key, int(delta))

    def relationship_value(self, key: str) -> int:
        return self._host.relationship_value(self.id, key)

    def steer(self, **attributes: int) -> None:
        """Change this conversation's SteerLM attributes (each 0-4) from the next line."""
        check_steer(attributes)
        self._do(self._host.set_steer, self.id, dict(attributes))

    def listen(self, on: bool) -> None:
        """Start (True) or stop (False) hearing the player's audio."""
        self._do(self._host.set_listening, bool(on))

    # -- plumbing ------------------------------------------------------------------------

    def _abandoned(self) -> bool:
        run = current.get()
        return run is not None and run.abandoned

    def _do(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call `fn` on the event loop: now if this is its thread, else as soon as it can."""
        if self._abandoned():
            log.info("%s: a call from a hook that timed out is ignored", self.id)
            return
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)
