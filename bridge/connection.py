"""Per-engine connection state: handshake, sequence numbers, rate budget, sessions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bridge import errors
from bridge.codec import peek
from bridge.config import Limits
from bridge.errors import ProtocolError
from bridge.seam import Conversation

# How many closed session ids a connection remembers, to say "closed" rather than "unknown".
CLOSED_MEMORY = 256


@dataclass(slots=True)
class Connection:
    """One engine (one ZeroMQ DEALER identity) and everything the server tracks for it."""

    identity: bytes
    limits: Limits
    last_seen: float = field(default_factory=time.monotonic)
    handshaken: bool = False
    last_seq: int = -1
    out_seq: int = 0
    sessions: dict[str, Conversation] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    tokens: float = 0.0
    refilled: float = field(default_factory=time.monotonic)
    rate_warned: float = 0.0
    dropped: int = 0  # messages dropped by the rate limit

    def __post_init__(self) -> None:
        self.tokens = float(self.limits.burst)

    @property
    def peer(self) -> str:
        return self.identity.hex()

    def next_out_seq(self) -> int:
        self.out_seq += 1
        return self.out_seq

    def take_token(self, now: float) -> bool:
        """Token bucket: True if this message is within the connection's rate budget."""
        self.tokens = min(
            float(self.limits.burst), self.tokens + (now - self.refilled) * self.limits.rate_per_s
        )
        self.refilled = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.dropped += 1
        return False

    def check_sizes(self, frames: list[bytes]) -> None:
        """[identity, header, *binary] against the limits, before anything is decoded."""
        limits = self.limits
        if len(frames) - 1 > limits.max_frames:
            raise ProtocolError(f"more than {limits.max_frames} frames", code=errors.TOO_LARGE)
        if len(frames) > 1 and len(frames[1]) > limits.max_header_bytes:
            raise ProtocolError(
                f"header of {len(frames[1])} bytes is over {limits.max_header_bytes}",
                code=errors.TOO_LARGE,
            )
        for frame in frames[2:]:
            if len(frame) > limits.max_frame_bytes:
                e = ProtocolError(
                    f"binary frame of {len(frame)} bytes is over {limits.max_frame_bytes}",
                    code=errors.TOO_LARGE,
                )
                e.ref_seq, e.session = peek(frames[1])
                raise e

    def check_seq(self, seq: int) -> None:
        """Sequence numbers rise strictly per connection; gaps are allowed."""
        if seq == self.last_seq:
            raise ProtocolError(
                f"seq {seq} repeats the previous message's; message ignored",
                code=errors.SEQ_DUPLICATE,
            )
        if seq < self.last_seq:
            raise ProtocolError(
                f"seq {seq} is lower than the previous {self.last_seq}; message ignored",
                code=errors.SEQ_OUT_OF_ORDER,
            )
        self.last_seq = seq

    def conversation(self, session: str) -> Conversation:
        conv = self.sessions.get(session)
        if conv is not None:
            return conv
        if session in self.closed:
            reason = f"session '{session}' is closed"
        else:
            reason = f"no session '{session[:64]}' on this connection; send session-open first"
        raise ProtocolError(reason, code=errors.UNKNOWN_SESSION)

    def forget(self, session: str) -> Conversation | None:
        conv = self.sessions.pop(session, None)
        if conv is not None:
            self.closed.append(session)
            del self.closed[:-CLOSED_MEMORY]
        return conv
