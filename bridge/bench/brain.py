"""BenchBrain: measurement scaffolding behind the real seam; replies to or counts audio."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bridge.messages import (
    AudioChunk,
    AudioEnd,
    GameEvent,
    SessionMessage,
    TextInput,
    Transcript,
)
from bridge.seam import Brain, Conversation, Opened, Outbox, SessionInfo

ECHO, COUNT = "echo", "count"


@dataclass(slots=True)
class IngestStats:
    """What a counting server saw: chunks, and when the first and last were processed."""

    chunks: int = 0
    ends: int = 0
    first_ns: int = 0  # perf_counter_ns at the first audio chunk; 0 before any
    last_ns: int = 0  # perf_counter_ns at the latest audio-end processed

    def chunk(self) -> None:
        if not self.chunks:
            self.first_ns = time.perf_counter_ns()
        self.chunks += 1

    def end(self) -> None:
        self.ends += 1
        self.last_ns = time.perf_counter_ns()

    def as_dict(self) -> dict[str, int]:
        return {
            "chunks": self.chunks,
            "ends": self.ends,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
        }


class BenchBrain(Brain):
    """A brain for `npc-bridge bench bridge` only; in ECHO mode each message gets one reply,
    in COUNT mode audio chunks are counted and only `audio-end` is answered."""

    name = "bench"

    def __init__(self, mode: str) -> None:
        if mode not in (ECHO, COUNT):
            raise ValueError(f"mode must be {ECHO!r} or {COUNT!r}, got {mode!r}")
        self.mode = mode
        self.stats = IngestStats()

    def npcs(self) -> list[str]:
        return ["bench"]

    def open(self, info: SessionInfo, out: Outbox) -> Opened:
        return Opened(BenchConversation(info.session, out, self), "bench", "Bench", [])


class BenchConversation(Conversation):
    """Replies synchronously from `receive`, so the reply is on the wire before the next read."""

    def __init__(self, session: str, out: Outbox, brain: BenchBrain) -> None:
        self._session = session
        self._out = out
        self._stats = brain.stats
        self._echo = brain.mode == ECHO
        self._count = 0

    def receive(self, msg: SessionMessage | GameEvent) -> None:
        if isinstance(msg, AudioChunk):
            self._count += 1
            if self._echo:
                self._out.send(Transcript(session=self._session, turn=1, text="", final=False))
            else:
                self._stats.chunk()
        elif isinstance(msg, AudioEnd):
            self._stats.end()
            self._out.send(
                Transcript(session=self._session, turn=1, text=str(self._count), final=True)
            )
        elif isinstance(msg, TextInput):
            self._out.send(Transcript(session=self._session, turn=1, text=msg.text, final=True))

    async def close(self) -> None:
        """Nothing in flight: replies are sent from `receive`."""
