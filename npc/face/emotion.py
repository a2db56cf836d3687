"""Emotion: brows, eyes, cheeks and mouth corners per mood, eased in over time."""

from __future__ import annotations

import numpy as np

from npc.face.arkit import ARKIT_BLENDSHAPES, INDEX

EMOTIONS: tuple[str, ...] = ("neutral", "joy", "anger", "sadness", "fear", "surprise", "disgust")
EASE_S = 0.3  # a new emotion blends in over this long (smoothstep)


def _lr(name: str, w: float) -> dict[str, float]:
    return {f"{name}Left": w, f"{name}Right": w}


# Each emotion at full intensity (FACS-like: joy = AU6+12, anger = AU4+5/7+23, sadness =
# AU1+4+15, fear = AU1+2+4+5+20, surprise = AU1+2+5+26, disgust = AU9+10+15).
_FACES: dict[str, dict[str, float]] = {
    "neutral": {},
    "joy": {**_lr("mouthSmile", 0.7), **_lr("cheekSquint", 0.5), **_lr("eyeSquint", 0.3),
            **_lr("mouthDimple", 0.2), **_lr("browOuterUp", 0.1)},
    "anger": {**_lr("browDown", 0.8), **_lr("eyeSquint", 0.35), **_lr("noseSneer", 0.3),
              **_lr("mouthPress", 0.3), **_lr("mouthFrown", 0.25), "jawForward": 0.1},
    "sadness": {"browInnerUp": 0.7, **_lr("mouthFrown", 0.55), **_lr("eyeSquint", 0.15),
                **_lr("eyeLookDown", 0.15), "mouthShrugLower": 0.3, **_lr("browDown", 0.1)},
    "fear": {"browInnerUp": 0.75, **_lr("browOuterUp", 0.4), **_lr("eyeWide", 0.6),
             **_lr("mouthStretch", 0.35), **_lr("browDown", 0.15)},
    "surprise": {"browInnerUp": 0.6, **_lr("browOuterUp", 0.7), **_lr("eyeWide", 0.7),
                 "jawOpen": 0.12},
    "disgust": {**_lr("noseSneer", 0.7), **_lr("mouthUpperUp", 0.4), **_lr("browDown", 0.4),
                **_lr("eyeSquint", 0.3), **_lr("mouthFrown", 0.2), **_lr("cheekSquint", 0.3)},
}  # fmt: skip
FACES = np.zeros((len(EMOTIONS), len(ARKIT_BLENDSHAPES)), dtype=np.float32)
for _i, _e in enumerate(EMOTIONS):
    for _name, _w in _FACES[_e].items():
        FACES[_i, INDEX[_name]] = _w

# Mouth channels of an emotion that speech overrides where the lips are busy (a pucker or
# a bilabial wins over a smile).
YIELDS_TO_SPEECH = np.array(
    [INDEX[n] for n in ARKIT_BLENDSHAPES
     if n.startswith(("mouthSmile", "mouthFrown", "mouthDimple", "mouthStretch", "mouthPress",
                      "mouthUpperUp", "mouthShrug"))],
    dtype=np.intp,
)  # fmt: skip


def emotion_face(emotion: str, intensity: float) -> np.ndarray:
    """ARKit weights [52] of one emotion at an intensity 0..1; ValueError names the bad value."""
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; one of {', '.join(EMOTIONS)}")
    if not 0.0 <= intensity <= 1.0:
        raise ValueError(f"emotion intensity {intensity} is outside 0..1")
    face: np.ndarray = FACES[EMOTIONS.index(emotion)] * np.float32(intensity)
    return face


class EmotionTrack:
    """The emotion face over a timeline: each change eases from the face it interrupts."""

    def __init__(self, rate: int) -> None:
        self._ease = max(1, round(EASE_S * rate))
        # (start sample, face before, face after), newest last; only the newest matters
        # from its start on, so older ones are dropped once a frame past it is rendered.
        self._changes: list[tuple[int, np.ndarray, np.ndarray]] = []

    def set(self, at: int, face: np.ndarray) -> None:
        """From sample `at` on, ease toward `face` from wherever the face is at that time."""
        before = self.at(np.array([at], np.int64))[0]
        self._changes = [c for c in self._changes if c[0] < at]
        self._changes.append((at, before, face.astype(np.float32)))

    def at(self, times: np.ndarray) -> np.ndarray:
        """Emotion weights [n, 52] at sample times (ascending)."""
        out = np.zeros((len(times), len(ARKIT_BLENDSHAPES)), np.float32)
        for start, before, after in self._changes:
            on = times >= start
            x = np.clip((times[on] - start) / self._ease, 0.0, 1.0)
            s = (x * x * (3.0 - 2.0 * x)).astype(np.float32)[:, None]
            out[on] = before[None, :] + (after - before)[None, :] * s
        return out

    def forget_before(self, at: int) -> None:
        """Drop changes overridden by a later one that starts at or before `at`."""
        while len(self._changes) > 1 and self._changes[1][0] <= at:
            self._changes.pop(0)
