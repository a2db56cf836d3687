"""What an engine does with a reply: assemble NPC audio, play it on a clock, sample the face."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bridge.messages import (
    ActionCall,
    DialogueDelta,
    DialogueFinal,
    Emotion,
    Error,
    FaceFrames,
    FaceHeader,
    Interrupted,
    Message,
    NpcAudio,
    Transcript,
    TurnEnd,
    TurnStart,
)


@dataclass
class Turn:
    """Everything one NPC turn sent, in arrival order, with audio and face assembled."""

    number: int
    messages: list[Message] = field(default_factory=list)
    sample_rate: int = 0
    channels: list[str] = field(default_factory=list)
    fps: float = 0.0
    start: TurnStart | None = None  # whose turn: the NPC speaking, the player, the cause
    end: TurnEnd | None = None
    _audio: bytearray = field(default_factory=bytearray)
    _times: list[np.ndarray] = field(default_factory=list)
    _weights: list[np.ndarray] = field(default_factory=list)

    def add(self, msg: Message) -> None:
        self.messages.append(msg)
        if isinstance(msg, NpcAudio):
            self.sample_rate = msg.sample_rate
            offset = 2 * msg.start_sample
            if offset > len(self._audio):  # a gap: silence, so positions stay true
                self._audio.extend(bytes(offset - len(self._audio)))
            self._audio[offset : offset + len(msg.pcm)] = msg.pcm
        elif isinstance(msg, FaceHeader):
            self.channels, self.fps = list(msg.channels), msg.fps
            self.sample_rate = self.sample_rate or msg.sample_rate
        elif isinstance(msg, FaceFrames) and msg.count:
            self._times.append(np.frombuffer(msg.times, dtype="<i8"))
            self._weights.append(np.frombuffer(msg.weights, dtype="<f4").reshape(msg.count, -1))
        elif isinstance(msg, TurnStart):
            self.start = msg
        elif isinstance(msg, TurnEnd):
            self.end = msg

    @property
    def npc(self) -> str:
        """The NPC whose voice, face and words this turn carries ("" before turn-start)."""
        return self.start.npc if self.start is not None else ""

    @property
    def player(self) -> str:
        """The player the turn answers or speaks to ("" in a banter)."""
        return self.start.player if self.start is not None else ""

    @property
    def text(self) -> str:
        finals = [m.text for m in self.messages if isinstance(m, DialogueFinal)]
        if finals:
            return finals[-1]
        return "".join(m.text for m in self.messages if isinstance(m, DialogueDelta))

    @property
    def transcript(self) -> str:
        ts = [m for m in self.messages if isinstance(m, Transcript)]
        return ts[-1].text if ts else ""

    @property
    def audio(self) -> bytes:
        """The NPC's voice for this turn, mono PCM16 LE at `sample_rate`."""
        return bytes(self._audio)

    @property
    def face_times(self) -> np.ndarray:
        return np.concatenate(self._times) if self._times else np.zeros(0, "<i8")

    @property
    def face_weights(self) -> np.ndarray:
        if not self._weights:
            return np.zeros((0, len(self.channels)), "<f4")
        return np.concatenate(self._weights)

    def of(self, kind: type[Message]) -> list[Message]:
        return [m for m in self.messages if isinstance(m, kind)]

    @property
    def actions(self) -> list[ActionCall]:
        return [m for m in self.messages if isinstance(m, ActionCall)]

    @property
    def errors(self) -> list[Error]:
        return [m for m in self.messages if isinstance(m, Error)]

    @property
    def emotions(self) -> list[Emotion]:
        return [m for m in self.messages if isinstance(m, Emotion)]

    @property
    def interrupted(self) -> Interrupted | None:
        hits = [m for m in self.messages if isinstance(m, Interrupted)]
        return hits[-1] if hits else None

    def face_at(self, sample: int) -> np.ndarray:
        """Blendshape weights at a playback position: the last frame at or before it."""
        times = self.face_times
        if not len(times):
            return np.zeros(len(self.channels), "<f4")
        i = max(0, bisect.bisect_right(times.tolist(), sample) - 1)
        row: np.ndarray = self.face_weights[i]
        return row


class Playback:
    """Plays a turn's audio on a clock, as an engine's audio device would.

    `clock` returns seconds (time.monotonic by default; tests pass a virtual clock).
    The playback position, in samples, is what the renderer samples face frames at.
    """

    def __init__(self, turn: Turn, clock: Callable[[], float] = time.monotonic) -> None:
        self.turn = turn
        self.clock = clock
        self.started = clock()

    def position(self) -> int:
        """Samples played so far, never past the audio received."""
        played = int((self.clock() - self.started) * self.turn.sample_rate)
        return min(played, len(self.turn.audio) // 2)

    def face(self) -> np.ndarray:
        weights: np.ndarray = self.turn.face_at(self.position())
        return weights

    def finished(self) -> bool:
        return self.position() >= len(self.turn.audio) // 2
