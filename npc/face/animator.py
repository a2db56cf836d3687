"""FaceAnimator: one NPC turn's ARKit face frames on its audio timeline, fed clip by clip."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from npc.face.arkit import ARKIT_BLENDSHAPES, HEAD_CHANNELS, INDEX
from npc.face.coart import AHEAD_MS, mouth_at
from npc.face.emotion import EMOTIONS, YIELDS_TO_SPEECH, EmotionTrack, emotion_face
from npc.face.life import Life
from npc.face.loudness import RMS_HALF_MS, level_db, openness, rms_at
from npc.face.visemes import MOUTH, PhoneLike, empty_track, join, to_track

__all__ = ["EMOTIONS", "HEAD_CHANNELS", "FaceAnimator"]

SMOOTH_MS = 25.0  # Gaussian (zero-phase) smoothing of the speech curves: no pops, no lag
JAW_GAIN = 0.8  # jawOpen of the most open vowel at the speaker's peak loudness
SEAL = 0.85  # how much of the jaw a bilabial closes; the lips (mouthClose) seal the rest
SPEECH_WINS = 0.6  # how much of an emotion's mouth shape gives way to busy lips

_MOUTH = np.array([INDEX[n] for n in MOUTH], np.intp)
_JAW, _CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]
_BUSY = np.array([MOUTH.index(n) for n in ("mouthFunnel", "mouthPucker", "mouthRollLower")])


class FaceAnimator:
    """One NPC turn's face on its audio timeline (samples at `rate`).

    Frame k is at sample round(k * rate / fps). `feed` appends a clip and returns the frames
    that no later audio can change; about 200 ms of look-ahead (coarticulation, smoothing,
    the loudness window) waits for the next `feed` or for `finish`, which returns the rest
    through the first frame at or after the end of the audio. The output is the same
    however the audio is split into clips.
    """

    def __init__(self, rate: int, fps: int = 60, seed: int = 0, head: bool = True) -> None:
        if rate <= 0 or not 1 <= fps <= 240:
            raise ValueError(f"bad rate {rate} Hz or fps {fps} (1..240)")
        self.rate, self.fps, self.head = rate, fps, head
        self.channels: list[str] = list(ARKIT_BLENDSHAPES) + (list(HEAD_CHANNELS) if head else [])
        sigma = SMOOTH_MS / 1000.0 * fps
        self._k = max(1, math.ceil(3.0 * sigma))
        g = np.exp(-0.5 * np.square(np.arange(-self._k, self._k + 1) / sigma))
        self._kernel = (g / g.sum()).astype(np.float32)
        self._half = round(RMS_HALF_MS * rate / 1000.0)
        reach = math.ceil(AHEAD_MS * rate / 1000.0)
        self._hold = math.ceil(self._k * rate / fps) + 1 + max(reach, self._half)
        self._next = 0  # the next frame to return
        self._end = 0  # samples fed
        self._buf = np.zeros(0, np.float32)  # recent audio, self._buf[0] at sample _buf0
        self._buf0 = 0
        self._track = empty_track()
        self._peak = -np.inf  # loudest frame (dB) among frames before _next - _k
        self._emotion = EmotionTrack(rate)
        self._life = Life(rate, seed)

    def set_emotion(self, emotion: str, intensity: float) -> None:
        """Ease toward `emotion` at `intensity` (0..1) from where the next clip will start.

        That is the end of the audio fed so far (the `start_sample` of the turn's `emotion`
        message), or the next frame to return if that is later; ValueError on a bad value.
        """
        at = max(self._end, int(self._time(self._next)))
        self._emotion.set(at, emotion_face(emotion, intensity))

    def feed(self, pcm: np.ndarray, phones: Sequence[PhoneLike]) -> tuple[np.ndarray, np.ndarray]:
        """Append a clip (int16 at `rate`; phones relative to it, may be []); the frames now final.

        Returns times int64 [n] (samples) and weights float32 [n, len(channels)].
        """
        if pcm.ndim != 1:
            raise ValueError(f"pcm must be mono (1-D), got shape {pcm.shape}")
        track = to_track(list(phones), self.rate, offset=self._end)
        self._track = join(self._track, track)
        self._buf = np.concatenate([self._buf, pcm.astype(np.float32) / 32768.0])
        self._end += len(pcm)
        return self._emit(self._last_at_or_before(self._end - self._hold) + 1)

    def idle(self, samples: int) -> tuple[np.ndarray, np.ndarray]:
        """Append `samples` of silence: the face breathes, blinks and looks about, mouth shut."""
        return self.feed(np.zeros(max(0, samples), np.int16), [])

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """The remaining frames, through the first frame at or after the end of the audio."""
        k = max(0, self._last_at_or_before(self._end - 1) + 1)
        return self._emit(k + 1)

    def _time(self, k: int | np.ndarray) -> np.ndarray:
        return np.round(np.asarray(k, np.float64) * self.rate / self.fps).astype(np.int64)

    def _last_at_or_before(self, sample: int) -> int:
        """The last frame index whose time is <= `sample` (-1 if none)."""
        if sample < 0:
            return -1
        k = sample * self.fps // self.rate + 2
        while int(self._time(k)) > sample:
            k -= 1
        return k

    def _emit(self, stop: int) -> tuple[np.ndarray, np.ndarray]:
        start = self._next
        if stop <= start:
            return np.zeros(0, np.int64), np.zeros((0, len(self.channels)), np.float32)
        times, weights = self._render(start, stop)
        self._next = stop
        keep_from = int(self._time(stop - self._k))
        drop = min(len(self._buf), max(0, keep_from - self._half - self._buf0))
        self._buf, self._buf0 = self._buf[drop:], self._buf0 + drop
        self._track = self._track.near(keep_from - self._hold, 1 << 62)
        self._emotion.forget_before(int(times[-1]))
        return times, weights

    def _render(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        n, k = k1 - k0, self._k
        ext = self._time(np.arange(k0 - k, k1 + k))
        db = level_db(rms_at(self._buf, self._buf0, ext, self._half))
        peak = np.maximum.accumulate(np.concatenate([[self._peak], db]))[1:]
        self._peak = float(peak[n - 1])  # frames before k1 - k: never rendered raw again
        mouth = mouth_at(ext, self._track, self.rate)
        loud = self._smooth(openness(db, peak).astype(np.float32), n)
        shapes = self._smooth(mouth.shapes, n)
        closure = mouth.closure[k : k + n]
        jaw = JAW_GAIN * loud * self._smooth(mouth.jaw, n) * (1.0 - SEAL * closure)
        times = ext[k : k + n]

        out = np.zeros((n, len(self.channels)), np.float32)
        out[:, _MOUTH] = shapes
        out[:, _JAW] += jaw
        out[:, _CLOSE] = np.maximum(out[:, _CLOSE], jaw * closure)  # lips sealed over the gap
        emotion = self._emotion.at(times)
        lips = np.maximum(shapes[:, _BUSY].max(axis=1), self._smooth(mouth.closure, n))
        busy = np.clip(1.5 * lips, 0.0, 1.0)
        emotion[:, YIELDS_TO_SPEECH] *= (1.0 - SPEECH_WINS * busy)[:, None]
        out[:, :52] += emotion
        self._life.face(times, loud, out)
        np.clip(out[:, :52], 0.0, 1.0, out=out[:, :52])
        if self.head:
            out[:, 52:] = np.clip(self._life.head(times, loud), -1.0, 1.0)
        return times, out

    def _smooth(self, x: np.ndarray, n: int) -> np.ndarray:
        """Convolve the extended curve(s) with the Gaussian kernel, keeping the n middle rows."""
        out = np.zeros((n, *x.shape[1:]), np.float32)
        for j, g in enumerate(self._kernel):
            out += g * x[j : j + n]
        return out
