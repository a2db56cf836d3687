"""The Llm base class (retries, timeouts, async streaming) and build_llm's option checks."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.errors import BackendError, ConfigError
from npc.llm.base import ChatMessage, Llm, LlmRequest, Usage
from npc.llm.registry import build_llm

HI = (ChatMessage("user", "Hi"),)


class FakeLlm(Llm):
    """Fails `failures` times (retryably, before any text), then streams `pieces`
    `delay_s` apart; records how far it got."""

    name = "fake"

    def __init__(self, pieces: list[str], failures: int = 0, delay_s: float = 0.0) -> None:
        self.pieces = pieces
        self.failures = failures
        self.delay_s = delay_s
        self.calls = 0
        self.given = 0
        self.retry_delay_s = 0.01

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        self.calls += 1
        if self.calls <= self.failures:
            raise BackendError("server unavailable", retryable=True, stage="llm")
        for piece in self.pieces:
            if cancel.wait(self.delay_s):
                return
            self.given += 1
            yield piece


def test_retryable_error_before_any_text_is_tried_again() -> None:
    llm = FakeLlm(["a", "b"], failures=1)
    usage = Usage()
    out = list(llm.stream_with_retries(LlmRequest(HI, usage=usage), threading.Event()))
    assert out == ["a", "b"] and usage.attempts == 2
    assert usage.first_piece_s is not None and usage.total_s >= usage.first_piece_s


def test_retries_give_up_after_the_configured_number() -> None:
    llm = FakeLlm(["a"], failures=5)
    llm.retries = 2
    with pytest.raises(BackendError, match="unavailable"):
        list(llm.stream_with_retries(LlmRequest(HI), threading.Event()))
    assert llm.calls == 3


def test_error_after_text_is_not_retried() -> None:
    class Breaks(FakeLlm):
        def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
            self.calls += 1
            yield "half a line"
            raise BackendError("connection lost", retryable=True)

    llm = Breaks([])
    with pytest.raises(BackendError, match="connection lost"):
        list(llm.stream_with_retries(LlmRequest(HI), threading.Event()))
    assert llm.calls == 1


def test_astream_gives_up_when_the_first_piece_is_late() -> None:
    llm = FakeLlm(["late"], delay_s=2.0)
    llm.first_piece_timeout_s = 0.2

    async def scenario() -> None:
        with pytest.raises(BackendError, match=r"no first piece of text within 0\.2 s") as caught:
            await llm.complete(LlmRequest(HI))
        assert caught.value.retryable

    began = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - began < 1.5  # the worker stops at the cancel, not after 2 s


def test_astream_stops_the_worker_when_the_consumer_leaves() -> None:
    llm = FakeLlm([str(i) for i in range(100)], delay_s=0.01)

    async def scenario() -> None:
        async for piece in llm.astream(LlmRequest(HI)):
            if piece == "2":
                break
        await asyncio.sleep(0.2)

    asyncio.run(scenario())
    assert llm.given < 10


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="kind 'gpt' is unknown; known: llama, openai, trtllm"):
        build_llm({"kind": "gpt"})


def test_unknown_option_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"option 'url' is unknown for kind 'llama'.*n_ctx"):
        build_llm({"kind": "llama", "url": "http://x"})


def test_option_of_the_wrong_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="n_ctx must be int, not '2048'"):
        build_llm({"n_ctx": "2048"})
    with pytest.raises(ConfigError, match="steerlm must be bool, not 1"):
        build_llm({"kind": "openai", "steerlm": 1})
    with pytest.raises(ConfigError, match="retries must be int, not True"):
        build_llm({"kind": "openai", "retries": True})


def test_openai_options_reach_the_backend_and_the_base_class() -> None:
    llm = build_llm(
        {
            "kind": "openai",
            "url": "http://127.0.0.1:1/v1",
            "model": "nvidia/nemotron-mini-4b-instruct",
            "schema_mode": "tool",
            "steerlm": True,
            "retries": 3,
            "first_piece_timeout_s": 5,
        }
    )
    assert llm.name == "openai" and llm.capabilities.steerlm
    assert (llm.retries, llm.first_piece_timeout_s) == (3, 5)


def test_relative_gguf_path_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "models" / "npc.gguf"))):
        build_llm({"model": "models/npc.gguf"}, base=tmp_path)


def test_astream_holds_the_model_while_go_is_clear() -> None:
    llm = FakeLlm(["a", "b", "c"])
    go = threading.Event()

    async def scenario() -> list[str]:
        got: list[str] = []
        async for piece in llm.astream(LlmRequest(HI), go):
            got.append(piece)
            if piece == "a":
                await asyncio.sleep(0.3)  # the voice is busy: the model must wait
                assert llm.given == 1
                go.set()
        return got

    assert asyncio.run(scenario()) == ["a", "b", "c"]
