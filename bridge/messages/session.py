"""Conversations: opening and closing a session of one or more NPCs and players."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.errors import BAD_FIELD, ProtocolError
from bridge.messages.base import IN, OUT, SessionMessage, register
from bridge.messages.limits import check_rate, check_session_id, check_steer


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOpen(SessionMessage):
    """Engine -> brain: start a conversation between `player` and the NPC `npc`."""

    TYPE = "session-open"
    DIRECTION = IN
    CONTROL = True
    npc: str  # NPC id, one of `welcome.npcs`; "" for the default (first) NPC
    player: str  # the engine's player id
    audio_out_rate: int = 24000  # Hz of the NPC audio the engine wants back
    # Engine-declared actions in OpenAI tools form: {"type": "function", "function":
    # {"name", "description", "parameters": JSON Schema}}.
    actions: list[dict[str, Any]] = field(default_factory=list)
    steer: dict[str, int] = field(default_factory=dict)  # initial SteerLM attributes, 0-4
    # A group session: the other NPCs taking part (`npc` is the first and the default
    # addressee) and the other players in it (`player` is the first).
    npcs: list[str] = field(default_factory=list)
    players: list[str] = field(default_factory=list)

    def check(self) -> None:
        check_session_id(self.session)
        for pid in self.players:
            if not pid:
                raise ProtocolError("players[] ids must not be empty", code=BAD_FIELD)
        check_rate(self.audio_out_rate, "audio_out_rate")
        check_steer(self.steer)
        for i, tool in enumerate(self.actions):
            fn = tool.get("function")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise ProtocolError(
                    f"actions[{i}] must be {{'type': 'function', 'function': "
                    "{'name': str, 'parameters': {...}}}",
                    code=BAD_FIELD,
                )


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOpened(SessionMessage):
    """Brain -> engine: the session is open; the NPC it talks to and its audio format."""

    TYPE = "session-opened"
    DIRECTION = OUT
    CONTROL = True
    npc: str
    npc_name: str
    player: str
    audio_out_rate: int  # Hz of every `npc-audio` chunk in this session
    actions: list[str]  # names of every action the NPC may call in this session
    npcs: list[str] = field(default_factory=list)  # every NPC in the session, `npc` first
    players: list[str] = field(default_factory=list)  # every player in it, `player` first


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClose(SessionMessage):
    """Engine -> brain: end the conversation; in-flight replies are cancelled."""

    TYPE = "session-close"
    DIRECTION = IN
    CONTROL = True


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClosed(SessionMessage):
    """Brain -> engine: the session is closed; no message for it follows."""

    TYPE = "session-closed"
    DIRECTION = OUT
    CONTROL = True
    reason: str  # "closed", "bye", "heartbeat-timeout", "shutdown", "error"
