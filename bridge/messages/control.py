"""Connection control: handshake, heartbeats, errors, goodbye."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.errors import BridgeError
from bridge.messages.base import BOTH, IN, OUT, Message, register


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Hello(Message):
    """Engine -> brain, first message on a connection: the protocol version it speaks."""

    TYPE = "hello"
    DIRECTION = IN
    CONTROL = True
    protocol: int
    client: str = ""  # free text, e.g. "MyGame/1.2 UnrealPlugin/0.1"
    capabilities: list[str] = field(default_factory=list)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Welcome(Message):
    """Brain -> engine, reply to `hello`: version, NPCs on offer, limits and timers."""

    TYPE = "welcome"
    DIRECTION = OUT
    CONTROL = True
    protocol: int
    server: str
    capabilities: list[str]
    npcs: list[str]  # NPC ids a `session-open` may name; the first is the default
    sample_rates: list[int]  # accepted player audio rates, Hz
    heartbeat_ms: int  # send something at least this often
    timeout_ms: int  # silent this long and the connection's sessions are closed
    limits: dict[str, int]  # see docs/PROTOCOL.md "Limits"


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(Message):
    """Either way: keeps the connection alive; the brain echoes an engine's heartbeat back."""

    TYPE = "heartbeat"
    DIRECTION = BOTH
    CONTROL = True
    time: float = 0.0  # sender's clock, seconds; echoed unchanged


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Bye(Message):
    """Engine -> brain: the engine is leaving; all its sessions close now."""

    TYPE = "bye"
    DIRECTION = IN
    CONTROL = True


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Error(Message):
    """Brain -> engine: something went wrong; `code` is stable, `reason` is for people."""

    TYPE = "error"
    DIRECTION = OUT
    CONTROL = True
    code: str
    reason: str
    session: str | None = None  # the session concerned, if any
    ref_seq: int | None = None  # `seq` of the engine message that caused it, if any
    stage: str = ""  # the pipeline stage that failed ("" for the bridge itself)
    fatal: bool = False  # true: `session` is closed; `session-closed` (reason "error") follows
    retryable: bool = False  # true: the same request may succeed later

    @classmethod
    def of(cls, e: BridgeError, *, session: str | None = None, stage: str = "") -> Error:
        """The `error` message that tells the engine about `e`."""
        return cls(
            code=e.code,
            reason=e.reason,
            session=e.session or session,
            ref_seq=e.ref_seq,
            stage=stage or getattr(e, "stage", ""),
            fatal=e.fatal,
            retryable=e.retryable,
        )
