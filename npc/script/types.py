"""What scripts see: game events, goal triggers (Event, Intent, Idle), fired triggers and turns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """A game event, as hooks get it; also a goal trigger: `Event("mech-damaged")`.

    As a trigger, `where` (a function of the event, true to fire) filters further.
    """

    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    where: Callable[[Event], bool] | None = field(default=None, compare=False, repr=False)
    session: str | None = None  # the session the engine addressed, if any
    npcs: tuple[str, ...] = ()  # NPC ids concerned (empty: all)
    players: tuple[str, ...] = ()  # player ids concerned (empty: all)


@dataclass(frozen=True, slots=True, init=False)
class Intent:
    """A goal trigger: the player's line means one of `phrases` ("asks about the reactor").

    `threshold` overrides the brain's `[scripts] intent_threshold` for this goal.
    """

    phrases: tuple[str, ...]
    threshold: float | None

    def __init__(self, *phrases: str, threshold: float | None = None) -> None:
        if not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise ValueError("Intent needs at least one phrase (non-empty strings)")
        object.__setattr__(self, "phrases", tuple(p.strip() for p in phrases))
        object.__setattr__(self, "threshold", threshold)


@dataclass(frozen=True, slots=True)
class Idle:
    """A goal trigger: nobody in the conversation has spoken for `after_s` seconds."""

    after_s: float

    def __post_init__(self) -> None:
        if not self.after_s > 0:
            raise ValueError(f"Idle(after_s=...) must be > 0, got {self.after_s!r}")


When = Event | Intent | Idle


@dataclass(frozen=True, slots=True)
class Trigger:
    """Why a goal fired: `kind` "event" | "intent" | "idle"; the event or the player's line."""

    kind: str
    goal: str
    event: Event | None = None
    text: str = ""  # the player's line (intent), "" otherwise
    score: float = 0.0  # how well the line matched the intent (0-1)

    @property
    def payload(self) -> dict[str, Any]:
        return self.event.payload if self.event is not None else {}


@dataclass
class Turn:
    """One NPC turn as turn hooks see and change it.

    before_turn: `text` (what the NPC hears; change it), `facts` (lines added to what the
    NPC knows this turn), `answer(line)` (say this instead of generating a reply).
    after_turn: also `say`, `emotion`, `action` and `arguments` of the reply;
    `veto_action(reason)` stops its action; `veto(say=...)` (hold=True hooks only) replaces
    the line before anyone hears it.
    """

    npc: str
    player: str
    text: str
    facts: list[str] = field(default_factory=list)
    say: str = ""
    emotion: str = ""
    action: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    fixed: str | None = None  # set by answer()
    fixed_emotion: str | None = None
    vetoed: str | None = None  # why the action was vetoed
    replacement: str | None = None  # set by veto(say=...)

    def answer(self, line: str, emotion: str | None = None) -> None:
        """Say `line` as this turn's reply; no reply is generated."""
        self.fixed, self.fixed_emotion = line, emotion

    def veto_action(self, reason: str = "vetoed by a script") -> None:
        """The reply's action never runs (the engine never gets its action-call)."""
        self.vetoed = reason or "vetoed by a script"

    def veto(self, say: str | None = None, reason: str = "vetoed by a script") -> None:
        """Stop the action and, in a hold=True hook, replace the line with `say`."""
        self.veto_action(reason)
        if say is not None:
            self.replacement = say
