"""Audio-to-face sync: the frame lag that best lines jawOpen up with the audio's loudness."""

from __future__ import annotations

import numpy as np

from npc.face.loudness import rms_at


def loudness_envelope(pcm: np.ndarray, rate: int, times: np.ndarray, fps: int) -> np.ndarray:
    """RMS of the audio over one frame's length centred on each frame time."""
    x = pcm.astype(np.float32) / 32768.0
    return rms_at(x, 0, times, max(1, round(rate / fps / 2)))


def sync_lag(jaw: np.ndarray, envelope: np.ndarray, max_lag: int = 10) -> tuple[int, float]:
    """(lag in frames, correlation) maximising corr(jaw[k], envelope[k - lag]).

    A positive lag means the jaw moves after the sound; 0 is in sync.
    """
    best = (0, -2.0)
    for lag in range(-max_lag, max_lag + 1):
        a = jaw[max(0, lag) : len(jaw) + min(0, lag)]
        b = envelope[max(0, -lag) : len(envelope) - max(0, lag)]
        if len(a) < 3 or a.std() == 0 or b.std() == 0:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best[1]:
            best = (lag, r)
    return best
