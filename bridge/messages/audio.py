"""Audio both ways: the player's microphone in, the NPC's voice out (PCM16 LE frames)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge import errors
from bridge.errors import ProtocolError
from bridge.messages.base import IN, OUT, SessionMessage, register
from bridge.messages.limits import check_rate


def _check_pcm(pcm: bytes, channels: int) -> None:
    if channels not in (1, 2):
        raise ProtocolError(
            f"channels must be 1 (mono) or 2 (interleaved stereo, downmixed), got {channels}",
            code=errors.UNSUPPORTED_CHANNELS,
        )
    if len(pcm) % (2 * channels):
        raise ProtocolError(
            f"PCM16 payload of {len(pcm)} bytes is not a whole number of "
            f"{2 * channels}-byte sample frames",
            code=errors.BAD_AUDIO,
        )


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class AudioChunk(SessionMessage):
    """Engine -> brain: player microphone audio, PCM16 little-endian, any length (20 ms usual)."""

    TYPE = "audio-chunk"
    DIRECTION = IN
    FRAMES = ("pcm",)
    sample_rate: int  # Hz, one of SAMPLE_RATES
    channels: int = 1  # 1, or 2 for interleaved stereo the brain downmixes
    player: str = ""  # whose microphone, in a group session; "" = the session's `player`
    pcm: bytes = field(default=b"", repr=False)  # frame 1: the samples

    def check(self) -> None:
        check_rate(self.sample_rate)
        _check_pcm(self.pcm, self.channels)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class AudioEnd(SessionMessage):
    """Engine -> brain: the player released push-to-talk; the turn ends now."""

    TYPE = "audio-end"
    DIRECTION = IN
    player: str = ""  # whose push-to-talk; "" = the session's `player`


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class NpcAudio(SessionMessage):
    """Brain -> engine: a chunk of the NPC's voice, mono PCM16 LE at the session's out rate."""

    TYPE = "npc-audio"
    DIRECTION = OUT
    FRAMES = ("pcm",)
    turn: int
    sample_rate: int  # Hz, the session's `audio_out_rate`
    start_sample: int  # position of the chunk's first sample on the turn's audio timeline
    pcm: bytes = field(default=b"", repr=False)  # frame 1: the samples

    def check(self) -> None:
        check_rate(self.sample_rate)
        _check_pcm(self.pcm, 1)
