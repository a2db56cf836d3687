"""espeak-ng through ctypes (the library and data of espeakng-loader), with phoneme events."""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from bridge.errors import BackendError, ConfigError
from npc.registry import require
from npc.tts.base import PAUSE, Clip, Phone, Tts, TtsCapabilities, Voice

DEFAULT_VOICE = "en-us"
RATE_WPM = 175  # espeak's normal speed, words per minute: Voice.speed 1.0
_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: espeak_Synth returns when the text is spoken
_INIT_OPTIONS = 0x0001 | 0x0002 | 0x8000  # PHONEME_EVENTS | PHONEME_IPA | DONT_EXIT
_EVENT_END_LIST, _EVENT_PHONEME = 0, 7
_PARAM_RATE, _PARAM_PITCH = 1, 3
_CHARS_UTF8 = 1
# espeak's pitch parameter (0-100, 50 normal) against the median F0 shift it gives, in
# semitones, measured on en-us (docs/speaking.md): -6.4 to +8.6; wider asks are clamped.
_PITCH_VALUES = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
_PITCH_SEMITONES = (-6.4, -5.0, -4.1, -3.0, -1.4, 0.0, 1.4, 3.1, 5.0, 6.8, 8.6)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_STRESS = str.maketrans("", "", "ˈˌ")


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),  # samples since the start of this espeak_Synth call
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # for phoneme events: the IPA, UTF-8, NUL-padded
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, name, NUL)..., then a NUL
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Library:
    """libespeak-ng, initialised once per process; it has one global state, so one lock."""

    _instance: _Library | None = None
    _create = threading.Lock()

    def __init__(self) -> None:
        loader = require("espeakng_loader", "embedded", "espeakng-loader")
        try:
            self.lib: Any = ctypes.CDLL(loader.get_library_path())
            data = str(loader.get_data_path()).encode()
        except (OSError, RuntimeError) as e:
            raise BackendError(f"tts espeak: cannot load libespeak-ng: {e}", stage="tts") from e
        self.lock = threading.Lock()
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        self.rate = int(self.lib.espeak_Initialize(_SYNCHRONOUS, 0, data, _INIT_OPTIONS))
        if self.rate <= 0:
            raise BackendError("tts espeak: espeak_Initialize failed", stage="tts")
        self._audio: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        self._callback = _Callback(self._take)  # kept referenced while the library lives
        self.lib.espeak_SetSynthCallback(self._callback)
        self.languages = self._languages()

    @classmethod
    def get(cls) -> _Library:
        with cls._create:
            if cls._instance is None:
                cls._instance = _Library()
            return cls._instance

    def _languages(self) -> list[str]:
        found: set[str] = set()
        voices = self.lib.espeak_ListVoices(None)
        i = 0
        while voices[i]:
            at = voices[i].contents.languages
            while at and ctypes.c_ubyte.from_address(at).value:  # priority byte, 0 ends
                name = ctypes.string_at(at + 1)
                found.add(name.decode("utf-8", "replace"))
                at += len(name) + 2
            i += 1
        return sorted(found)

    def _take(self, wav: Any, count: int, events: Any) -> int:
        if count > 0:
            self._audio.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != _EVENT_END_LIST:
            event = events[i]
            if event.type == _EVENT_PHONEME:
                symbol = event.id.decode("utf-8", "ignore").translate(_STRESS)
                self._events.append((event.sample, symbol))
            i += 1
        return 0

    def speak(self, text: str, language: str, wpm: int, pitch: int) -> Clip:
        """One piece of text, synthesised whole; under the lock, as espeak is global."""
        with self.lock:
            self._audio, self._events = [], []
            name = ctypes.create_string_buffer(language.encode())
            wanted = _Voice(languages=ctypes.cast(name, ctypes.c_void_p))
            if self.lib.espeak_SetVoiceByProperties(ctypes.byref(wanted)) != 0:
                raise ConfigError(f"tts espeak: cannot select voice '{language}'")
            self.lib.espeak_SetParameter(_PARAM_RATE, wpm, 0)
            self.lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
            data = text.encode("utf-8") + b"\0"
            status = self.lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
            if status != 0:
                raise BackendError(f"tts espeak: espeak_Synth failed ({status})", stage="tts")
            pcm = np.concatenate(self._audio) if self._audio else np.zeros(0, np.int16)
            events = self._events
        return Clip(pcm.astype(np.int16, copy=False), self.rate, _phones(events, len(pcm)))


def _phones(events: list[tuple[int, str]], length: int) -> list[Phone]:
    """Phoneme start events to Phones covering 0..length; empty phonemes are pauses."""
    starts = [(0, PAUSE), *((min(max(s, 0), length), sym or PAUSE) for s, sym in events)]
    out: list[Phone] = []
    for (start, symbol), (end, _) in zip(starts, [*starts[1:], (length, "")], strict=True):
        if end <= start:
            continue
        if out and symbol == PAUSE == out[-1].symbol:
            out[-1] = Phone(PAUSE, out[-1].start, end)
        else:
            out.append(Phone(symbol, start, end))
    return out


def pitch_value(semitones: float) -> int:
    """espeak's pitch parameter for a shift in semitones (clamped to what espeak reaches)."""
    return round(float(np.interp(semitones, _PITCH_SEMITONES, _PITCH_VALUES)))


class EspeakTts(Tts):
    """espeak-ng voices by language ("en-us", "en-gb", "de"...), native speed and pitch."""

    name = "espeak"
    capabilities = TtsCapabilities(sample_rate=22050, phones=True, streaming=True)

    def __init__(self, voice: str = DEFAULT_VOICE) -> None:
        self._lib = _Library.get()
        self.capabilities = TtsCapabilities(sample_rate=self._lib.rate)
        self.default = voice or DEFAULT_VOICE
        self.check(Voice(self.default))

    def voices(self) -> list[str]:
        return list(self._lib.languages)

    def synthesize(self, text: str, voice: Voice) -> Iterator[Clip]:
        self.check(voice)
        wpm = round(RATE_WPM * voice.speed)
        pitch = pitch_value(voice.pitch)
        for sentence in _SENTENCE.split(text.strip()):
            if sentence:
                yield self._lib.speak(sentence, voice.name or self.default, wpm, pitch)
