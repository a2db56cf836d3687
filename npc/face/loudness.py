"""Audio-driven jaw: face frames whose jawOpen follows the loudness of a voice line."""

from __future__ import annotations

import numpy as np

from npc.face.arkit import ARKIT_BLENDSHAPES, INDEX


def jaw_frames(pcm: np.ndarray, rate: int, fps: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(times in samples int64, weights float32 [n, 52]): jawOpen from the RMS around each frame."""
    n = int(np.ceil(len(pcm) * fps / rate)) if len(pcm) else 0
    times = np.round(np.arange(n) * rate / fps).astype("<i8")
    weights = np.zeros((n, len(ARKIT_BLENDSHAPES)), dtype="<f4")
    half = rate // (2 * fps)
    x = pcm.astype(np.float32) / 32768.0
    for i, pos in enumerate(times):
        win = x[max(0, pos - half) : pos + half]
        rms = float(np.sqrt(np.mean(win * win))) if len(win) else 0.0
        weights[i, INDEX["jawOpen"]] = min(1.0, rms * 4.0)
    return times, weights


RMS_HALF_MS = 20.0  # loudness window: 40 ms centred on the frame, so it neither leads nor lags
RANGE_DB = 36.0  # loudness below the ceiling by this much or more is silence (jaw shut)
CEILING_DB = (-30.0, -10.0)  # the running speech peak is clamped to this range (dBFS)


def rms_at(x: np.ndarray, origin: int, times: np.ndarray, half: int) -> np.ndarray:
    """RMS of float samples `x` (x[0] at sample `origin`) over [t - half, t + half) per time.

    Samples outside `x` count as silence, so a window at either end of the audio is not
    louder than its neighbours.
    """
    cs = np.concatenate([np.zeros(1), np.cumsum(np.square(x, dtype=np.float64))])
    lo = np.clip(times - half - origin, 0, len(x))
    hi = np.clip(times + half - origin, 0, len(x))
    rms: np.ndarray = np.sqrt(np.maximum(cs[hi] - cs[lo], 0.0) / max(1, 2 * half))
    return rms


def level_db(rms: np.ndarray) -> np.ndarray:
    db: np.ndarray = 20.0 * np.log10(np.maximum(rms, 1e-6))
    return db


def openness(db: np.ndarray, peak_db: np.ndarray) -> np.ndarray:
    """0..1 from loudness: 1 at the speaker's running peak, 0 at RANGE_DB below it or quieter."""
    ceiling = np.clip(peak_db, *CEILING_DB)
    out: np.ndarray = np.clip((db - ceiling + RANGE_DB) / RANGE_DB, 0.0, 1.0)
    return out
