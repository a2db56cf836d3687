"""Where the brain plugs into the bridge: the Brain, Conversation and Outbox interfaces."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.messages import GameEvent, Message, SessionMessage


class Outbox(Protocol):
    """Sends messages to one session's engine. Call from the server's event loop only."""

    def send(self, msg: Message) -> None:
        """Queue `msg` for the engine; never blocks. Messages keep their order."""

    def send_threadsafe(self, msg: Message) -> None:
        """Like `send`, from a worker thread (inference runs there)."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What the engine asked for at `session-open`, plus which connection asked."""

    session: str
    npc: str  # "" means the brain's default NPC
    player: str
    audio_out_rate: int  # Hz
    actions: list[dict[str, Any]] = field(default_factory=list)  # OpenAI tools form
    steer: dict[str, int] = field(default_factory=dict)
    peer: str = ""  # the connection's id (hex of the ZeroMQ identity), for logs
    npcs: list[str] = field(default_factory=list)  # a group session's other NPCs, as sent
    players: list[str] = field(default_factory=list)  # and its other players, as sent

    @property
    def all_players(self) -> list[str]:
        """Every player in the session, `player` first, each once."""
        return list(dict.fromkeys([self.player, *self.players]))


@dataclass(frozen=True, slots=True)
class Opened:
    """What the brain answers to an open: the conversation and what goes in `session-opened`."""

    conversation: Conversation
    npc: str
    npc_name: str
    actions: list[str]
    npcs: list[str] = field(default_factory=list)  # every NPC in the session, `npc` first


class Conversation(abc.ABC):
    """One session's handler in the brain."""

    @abc.abstractmethod
    def receive(self, msg: SessionMessage | GameEvent) -> None:
        """Take an engine message for this session. Must not block: start work as tasks.

        Raise a BridgeError (or any exception) and the engine gets an `error` reply;
        the session stays open unless the error is fatal.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Cancel everything in flight and free the session's resources."""


class Brain(abc.ABC):
    """The NPC brain behind the bridge: it opens conversations and hears world events."""

    name = "brain"

    @abc.abstractmethod
    def npcs(self) -> list[str]:
        """NPC ids a session may open, default first."""

    def capabilities(self) -> list[str]:
        """Feature names sent in `welcome` (e.g. "asr", "tts", "face")."""
        return []

    @abc.abstractmethod
    def open(self, info: SessionInfo, out: Outbox) -> Opened:
        """Open a conversation; raise BridgeError (code "unknown-npc", ...) to refuse."""

    def event(self, msg: GameEvent) -> None:
        """A game event not addressed to one session."""

    async def start(self) -> None:
        """Load models and files before the server accepts connections."""

    async def stop(self) -> None:
        """Release models and files after the last session closed."""
