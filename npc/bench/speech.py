"""The benchmark speech set: WAV files with their texts, and word error rate."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge.errors import ConfigError
from plugin_stubs.wav import read_wav

DEFAULT_SET = Path(__file__).resolve().parents[2] / "tests" / "data" / "speech"
BACKCHANNELS = ("mhm", "okay", "uh_huh")


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    text: str
    audio: np.ndarray  # float32 16 kHz mono

    @property
    def seconds(self) -> float:
        return len(self.audio) / 16000

    def last_speech_s(self) -> float:
        """Where the speech ends: the last 10 ms block above -40 dBFS."""
        blocks = self.audio[: len(self.audio) // 160 * 160].reshape(-1, 160)
        loud = np.flatnonzero(np.sqrt((blocks**2).mean(axis=1)) > 0.01)
        return float((loud[-1] + 1) * 0.01) if len(loud) else 0.0


def load_set(folder: Path = DEFAULT_SET, backchannels: bool = False) -> list[Line]:
    """The lines listed in `folder/manifest.json` ({name: {"text": ...}}), 16 kHz WAVs."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise ConfigError(f"{manifest} not found: --speech needs a folder with manifest.json")
    lines = []
    for name, entry in json.loads(manifest.read_text(encoding="utf-8")).items():
        if name in BACKCHANNELS and not backchannels:
            continue
        pcm = read_wav(folder / f"{name}.wav")
        if pcm.sample_rate != 16000 or pcm.channels != 1:
            raise ConfigError(f"{folder / name}.wav: need 16 kHz mono")
        x = np.frombuffer(pcm.data, "<i2").astype(np.float32) / 32768.0
        lines.append(Line(name, entry["text"], x))
    return lines


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def edits(ref: str, hyp: str) -> tuple[int, int]:
    """(word edits, reference words): WER is their ratio."""
    r, h = words(ref), words(hyp)
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)], len(r)


def wer(ref: str, hyp: str) -> float:
    """Word error rate: word edits (substitute, insert, delete) per reference word."""
    e, n = edits(ref, hyp)
    return e / max(1, n)
