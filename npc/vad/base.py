"""The VAD backend interface: speech probability for each fixed-size frame of 16 kHz audio."""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class VadCapabilities:
    """What a VAD takes: frames of `frame_samples` samples at `sample_rate` Hz."""

    sample_rate: int
    frame_samples: int


class Vad(abc.ABC):
    """One stream's voice activity detector; it keeps state between frames."""

    capabilities: VadCapabilities

    @abc.abstractmethod
    def probability(self, frame: np.ndarray) -> float:
        """Speech probability 0-1 of one frame (float32 -1..1, exactly frame_samples long)."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget the stream so far (a new utterance on a fresh stream)."""
