"""WAV files in and out as PCM16 (standard library `wave`), for talk, tests and the demo."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

from bridge.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Pcm:
    """Interleaved PCM16 little-endian samples with their rate (Hz) and channel count."""

    data: bytes
    sample_rate: int
    channels: int = 1

    @property
    def seconds(self) -> float:
        return len(self.data) / (2 * self.channels * self.sample_rate)


def read_wav(path: Path) -> Pcm:
    """Read a 16-bit PCM WAV file; anything else is a clear error."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise ConfigError(f"{path}: {8 * w.getsampwidth()}-bit samples; need 16-bit PCM")
            return Pcm(w.readframes(w.getnframes()), w.getframerate(), w.getnchannels())
    except (OSError, wave.Error, EOFError) as e:
        raise ConfigError(f"{path}: not a readable WAV file ({e})") from e


def write_wav(path: Path, pcm: Pcm) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.channels)
        w.setsampwidth(2)
        w.setframerate(pcm.sample_rate)
        w.writeframes(pcm.data)


def with_silence(pcm: Pcm, seconds: float) -> Pcm:
    """`pcm` followed by silence, as a live microphone keeps sending after the player stops."""
    pad = bytes(2 * pcm.channels * round(seconds * pcm.sample_rate))
    return Pcm(pcm.data + pad, pcm.sample_rate, pcm.channels)
