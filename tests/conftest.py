"""Fixtures shared across test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.errors import BridgeError, ConfigError
from npc.llm.llama import LlamaCppLlm
from npc.tts.base import Tts
from npc.tts.registry import build_tts


@pytest.fixture(scope="session")
def embedded_llm() -> Iterator[LlamaCppLlm]:
    """The embedded Qwen2.5-Coder-0.5B model, loaded once for every test that needs it."""
    try:
        model = LlamaCppLlm(n_ctx=4096, n_threads=2)
    except ConfigError as e:
        pytest.skip(f"the embedded model is not available here: {e}")
    yield model
    model.close()


@pytest.fixture(scope="session")
def piper_tts() -> Iterator[Tts]:
    """The embedded piper voice, loaded (and patched for phoneme timings) once; without
    piper's noise, so a line sounds the same every run (what the recogniser hears in the
    spoken tests does not vary)."""
    try:
        tts = build_tts("piper", {"timing_noise": 0.0, "audio_noise": 0.0})
    except BridgeError as e:
        pytest.skip(f"the embedded piper voice is not available here: {e}")
    yield tts
    tts.close()
