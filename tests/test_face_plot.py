"""`npc-bridge face-plot`: a spoken line's curves under its waveform, written as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from npc.cli import main
from npc.face.animator import FaceAnimator
from npc.face.line import Line


def test_plot_of_a_line_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib (the dev extra) draws the plot")
    from npc.face.plot import plot_line

    rate = 16000
    pcm = (np.sin(np.arange(rate) / 8) * 8000 * (np.arange(rate) < rate // 2)).astype(np.int16)
    face = FaceAnimator(rate)
    t1, w1 = face.feed(pcm, [])
    t2, w2 = face.finish()
    line = Line(pcm, rate, [("a", 0, rate // 2)], np.concatenate([t1, t2]),
                np.concatenate([w1, w2]), face.channels)  # fmt: skip
    out = plot_line(line, tmp_path / "sub" / "face.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000


def test_face_plot_command_speaks_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib (the dev extra) draws the plot")
    pytest.importorskip("piper", reason="the embedded piper voice speaks the line")
    out = tmp_path / "face.png"
    assert main(["face-plot", "--text", "Bob, stop.", "--out", str(out), "--fps", "30"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "frames over" in capsys.readouterr().out
