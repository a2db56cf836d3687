"""LlamaCppLlm on the embedded Qwen2.5-Coder-0.5B: streaming, JSON Schema, cancel, prefix reuse."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_cases import BRAKKA, SCHEMA, VESSA

from bridge.errors import BackendError, ConfigError
from npc.llm.base import ChatMessage, Decoding, LlmRequest, Usage
from npc.llm.llama import LlamaCppLlm

GREEDY = Decoding(max_tokens=12, temperature=0.0, seed=7)


@pytest.fixture(scope="module")
def llm() -> Iterator[LlamaCppLlm]:
    try:
        model = LlamaCppLlm(n_ctx=1024, n_threads=2)
    except ConfigError as e:
        pytest.skip(f"the embedded model is not available here: {e}")
    yield model
    model.close()


def chat(
    *messages: ChatMessage, decoding: Decoding = GREEDY, schema: dict[str, Any] | None = None
) -> LlmRequest:
    return LlmRequest(messages, schema=schema, decoding=decoding, usage=Usage())


def run(llm: LlamaCppLlm, request: LlmRequest) -> list[str]:
    return list(llm.stream_with_retries(request, threading.Event()))


def test_streams_text_piece_by_piece(llm: LlamaCppLlm) -> None:
    request = chat(BRAKKA, ChatMessage("user", "Where are the spare actuators?"))
    pieces = run(llm, request)
    assert len(pieces) >= 3 and "".join(pieces).strip()
    usage = request.usage
    assert usage is not None and usage.first_piece_s is not None
    assert 3 <= usage.completion_tokens <= GREEDY.max_tokens
    assert usage.prompt_tokens > 50


def test_schema_output_is_json_matching_the_schema_in_its_order(llm: LlamaCppLlm) -> None:
    request = chat(
        BRAKKA,
        ChatMessage("user", "A pilot scratched your paint. Reply as JSON."),
        decoding=Decoding(max_tokens=60, temperature=0.7, seed=3),
        schema=SCHEMA,
    )
    reply = json.loads("".join(run(llm, request)))
    assert list(reply) == ["say", "mood"]  # "say" first, so the line can stream early
    assert isinstance(reply["say"], str) and len(reply["say"]) <= 40
    assert reply["mood"] in ("calm", "angry")


def test_raw_prompt_continues_the_text(llm: LlamaCppLlm) -> None:
    request = LlmRequest(prompt="The capital of France is", decoding=GREEDY)
    assert "Paris" in "".join(run(llm, request))


def test_cancel_stops_between_tokens(llm: LlamaCppLlm) -> None:
    cancel = threading.Event()
    request = chat(
        ChatMessage("user", "Count from one to one hundred in words."),
        decoding=Decoding(max_tokens=80, temperature=0.0),
    )
    pieces = []
    for piece in llm.stream(request, cancel):
        pieces.append(piece)
        cancel.set()
    assert len(pieces) == 1
    assert request.usage is not None and request.usage.completion_tokens <= 2


def test_abandoned_async_stream_frees_the_model(llm: LlamaCppLlm) -> None:
    async def scenario() -> str:
        request = chat(ChatMessage("user", "Count from one to one hundred in words."))
        async for _ in llm.astream(request):
            break  # barge-in: the consumer stops listening
        return await asyncio.wait_for(llm.complete(chat(ChatMessage("user", "Say hi."))), 60)

    assert asyncio.run(scenario()).strip()


def test_prefix_reuse_counts_evaluated_tokens(llm: LlamaCppLlm) -> None:
    def turn(persona: ChatMessage, line: str) -> Usage:
        request = chat(persona, ChatMessage("user", line), decoding=Decoding(max_tokens=3))
        run(llm, request)
        assert request.usage is not None
        return request.usage

    turn(BRAKKA, "Hello.")
    again = turn(BRAKKA, "Where is my mech?")
    # Only the new user line (and the template around it) is evaluated.
    assert again.cached_tokens >= 60
    assert again.prompt_tokens - again.cached_tokens <= 16
    other = turn(VESSA, "Hello.")
    assert other.cached_tokens <= 5  # another persona: only the template's start is shared
    back = turn(BRAKKA, "Where is my mech now?")  # Brakka's state was kept when Vessa spoke
    assert back.prompt_tokens - back.cached_tokens <= 16


def test_warm_evaluates_the_prompt_ahead(llm: LlamaCppLlm) -> None:
    request = chat(VESSA, ChatMessage("user", "Which mech is your favourite?"))
    llm.warm(request)
    before = llm.evaluated
    run(llm, request)
    assert request.usage is not None
    assert request.usage.cached_tokens >= request.usage.prompt_tokens - 1
    assert llm.evaluated - before <= GREEDY.max_tokens + 1  # the reply, not the prompt


def test_prompt_longer_than_the_context_is_a_backend_error(llm: LlamaCppLlm) -> None:
    request = chat(ChatMessage("user", "mech " * 1200))
    with pytest.raises(BackendError, match="context holds 1024"):
        run(llm, request)


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        LlamaCppLlm(tmp_path / "missing.gguf")


def test_file_that_is_not_gguf_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 a zip file, not a model")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        LlamaCppLlm(path)


def test_truncated_gguf_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 64)
    with pytest.raises(ConfigError, match="cannot load it"):
        LlamaCppLlm(path)
