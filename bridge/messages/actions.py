"""Game actions: the NPC asks the engine to do something, the engine says how it went."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.messages.base import IN, OUT, SessionMessage, register


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ActionCall(SessionMessage):
    """Brain -> engine: run an engine-declared action; answer with `action-result`."""

    TYPE = "action-call"
    DIRECTION = OUT
    CONTROL = True
    turn: int
    call_id: str  # unique in the session; echo it in the result
    name: str  # one of the actions declared at `session-open`
    arguments: dict[str, Any] = field(default_factory=dict)  # valid for its JSON Schema


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResult(SessionMessage):
    """Engine -> brain: the outcome of an `action-call`; never dropped, even on barge-in."""

    TYPE = "action-result"
    DIRECTION = IN
    CONTROL = True
    call_id: str
    ok: bool
    result: Any = None  # anything msgpack carries: what the action produced
    error: str = ""  # why it failed, in words the NPC may repeat
