"""TrtLlm: without TensorRT-LLM installed, a clear install hint; the GPU path where it is."""

from __future__ import annotations

import importlib.util
import json
import os
import threading

import pytest

from bridge.errors import ConfigError
from npc.llm.base import ChatMessage, Decoding, LlmRequest
from npc.llm.registry import build_llm
from npc.llm.trtllm import TrtLlm

INSTALLED = importlib.util.find_spec("tensorrt_llm") is not None


@pytest.mark.skipif(INSTALLED, reason="tensorrt_llm is installed here")
def test_missing_tensorrt_llm_is_a_config_error_with_the_install_hint() -> None:
    with pytest.raises(ConfigError) as caught:
        TrtLlm("nvidia/Nemotron-Mini-4B-Instruct")
    message = str(caught.value)
    assert 'pip install "npc-bridge[trtllm]"' in message
    assert "NVIDIA GPU" in message


@pytest.mark.skipif(INSTALLED, reason="tensorrt_llm is installed here")
def test_config_naming_trtllm_fails_at_build_with_the_hint() -> None:
    with pytest.raises(ConfigError, match=r"npc-bridge\[trtllm\]"):
        build_llm({"kind": "trtllm", "model": "/models/nemotron-mini", "steerlm": True})


def test_model_is_required() -> None:
    with pytest.raises(ConfigError, match="set model"):
        TrtLlm("")


MODEL = os.environ.get("NPC_TRTLLM_MODEL", "")  # a Hugging Face model folder, on a GPU box


@pytest.mark.skipif(not MODEL, reason="set NPC_TRTLLM_MODEL to a model folder to run on the GPU")
@pytest.mark.skipif(
    not INSTALLED, reason="tensorrt_llm is not installed (needs Linux + NVIDIA GPU)"
)
def test_streams_guided_json_on_the_gpu() -> None:
    llm = TrtLlm(MODEL)
    try:
        schema = {
            "type": "object",
            "properties": {"say": {"type": "string", "maxLength": 40}},
            "required": ["say"],
        }
        request = LlmRequest(
            (ChatMessage("user", "Greet the pilot, as JSON."),),
            schema=schema,
            decoding=Decoding(max_tokens=40, temperature=0.0),
        )
        pieces = list(llm.stream(request, threading.Event()))
        assert len(pieces) >= 2
        assert isinstance(json.loads("".join(pieces))["say"], str)
    finally:
        llm.close()
