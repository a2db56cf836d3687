"""Speech synthesis: piper (embedded), espeak-ng and NVIDIA Riva, clips with phoneme timings."""

from npc.tts.base import Clip, Phone, Tts, TtsCapabilities, Voice, speak
from npc.tts.registry import TTS, build_tts

__all__ = ["TTS", "Clip", "Phone", "Tts", "TtsCapabilities", "Voice", "build_tts", "speak"]
