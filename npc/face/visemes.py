"""Phonemes (espeak-ng IPA, as piper and espeak give them) to visemes, and visemes to ARKit."""
# ruff: noqa: RUF001  (IPA symbols are meant)

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from npc.face.arkit import ARKIT_BLENDSHAPES, INDEX


class PhoneLike(Protocol):
    """What the face needs of a phone (npc.tts.base.Phone): symbol and samples in its clip."""

    @property
    def symbol(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


# The 15 visemes of the Oculus / MPEG-4 set, then "neutral": no lip shape, jaw by loudness
# (unknown phonemes, /h/, and the background where no phone is known: audio-driven mode).
VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)  # fmt: skip
NEUTRAL = len(VISEMES)
SIL, PP = 0, 1

_PHONEMES: dict[str, str] = {
    **dict.fromkeys(("p", "b", "m"), "PP"),
    **dict.fromkeys(("f", "v", "ɱ"), "FF"),
    **dict.fromkeys(("θ", "ð"), "TH"),
    **dict.fromkeys(("t", "d", "ɾ", "ʈ", "ɖ"), "DD"),
    **dict.fromkeys(("k", "g", "ɡ", "ŋ", "x", "ç", "ɣ", "q"), "kk"),
    **dict.fromkeys(("ʃ", "ʒ", "tʃ", "dʒ", "ɕ", "ʑ"), "CH"),
    **dict.fromkeys(("s", "z"), "SS"),
    **dict.fromkeys(("n", "l", "ɫ", "ɲ", "ʎ", "ɬ"), "nn"),
    **dict.fromkeys(("ɹ", "r", "ɻ", "ʁ", "ɚ", "ɝ"), "RR"),
    **dict.fromkeys(("a", "ɑ", "æ", "ɐ", "ʌ", "ä"), "aa"),
    **dict.fromkeys(("e", "ɛ", "ə", "ɜ", "ɵ", "ɘ"), "E"),
    **dict.fromkeys(("ɪ", "i", "ᵻ", "ɨ", "ɯ", "j", "ʏ"), "ih"),
    **dict.fromkeys(("o", "ɔ", "ɒ", "œ", "ɞ"), "oh"),
    **dict.fromkeys(("u", "ʊ", "w", "ʍ", "y", "ø", "ɥ"), "ou"),
}
# espeak writes diphthongs as one phoneme; piper splits them into letters, which map above.
_DIPHTHONGS: dict[str, tuple[str, str]] = {
    "aɪ": ("aa", "ih"), "eɪ": ("E", "ih"), "ɔɪ": ("oh", "ih"), "oʊ": ("oh", "ou"),
    "aʊ": ("aa", "ou"), "əʊ": ("E", "ou"), "ɪə": ("ih", "E"), "eə": ("E", "E"),
    "ʊə": ("ou", "E"),
}  # fmt: skip
_PAUSES = frozenset(" _^$.,;:!?…—–-()\"'«»")
_BEFORE = frozenset("ˈˌ")  # stress: belongs to the phoneme after it
_AFTER = frozenset("ːˑ")  # length: belongs to the phoneme before it
_DROP = frozenset("ˈˌːˑ\u0361\u035c\u0329\u032f\u0303")  # marks and combining diacritics


@dataclass(frozen=True, slots=True)
class Shape:
    """A viseme's face: mouth blendshape weights, jaw opening factor, and how it coarticulates.

    `dominance` is how strongly it holds its time against neighbours (Cohen-Massaro alpha);
    `spread_ms` how far (as a Gaussian width) it reaches into them.
    """

    weights: dict[str, float]
    jaw: float
    dominance: float
    spread_ms: float


def _lr(name: str, w: float) -> dict[str, float]:
    return {f"{name}Left": w, f"{name}Right": w}


SHAPES: dict[str, Shape] = {
    "sil": Shape({}, 0.0, 1.0, 30),
    "PP": Shape({**_lr("mouthPress", 0.35), "mouthRollLower": 0.15, "mouthRollUpper": 0.1},
                0.05, 5.0, 40),
    "FF": Shape({"mouthRollLower": 0.55, **_lr("mouthUpperUp", 0.25), "mouthShrugUpper": 0.1},
                0.15, 3.5, 40),
    "TH": Shape({"tongueOut": 0.35, **_lr("mouthUpperUp", 0.1)}, 0.3, 2.0, 30),
    "DD": Shape({**_lr("mouthStretch", 0.1), "mouthShrugUpper": 0.1}, 0.35, 0.7, 25),
    "kk": Shape(_lr("mouthStretch", 0.15), 0.45, 0.6, 25),
    "CH": Shape({"mouthFunnel": 0.5, "mouthPucker": 0.25, "mouthShrugUpper": 0.25,
                 "mouthShrugLower": 0.2}, 0.25, 2.5, 45),
    "SS": Shape({**_lr("mouthStretch", 0.35), **_lr("mouthSmile", 0.1)}, 0.15, 1.5, 30),
    "nn": Shape(_lr("mouthStretch", 0.1), 0.3, 0.7, 25),
    "RR": Shape({"mouthFunnel": 0.3, "mouthPucker": 0.35}, 0.35, 1.5, 45),
    "aa": Shape({**_lr("mouthLowerDown", 0.35), **_lr("mouthUpperUp", 0.1)}, 1.0, 1.2, 35),
    "E": Shape({**_lr("mouthStretch", 0.3), **_lr("mouthLowerDown", 0.25)}, 0.7, 1.0, 35),
    "ih": Shape({**_lr("mouthStretch", 0.4), **_lr("mouthSmile", 0.15)}, 0.5, 1.0, 35),
    "oh": Shape({"mouthFunnel": 0.55, "mouthPucker": 0.2, **_lr("mouthLowerDown", 0.1)},
                0.8, 1.5, 45),
    "ou": Shape({"mouthPucker": 0.7, "mouthFunnel": 0.35}, 0.4, 2.0, 50),
}  # fmt: skip
_NEUTRAL_SHAPE = Shape({}, 0.7, 0.15, 30)
WORD_GAP_DOMINANCE = 0.3  # a short pause (a gap between words) is weak: the loudness says more
SHORT_PAUSE_S = 0.1

