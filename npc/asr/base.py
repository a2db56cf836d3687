"""The speech recognition backend interface: a stream per utterance, partials and a final."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class AsrCapabilities:
    """What a recogniser takes and gives."""

    sample_rate: int = 16000  # Hz of the float32 audio it is fed
    streaming: bool = True  # gives partials while audio arrives
    hints: bool = True  # uses vocabulary hints


@dataclass(frozen=True, slots=True)
class Hints:
    """Words recognition should favour: NPC names, places, items (from persona and lore)."""

    vocabulary: list[str] = field(default_factory=list)


class AsrStream(abc.ABC):
    """One utterance being recognised. Blocking methods run in a worker thread."""

    @abc.abstractmethod
    def feed(self, audio: np.ndarray) -> None:
        """Append float32 audio (-1..1) at the backend's sample rate. Cheap; never decodes."""

    @abc.abstractmethod
    def partial(self) -> str:
        """Blocking: the best transcript of the audio so far (may change later)."""

    @abc.abstractmethod
    def final(self) -> str:
        """Blocking: the transcript of everything fed so far, as final as it gets.

        Work already done for partials is reused, so this does not re-decode a long
        utterance from the start. Feeding more audio afterwards continues the utterance.
        """

    def stop_partial(self) -> None:
        """Called from any thread: a partial in flight may stop early, its result then
        the transcript before it (the player paused and the final is wanted now). A
        backend that cannot stop one lets it finish."""

    def close(self) -> None:
        """Release what the stream holds (a server call, buffers)."""


class Asr(abc.ABC):
    """A loaded recogniser; one per process, shared by every session's streams."""

    name = "asr"
    capabilities = AsrCapabilities()

    @abc.abstractmethod
    def open_stream(self, hints: Hints) -> AsrStream:
        """Start recognising one utterance."""
