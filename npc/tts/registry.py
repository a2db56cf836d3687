"""Speech synthesis backends by name: piper (embedded default), espeak, riva."""

from __future__ import annotations

from typing import Any

from npc.registry import Registry
from npc.tts.base import Tts

TTS = Registry("tts")
TTS.register("piper", "npc.tts.piper:PiperTts")
TTS.register("espeak", "npc.tts.espeak:EspeakTts")
TTS.register("riva", "npc.tts.riva:RivaTts")


def build_tts(name: str = "piper", options: dict[str, Any] | None = None) -> Tts:
    """The backend `name` built with its config options; unknown names or options are a
    ConfigError naming them."""
    tts: Tts = TTS.create(name or "piper", **(options or {}))
    return tts