# Mouth channels any viseme moves, and per-viseme tables in VISEMES order (+ neutral).
MOUTH: tuple[str, ...] = tuple(
    sorted({n for s in SHAPES.values() for n in s.weights}, key=INDEX.__getitem__)
)
_ALL = [SHAPES[v] for v in VISEMES] + [_NEUTRAL_SHAPE]
TARGETS = np.array([[s.weights.get(n, 0.0) for n in MOUTH] for s in _ALL], dtype=np.float32)
JAW = np.array([s.jaw for s in _ALL], dtype=np.float32)
DOMINANCE = np.array([s.dominance for s in _ALL], dtype=np.float32)
SPREAD_MS = np.array([s.spread_ms for s in _ALL], dtype=np.float32)
assert set(MOUTH) <= set(ARKIT_BLENDSHAPES)


def viseme_of(symbol: str) -> str | None:
    """The viseme of one phoneme ("sil" for a pause), or None when unknown (the neutral face)."""
    s = "".join(c for c in symbol if c not in _DROP)
    if not s or all(c in _PAUSES for c in s):
        return "sil"
    if s in _PHONEMES:
        return _PHONEMES[s]
    if s in _DIPHTHONGS:
        return _DIPHTHONGS[s][0]
    return _PHONEMES.get(s[0]) if len(s) > 1 else None


@dataclass(frozen=True, slots=True)
class Track:
    """Phones as viseme segments on a timeline: index into VISEMES (or NEUTRAL), samples."""

    viseme: np.ndarray  # int16 [n]
    start: np.ndarray  # int64 [n]
    end: np.ndarray  # int64 [n]
    dominance: np.ndarray  # float32 [n]

    def near(self, lo: int, hi: int) -> Track:
        """The segments that overlap samples [lo, hi)."""
        keep = (self.end > lo) & (self.start < hi)
        return Track(self.viseme[keep], self.start[keep], self.end[keep], self.dominance[keep])


def to_track(phones: list[PhoneLike], rate: int, offset: int = 0) -> Track:
    """Viseme segments for a clip's phones, shifted by `offset` samples.

    Stress marks give their time to the next phoneme, length marks to the one before;
    a diphthong splits 60/40 into its two visemes; a pause shorter than SHORT_PAUSE_S (a
    gap between words) holds its time weakly.
    """
    short = SHORT_PAUSE_S * rate
    segs: list[list[int | float]] = []  # [viseme, start, end, dominance]
    pending: int | None = None  # start of a stress mark waiting for its phoneme
    for ph in phones:
        start, end, raw = int(ph.start) + offset, int(ph.end) + offset, ph.symbol
        if raw and all(c in _BEFORE for c in raw):
            pending = start if pending is None else pending
            continue
        if raw and all(c in _AFTER for c in raw):
            if segs:
                segs[-1][2] = max(int(segs[-1][2]), end)
            continue
        if pending is not None:
            start, pending = min(start, pending), None
        stripped = "".join(c for c in raw if c not in _DROP)
        if stripped in _DIPHTHONGS:
            a, b = _DIPHTHONGS[stripped]
            mid = start + (end - start) * 3 // 5
            segs.append([VISEMES.index(a), start, mid, SHAPES[a].dominance])
            segs.append([VISEMES.index(b), mid, end, SHAPES[b].dominance])
            continue
        vis = viseme_of(raw)
        idx = NEUTRAL if vis is None else VISEMES.index(vis)
        dom = float(DOMINANCE[idx])
        if idx == SIL and end - start < short:
            dom = WORD_GAP_DOMINANCE
        segs.append([idx, start, end, dom])
    if not segs:
        return empty_track()
    arr = np.array(segs, dtype=np.float64)
    return Track(
        arr[:, 0].astype(np.int16),
        arr[:, 1].astype(np.int64),
        np.maximum(arr[:, 2], arr[:, 1] + 1).astype(np.int64),
        arr[:, 3].astype(np.float32),
    )


def empty_track() -> Track:
    return Track(
        np.zeros(0, np.int16), np.zeros(0, np.int64), np.zeros(0, np.int64),
        np.zeros(0, np.float32),
    )  # fmt: skip


def join(a: Track, b: Track) -> Track:
    return Track(
        np.concatenate([a.viseme, b.viseme]), np.concatenate([a.start, b.start]),
        np.concatenate([a.end, b.end]), np.concatenate([a.dominance, b.dominance]),
    )  # fmt: skip
