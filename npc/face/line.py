"""A spoken line and its face: synthesised clause by clause through npc.tts, then animated."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from npc.face.animator import FaceAnimator
from npc.tts.base import Tts, Voice, speak


@dataclass(slots=True)
class Line:
    """Audio, phones (samples from the line's start) and face frames of one spoken line."""

    pcm: np.ndarray  # int16
    rate: int  # Hz
    phones: list[tuple[str, int, int]]  # (symbol, start, end) in samples
    times: np.ndarray  # int64 [n] samples
    weights: np.ndarray  # float32 [n, len(channels)]
    channels: list[str] = field(default_factory=list)


def animate_line(
    tts: Tts, text: str, voice: Voice | None = None, rate: int = 22050, fps: int = 60,
    emotion: str = "neutral", intensity: float = 0.0, seed: int = 0,
) -> Line:  # fmt: skip
    """Speak `text` at `rate` and animate it, feeding the animator one clip at a time."""
    face = FaceAnimator(rate, fps, seed)
    face.set_emotion(emotion, intensity)
    pcm: list[np.ndarray] = []
    phones: list[tuple[str, int, int]] = []
    times: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    at = 0
    for clip in speak(tts, text, voice or Voice(), rate):
        phones += [(p.symbol, at + p.start, at + p.end) for p in clip.phones]
        t, w = face.feed(clip.pcm, clip.phones)
        pcm.append(clip.pcm)
        times.append(t)
        weights.append(w)
        at += len(clip.pcm)
    t, w = face.finish()
    return Line(
        np.concatenate(pcm) if pcm else np.zeros(0, np.int16), rate, phones,
        np.concatenate([*times, t]), np.concatenate([*weights, w]), face.channels,
    )  # fmt: skip
