"""The speech synthesis backend interface: text in, clips of PCM16 with phoneme timings out."""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from bridge.errors import ConfigError
from bridge.messages.limits import check_rate

SPEED_RANGE = (0.5, 2.0)  # Voice.speed: >1 is faster
PITCH_RANGE = (-12.0, 12.0)  # Voice.pitch, semitones
PAUSE = " "  # Phone.symbol of silence and pauses between words and sentences


@dataclass(frozen=True, slots=True)
class Phone:
    """One phoneme of a Clip, in samples of that clip."""

    symbol: str  # one IPA phoneme as espeak-ng writes it ("a", "ʃ", "oʊ"...); " " or "_" = pause
    start: int  # first sample of the phoneme in its Clip
    end: int  # one past its last sample


@dataclass(frozen=True, slots=True)
class Voice:
    """How one NPC sounds: from the NPC file's `voice = "..."` or its [voice] table."""

    name: str = ""  # backend voice name; "" = the backend's default
    speed: float = 1.0  # 0.5-2.0 (>1 is faster)
    pitch: float = 0.0  # semitones, -12..12


@dataclass(slots=True)
class Clip:
    """Audio for one clause or sentence."""

    pcm: np.ndarray  # int16 mono
    rate: int  # Hz
    phones: list[Phone]  # [] when the backend gives no timings


@dataclass(frozen=True, slots=True)
class TtsCapabilities:
    """What a synthesiser gives."""

    sample_rate: int = 22050  # Hz of its clips (speak() converts to the engine's rate)
    phones: bool = True  # clips carry phoneme timings
    streaming: bool = True  # the first clip comes before later sentences are made


class Tts(abc.ABC):
    """A loaded synthesiser, shared by every session. Blocking methods run in a worker thread."""

    name = "tts"
    capabilities = TtsCapabilities()

    @abc.abstractmethod
    def voices(self) -> list[str]:
        """Voice names this backend takes in Voice.name ("" always means its default)."""

    def check(self, voice: Voice) -> None:
        """A ConfigError naming the bad field, or the voices known when the name is unknown."""
        check_settings(voice)
        if voice.name and voice.name not in self.voices():
            raise ConfigError(
                f"tts {self.name}: no voice '{voice.name}'; known: {', '.join(self.voices())}"
            )

    @abc.abstractmethod
    def synthesize(self, text: str, voice: Voice) -> Iterator[Clip]:
        """Blocking: clips of `text` at the backend's rate, each yielded as soon as it is made."""

    def warm(self, voice: Voice) -> None:
        """Load the voice and synthesise once, so that the first real clause is fast."""
        self.check(voice)
        for _ in self.synthesize("Hello.", voice):
            pass

    def close(self) -> None:
        """Release models, libraries and connections."""


def check_settings(voice: Voice) -> None:
    """Refuse a speed or pitch outside its range."""
    if not SPEED_RANGE[0] <= voice.speed <= SPEED_RANGE[1]:
        raise ConfigError(
            f"voice speed must be {SPEED_RANGE[0]}-{SPEED_RANGE[1]}, got {voice.speed}"
        )
    if not PITCH_RANGE[0] <= voice.pitch <= PITCH_RANGE[1]:
        raise ConfigError(
            f"voice pitch must be {PITCH_RANGE[0]:g} to {PITCH_RANGE[1]:g} semitones, "
            f"got {voice.pitch}"
        )


def speak(tts: Tts, text: str, voice: Voice, rate: int) -> Iterator[Clip]:
    """synthesize(), resampled to `rate` (phone times scaled); unsupported rate -> error.

    The rate is checked before anything is synthesised: a ProtocolError with code
    `unsupported-rate` listing the protocol's rates.
    """
    check_rate(rate, "tts output rate")
    for clip in tts.synthesize(text, voice):
        if clip.rate == rate:
            yield clip
        else:
            yield resample_clip(clip, rate)


def resample_clip(clip: Clip, rate: int) -> Clip:
    """The clip at `rate`, its phones moved to the same instants."""
    g = math.gcd(clip.rate, rate)
    pcm = resample_pcm(clip.pcm, rate // g, clip.rate // g)
    return Clip(pcm, rate, scale_phones(clip.phones, len(clip.pcm), len(pcm)))


def resample_pcm(pcm: np.ndarray, up: int, down: int) -> np.ndarray:
    """int16 audio resampled by up/down (polyphase, as npc.audio); ceil(n * up / down) long."""
    if up == down or not len(pcm):
        return pcm
    y = resample_poly(pcm.astype(np.float32) / 32768.0, up, down)
    out: np.ndarray = np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)
    return out


def ratio(factor: float, limit: int = 64) -> tuple[int, int]:
    """(up, down), small integers whose ratio is close to `factor`."""
    f = Fraction(factor).limit_denominator(limit)
    return f.numerator, f.denominator


def scale_phones(phones: list[Phone], src_len: int, dst_len: int) -> list[Phone]:
    """Phones of a clip `src_len` samples long moved onto the same clip stretched to `dst_len`."""
    if src_len == dst_len:
        return phones
    factor = dst_len / max(1, src_len)
    return [
        replace(
            p, start=min(dst_len, round(p.start * factor)), end=min(dst_len, round(p.end * factor))
        )
        for p in phones
    ]
