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
