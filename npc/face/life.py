"""Life: blinks, eye saccades and head motion, a function of time and the seed alone."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from npc.face.arkit import INDEX

BLINK_EVERY_S = (2.0, 6.0)  # uniform interval between blinks
BLINK_S = (0.13, 0.17)  # closing takes 40% of a blink, opening the rest
SACCADE_EVERY_S = (0.4, 2.5)
SACCADE_MOVE_S = 0.045
GAZE_SPREAD = (0.12, 0.06)  # standard deviation of gaze yaw, pitch (ARKit eyeLook* units)
# Head: slow sums of sines per axis (yaw, pitch, roll), amplitude in Live Link units (-1..1),
# larger by SPEAKING_GAIN at full loudness; a small nod follows the loudness.
HEAD_AMPLITUDE = np.array([0.05, 0.03, 0.02])
HEAD_HZ = (0.05, 0.35)
SPEAKING_GAIN = 0.8
NOD = 0.025

_EYE = {
    side: [INDEX[f"eyeLook{d}{side}"] for d in ("In", "Out", "Up", "Down")]
    for side in ("Left", "Right")
}
_BLINK = [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]
_WIDE = [INDEX["eyeWideLeft"], INDEX["eyeWideRight"]]


class _Schedule:
    """Event start times (samples) drawn lazily from one seeded stream, each with values."""

    def __init__(self, seed: int, stream: int, rate: int, every: tuple[float, float],
                 first: tuple[float, float], width: int) -> None:  # fmt: skip
        self._rng = np.random.default_rng([seed, stream])
        self._rate, self._every, self._width = rate, every, width
        self.starts = np.array([self._draw(first)], np.int64)
        self.values = self._rng.random((1, width))

    def _draw(self, span: tuple[float, float]) -> int:
        return round(self._rng.uniform(*span) * self._rate)

    def cover(self, until: int) -> None:
        """Draw events until one starts after `until`."""
        starts, values = [self.starts], [self.values]
        last = int(self.starts[-1])
        while last <= until:
            last += self._draw(self._every)
            starts.append(np.array([last], np.int64))
            values.append(self._rng.random((1, self._width)))
        self.starts, self.values = np.concatenate(starts), np.concatenate(values)

    def latest(self, times: np.ndarray) -> np.ndarray:
        """Index of the last event starting at or before each time (-1 before the first)."""
        self.cover(int(times[-1]) if len(times) else 0)
        return np.searchsorted(self.starts, times, side="right") - 1


class Life:
    """Blinks, saccades and head sway for one face; deterministic from `seed`."""

    def __init__(self, rate: int, seed: int = 0) -> None:
        self._rate = rate
        self._blinks = _Schedule(seed, 1, rate, BLINK_EVERY_S, (0.5, 3.0), 1)
        self._saccades = _Schedule(seed, 2, rate, SACCADE_EVERY_S, (0.2, 1.5), 3)
        rng = np.random.default_rng([seed, 3])
        self._hz = rng.uniform(*HEAD_HZ, size=(3, 3))  # axis x component
        self._phase = rng.uniform(0.0, 2.0 * np.pi, size=(3, 3))

    def blink(self, times: np.ndarray) -> np.ndarray:
        """Eyelid closure 0..1 at sample times (both eyes)."""
        i = self._blinks.latest(times)
        s = self._blinks
        dur = (BLINK_S[0] + (BLINK_S[1] - BLINK_S[0]) * s.values[np.maximum(i, 0), 0]) * self._rate
        u = np.where(i >= 0, (times - s.starts[np.maximum(i, 0)]) / dur, 1.0)
        closing = 0.5 - 0.5 * np.cos(np.pi * np.clip(u / 0.4, 0.0, 1.0))
        opening = 0.5 + 0.5 * np.cos(np.pi * np.clip((u - 0.4) / 0.6, 0.0, 1.0))
        lid: np.ndarray = np.where(u < 0.4, closing, np.where(u < 1.0, opening, 0.0))
        return lid

    def gaze(self, times: np.ndarray) -> np.ndarray:
        """Gaze [n, 2] (yaw: + toward the face's left; pitch: + up) at sample times."""
        s = self._saccades
        i = s.latest(times)
        targets = self._targets()
        to = targets[i + 1]  # targets[0] is the initial straight-ahead gaze
        frm = targets[np.maximum(i, 0)]
        x = np.clip((times - s.starts[np.maximum(i, 0)]) / (SACCADE_MOVE_S * self._rate), 0, 1)
        x = np.where(i >= 0, x * x * (3.0 - 2.0 * x), 1.0)
        gaze: np.ndarray = frm + (to - frm) * x[:, None]
        return gaze

    def _targets(self) -> np.ndarray:
        v = self._saccades.values  # uniform: [back to centre?, yaw, pitch]
        z = ndtri(np.clip(v[:, 1:], 1e-6, 1.0 - 1e-6))
        yaw = np.clip(z[:, 0] * GAZE_SPREAD[0], -0.35, 0.35)
        pitch = np.clip(z[:, 1] * GAZE_SPREAD[1], -0.2, 0.2)
        g = np.stack([yaw, pitch], axis=1) * (v[:, :1] > 0.35)
        return np.concatenate([np.zeros((1, 2)), g])

    def head(self, times: np.ndarray, speaking: np.ndarray) -> np.ndarray:
        """Head yaw, pitch, roll [n, 3] (-1..1); `speaking` 0..1 per time scales the sway."""
        sec = times.astype(np.float64)[:, None, None] / self._rate
        sway = np.sin(2.0 * np.pi * self._hz[None] * sec + self._phase[None]).mean(axis=2)
        out: np.ndarray = sway * HEAD_AMPLITUDE[None, :] * (1.0 + SPEAKING_GAIN * speaking[:, None])
        out[:, 1] += NOD * speaking
        return out.astype(np.float32)

    def face(self, times: np.ndarray, speaking: np.ndarray, into: np.ndarray) -> None:
        """Add blinks and gaze to ARKit weights `into` [n, 52+] in place (eyes only)."""
        b = self.blink(times).astype(np.float32)
        into[:, _BLINK] = np.maximum(into[:, _BLINK], b[:, None])
        into[:, _WIDE] *= (1.0 - b)[:, None]
        g = self.gaze(times).astype(np.float32)
        yaw, pitch = g[:, 0], g[:, 1]
        for side, outward in (("Left", 1.0), ("Right", -1.0)):
            look_in, look_out, up, down = _EYE[side]
            into[:, look_out] += np.maximum(outward * yaw, 0.0)
            into[:, look_in] += np.maximum(-outward * yaw, 0.0)
            into[:, up] += np.maximum(pitch, 0.0)
            into[:, down] += np.maximum(-pitch, 0.0)
