"""Facial animation out: a header naming the blendshape channels, then frame batches."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge import errors
from bridge.errors import ProtocolError
from bridge.messages.base import OUT, SessionMessage, register


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class FaceHeader(SessionMessage):
    """Brain -> engine, once per turn before any frames: channel names and frame rate."""

    TYPE = "face-header"
    DIRECTION = OUT
    turn: int
    channels: list[str]  # blendshape names (ARKit 52 in canonical order by default)
    fps: float  # nominal frames per second (60 or 30)
    sample_rate: int  # Hz of the audio timeline that frame times count in


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class FaceFrames(SessionMessage):
    """Brain -> engine: `count` frames; times and weights are raw little-endian arrays."""

    TYPE = "face-frames"
    DIRECTION = OUT
    FRAMES = ("times", "weights")
    turn: int
    count: int
    times: bytes = field(
        default=b"", repr=False
    )  # frame 1: int64[count], NPC audio sample position of each frame
    weights: bytes = field(
        default=b"", repr=False
    )  # frame 2: float32[count * channels], row-major, 0.0-1.0

    def check(self) -> None:
        if self.count < 0 or len(self.times) != 8 * self.count:
            raise ProtocolError(
                f"face-frames times must be {self.count} int64 values", code=errors.BAD_FIELD
            )
        if self.count and len(self.weights) % (4 * self.count):
            raise ProtocolError(
                "face-frames weights must be count x channels float32 values",
                code=errors.BAD_FIELD,
            )
