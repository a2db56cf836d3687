"""The game talks to the brain: world events and run-time SteerLM steering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.messages.base import IN, Message, SessionMessage, register
from bridge.messages.limits import check_steer


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class GameEvent(Message):
    """Engine -> brain: something happened in the world (a player came near, a mech broke)."""

    TYPE = "game-event"
    DIRECTION = IN
    name: str  # e.g. "player-entered", "mech-damaged"
    payload: dict[str, Any] = field(default_factory=dict)
    session: str | None = None  # deliver to this session only
    npcs: list[str] = field(default_factory=list)  # NPC ids concerned; empty: all
    players: list[str] = field(default_factory=list)  # player ids concerned; empty: all


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Steer(SessionMessage):
    """Engine -> brain: set SteerLM attributes (0-4) for the session from the next turn."""

    TYPE = "steer"
    DIRECTION = IN
    CONTROL = True
    attributes: dict[str, int]

    def check(self) -> None:
        check_steer(self.attributes)
