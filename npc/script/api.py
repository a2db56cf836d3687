"""The decorators scripts use (on_event, before_turn, after_turn, goal) and what they register.

A script file is run by the loader inside `collecting()`; each decorator adds its hook or
goal to the file being collected, with the `file:line` it was defined at (for reports).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from npc.script.types import Event, Idle, Intent, When

F = TypeVar("F", bound=Callable[..., Any])
EventFilter = Callable[[Event], bool]

EVENT, BEFORE, AFTER = "on_event", "before_turn", "after_turn"


@dataclass(frozen=True, slots=True)
class Hook:
    """A designer function the brain calls: on a game event, before or after a turn."""

    kind: str  # EVENT | BEFORE | AFTER
    fn: Callable[..., Any]
    npcs: frozenset[str] | None  # None: every NPC
    source: str  # "file:line" of the definition
    event: str = ""  # on_event: the event's name ("*": any)
    where: EventFilter | None = None
    hold: bool = False  # after_turn: the NPC's line waits for the hook

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", "hook")

    def concerns(self, npc: str) -> bool:
        return self.npcs is None or npc in self.npcs


@dataclass(frozen=True, slots=True)
class Goal:
    """Something an NPC does when its trigger fires: a line, a prompted line or a function."""

    name: str
    npcs: frozenset[str] | None
    when: When
    source: str
    say: tuple[str, ...] = ()
    prompt: str = ""
    fn: Callable[..., Any] | None = None
    once: bool = False
    cooldown_s: float = 0.0
    enabled: bool = True

    def concerns(self, npc: str) -> bool:
        return self.npcs is None or npc in self.npcs


@dataclass
class Collected:
    """What one script file registered."""

    hooks: list[Hook] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)


_lock = threading.RLock()
_current: list[Collected] = []


@contextmanager
def collecting() -> Iterator[Collected]:
    """Decorators used inside this block (a script file running) register here."""
    with _lock:
        found = Collected()
        _current.append(found)
        try:
            yield found
        finally:
            _current.pop()


def _target() -> Collected:
    if not _current:
        raise RuntimeError(
            "script decorators register while the brain loads a file in scripts_dir; "
            "use npc.script.api.collecting() to load one yourself"
        )
    return _current[-1]


def _npcs(npc: str | Iterable[str] | None) -> frozenset[str] | None:
    if npc is None:
        return None
    return frozenset([npc] if isinstance(npc, str) else npc)


def _source(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else repr(fn)


def on_event(
    name: str = "*", *, npc: str | Iterable[str] | None = None, where: EventFilter | None = None
) -> Callable[[F], F]:
    """Call the function (npc: Npc, event: Event) when game event `name` ("*": any) reaches
    a conversation with `npc` (None: every NPC) and `where(event)` is true."""

    def mark(fn: F) -> F:
        _target().hooks.append(Hook(EVENT, fn, _npcs(npc), _source(fn), name, where))
        return fn

    return mark


def before_turn(*, npc: str | Iterable[str] | None = None) -> Callable[[F], F]:
    """Call the function (npc: Npc, turn: Turn) before the NPC answers each player line."""

    def mark(fn: F) -> F:
        _target().hooks.append(Hook(BEFORE, fn, _npcs(npc), _source(fn)))
        return fn

    return mark


def after_turn(*, npc: str | Iterable[str] | None = None, hold: bool = False) -> Callable[[F], F]:
    """Call the function (npc: Npc, turn: Turn) on the complete reply, before its action.

    hold=True: the NPC's line is held (not streamed) until the hook returns, so
    `turn.veto(say=...)` can replace it; the player hears nothing until then.
    """

    def mark(fn: F) -> F:
        _target().hooks.append(Hook(AFTER, fn, _npcs(npc), _source(fn), hold=hold))
        return fn

    return mark


@overload
def goal(
    name: str,
    *,
    npc: str | Iterable[str] | None = None,
    when: When,
    once: bool = False,
    cooldown_s: float = 0.0,
    enabled: bool = True,
) -> Callable[[F], F]: ...
@overload
def goal(
    name: str,
    *,
    npc: str | Iterable[str] | None = None,
    when: When,
    say: str | Iterable[str] = (),
    prompt: str = "",
    once: bool = False,
    cooldown_s: float = 0.0,
    enabled: bool = True,
) -> Goal: ...
def goal(
    name: str,
    *,
    npc: str | Iterable[str] | None = None,
    when: When,
    say: str | Iterable[str] = (),
    prompt: str = "",
    once: bool = False,
    cooldown_s: float = 0.0,
    enabled: bool = True,
) -> Goal | Callable[[F], F]:
    """A goal: when `when` fires, say one of `say`, or a line following `prompt`, or (used
    as a decorator) call the function (npc: Npc, trigger: Trigger). `once`: only the first
    time per player; `cooldown_s`: not again sooner; `enabled=False`: off until enabled."""
    if not isinstance(when, Event | Intent | Idle):
        raise TypeError(f"goal '{name}': when= must be Event(...), Intent(...) or Idle(...)")
    if cooldown_s < 0:
        raise ValueError(f"goal '{name}': cooldown_s must be >= 0")
    lines = (say,) if isinstance(say, str) else tuple(say)
    caller = sys._getframe(1)
    where = f"{caller.f_code.co_filename}:{caller.f_lineno}"
    made = Goal(name, _npcs(npc), when, where, lines, prompt, None, once, cooldown_s, enabled)
    if lines or prompt:
        _target().goals.append(made)
        return made

    def mark(fn: F) -> F:
        _target().goals.append(
            Goal(name, made.npcs, when, _source(fn), (), "", fn, once, cooldown_s, enabled)
        )
        return fn

    return mark
