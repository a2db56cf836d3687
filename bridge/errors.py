"""One error hierarchy for the bridge and every stage behind it, with stable wire codes."""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every NPC Bridge error; `code` is the stable string sent on the wire."""

    code = "internal"
    fatal = False
    retryable = False

    def __init__(self, reason: str, *, code: str | None = None, fatal: bool | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code
        if fatal is not None:
            self.fatal = fatal
        # Where known, the message that caused it, for the `error` reply.
        self.ref_seq: int | None = None
        self.session: str | None = None


class ProtocolError(BridgeError):
    """The peer sent something the protocol does not allow; the connection goes on."""

    code = "bad-message"


class BackendError(BridgeError):
    """A stage backend failed (model, server, device); `retryable` for timeouts and outages."""

    code = "backend-failed"

    def __init__(
        self,
        reason: str,
        *,
        code: str | None = None,
        fatal: bool | None = None,
        retryable: bool = False,
        stage: str = "",
    ) -> None:
        super().__init__(reason, code=code, fatal=fatal)
        self.retryable = retryable
        self.stage = stage


class ConfigError(BridgeError):
    """A configuration or designer file is invalid; says which file and why."""

    code = "bad-config"


class DesignerError(ConfigError):
    """A designer file (NPC, lore, action) is broken: which file, which line, and why."""

    def __init__(self, path: object, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {reason}")
        self.path = str(path)
        self.line = line
        self.why = reason


# Stable error codes sent in `error` messages. docs/PROTOCOL.md lists each with its meaning.
BAD_FRAME = "bad-frame"  # a frame is not valid msgpack
BAD_HEADER = "bad-header"  # the header is not a map, or has no string `type`
BAD_FIELD = "bad-field"  # a field is missing, has the wrong type or an invalid value
UNKNOWN_TYPE = "unknown-type"  # no message of that `type` in this protocol version
WRONG_DIRECTION = "wrong-direction"  # a server-to-engine message sent by the engine
UNSUPPORTED_VERSION = "unsupported-version"  # `hello` asked for a protocol we do not speak
NO_HANDSHAKE = "no-handshake"  # a message arrived before `hello`
UNKNOWN_SESSION = "unknown-session"  # no open session by that id (never opened, or closed)
SESSION_EXISTS = "session-exists"  # `session-open` for an id already open
TOO_MANY_SESSIONS = "too-many-sessions"  # the connection's session limit is reached
TOO_MANY_CONNECTIONS = "too-many-connections"  # the server's engine limit is reached
UNKNOWN_NPC = "unknown-npc"  # `session-open` names an NPC the brain does not have
UNKNOWN_PLAYER = "unknown-player"  # a message names a player not in its session
TOO_LARGE = "too-large"  # a frame or the whole message is over its size limit
BAD_AUDIO = "bad-audio"  # PCM payload of odd length or not whole frames
UNSUPPORTED_RATE = "unsupported-rate"  # sample rate not in the accepted list
UNSUPPORTED_CHANNELS = "unsupported-channels"  # channel count other than 1 or 2
SEQ_DUPLICATE = "seq-duplicate"  # `seq` equal to the previous message's
SEQ_OUT_OF_ORDER = "seq-out-of-order"  # `seq` lower than the previous message's
RATE_LIMITED = "rate-limited"  # the connection sends faster than its message budget
UNKNOWN_ACTION = "unknown-action"  # an action result for a call that is not pending
BAD_ACTION = "bad-action"  # a call names an undeclared action or has arguments that are not valid
INTERNAL = "internal"  # a stage failed; `reason` names the exception
