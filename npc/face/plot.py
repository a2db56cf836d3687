"""A picture of a spoken line's face: the waveform with its phonemes, and blendshape curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from npc.face.line import Line
from npc.registry import require

MOUTH_CURVES = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft")
UPPER_CURVES = ("eyeBlinkLeft", "browInnerUp", "mouthSmileLeft", "eyeLookOutLeft", "headYaw")


def plot_line(line: Line, out: Path, title: str = "") -> Path:
    """Write a PNG of `line`: waveform and phonemes on top, mouth and upper-face curves below."""
    matplotlib = require("matplotlib", "dev", "matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    secs = np.arange(len(line.pcm)) / line.rate
    t = line.times / line.rate
    fig, (wave, mouth, upper) = plt.subplots(
        3, 1, figsize=(13, 7.5), sharex=True, height_ratios=[1.1, 1.3, 1.0]
    )
    wave.plot(secs, line.pcm / 32768.0, lw=0.5, color="0.35")
    wave.set_ylim(-1.05, 1.25)
    wave.set_ylabel("audio")
    for symbol, start, end in line.phones:
        if symbol.strip():
            wave.axvspan(start / line.rate, end / line.rate, color="C0", alpha=0.06, lw=0)
            wave.text((start + end) / 2 / line.rate, 1.08, symbol, ha="center", fontsize=8)
    wave.set_title(title or "Face frames of a spoken line", fontsize=11)
    for ax, names in ((mouth, MOUTH_CURVES), (upper, UPPER_CURVES)):
        for name in names:
            if name in line.channels:
                ax.plot(t, line.weights[:, line.channels.index(name)], lw=1.3, label=name)
        ax.legend(loc="upper right", fontsize=8, ncol=len(names))
        ax.grid(alpha=0.3)
    mouth.set_ylim(-0.02, 1.0)
    mouth.set_ylabel("mouth")
    upper.set_ylim(-0.3, 1.05)
    upper.set_ylabel("eyes, brows, head")
    upper.set_xlabel("seconds")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
