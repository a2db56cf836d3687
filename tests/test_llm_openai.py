"""OpenAiLlm against a real llama-cpp-python server on loopback running the embedded model."""

from __future__ import annotations

import http.server
import importlib.util
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from llm_cases import BRAKKA, SCHEMA

from bridge.errors import BackendError, ConfigError
from npc.bench.llm import free_port, llama_server
from npc.llm.base import ChatMessage, Decoding, LlmRequest, Usage
from npc.llm.gguf import embedded_model_path
from npc.llm.openai import OpenAiLlm


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`python -m llama_cpp.server` with the embedded model; yields its /v1 URL."""
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("fastapi") is None:
        pytest.skip(
            "llama-cpp-python's server extra is not installed: pip install 'npc-bridge[server]'"
        )
    try:
        model = embedded_model_path()
    except ConfigError as e:
        pytest.skip(f"the embedded model is not available here: {e}")
    with llama_server(model, n_ctx=1024, threads=2) as url:
        yield url


def ask(llm: OpenAiLlm, request: LlmRequest, cancel: threading.Event | None = None) -> list[str]:
    return list(llm.stream_with_retries(request, cancel or threading.Event()))


def test_streams_a_chat_reply(server: str) -> None:
    llm = OpenAiLlm(server)
    request = LlmRequest(
        (BRAKKA, ChatMessage("user", "Where are the spare actuators?")),
        decoding=Decoding(max_tokens=12, temperature=0.0),
        usage=Usage(),
    )
    pieces = ask(llm, request)
    assert len(pieces) >= 3 and "".join(pieces).strip()
    assert request.usage is not None and request.usage.completion_tokens >= 3
    assert llm.model.endswith(".gguf")  # asked of /v1/models, as none was configured


@pytest.mark.parametrize("mode", ["json_object", "tool"])
def test_schema_mode_gives_json_matching_the_schema(server: str, mode: str) -> None:
    llm = OpenAiLlm(server, schema_mode=mode)
    request = LlmRequest(
        (BRAKKA, ChatMessage("user", "A pilot scratched your paint. Reply as JSON.")),
        schema=SCHEMA,
        decoding=Decoding(max_tokens=60, temperature=0.7, seed=3),
    )
    reply = json.loads("".join(ask(llm, request)))
    assert set(reply) == {"say", "mood"}
    assert isinstance(reply["say"], str) and reply["mood"] in ("calm", "angry")


def test_json_schema_mode_refused_by_this_server_gives_its_message(server: str) -> None:
    # llama-cpp-python's server knows only "text" and "json_object" response formats
    # (vLLM, NIM, trtllm-serve and llama.cpp's own server take "json_schema").
    llm = OpenAiLlm(server, schema_mode="json_schema")
    llm.retries = 0
    request = LlmRequest((ChatMessage("user", "Hi"),), schema=SCHEMA)
    with pytest.raises(BackendError, match="json_object") as caught:
        ask(llm, request)
    assert server in str(caught.value)


def test_raw_prompt_goes_to_completions(server: str) -> None:
    llm = OpenAiLlm(server)
    request = LlmRequest(
        prompt="The capital of France is", decoding=Decoding(max_tokens=6, temperature=0.0)
    )
    assert "Paris" in "".join(ask(llm, request))


def test_cancel_closes_the_stream_and_the_server_serves_on(server: str) -> None:
    llm = OpenAiLlm(server)
    long = LlmRequest(
        (ChatMessage("user", "Count from one to one hundred in words."),),
        decoding=Decoding(max_tokens=200, temperature=0.0),
    )
    cancel = threading.Event()
    pieces = []
    for piece in llm.stream(long, cancel):
        pieces.append(piece)
        cancel.set()
    assert len(pieces) == 1
    short = LlmRequest((ChatMessage("user", "Say hi."),), decoding=Decoding(max_tokens=4))
    assert "".join(ask(llm, short)).strip()


def test_cancel_before_the_first_token_returns_at_once(server: str) -> None:
    llm = OpenAiLlm(server)
    request = LlmRequest(
        (BRAKKA, ChatMessage("user", "mech " * 300)), decoding=Decoding(max_tokens=8)
    )  # a long prompt: the server is busy evaluating it when the cancel comes
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    began = time.monotonic()
    assert ask(llm, request, cancel) == []
    assert time.monotonic() - began < 1.0


def test_missing_endpoint_is_a_non_retryable_error_with_the_server_message(server: str) -> None:
    llm = OpenAiLlm(server + "/nowhere", model="m")
    with pytest.raises(BackendError, match="HTTP 404: Not Found") as caught:
        ask(llm, LlmRequest((ChatMessage("user", "Hi"),)))
    assert not caught.value.retryable


def test_unreachable_server_is_a_quick_retryable_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAiLlm(url, model="m")
    llm.retries = 0
    began = time.monotonic()
    with pytest.raises(BackendError, match="cannot connect") as caught:
        ask(llm, LlmRequest((ChatMessage("user", "Hi"),)))
    assert caught.value.retryable and url in str(caught.value)
    assert time.monotonic() - began < 1.0


def test_retry_tries_again_after_an_outage() -> None:
    llm = OpenAiLlm(f"http://127.0.0.1:{free_port()}/v1")  # asks /v1/models first
    llm.retries, llm.retry_delay_s = 2, 0.01
    usage = Usage()
    with pytest.raises(BackendError):
        ask(llm, LlmRequest((ChatMessage("user", "Hi"),), usage=usage))
    assert usage.attempts == 3


def test_unknown_schema_mode_and_bad_url_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="schema_mode 'grammar' is unknown"):
        OpenAiLlm("http://127.0.0.1:1/v1", schema_mode="grammar")
    with pytest.raises(ConfigError, match="not an http"):
        OpenAiLlm("ftp://example.com/v1")


class FakeOpenAiHandler(http.server.BaseHTTPRequestHandler):
    """A stand-in server that records each request and streams a fixed reply: what a
    vLLM or NIM server sends (comments, a usage chunk with cached tokens, [DONE])."""

    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse shows
    seen: list[tuple[dict[str, str], dict[str, Any], int]] = []
    events = [
        ": keep-alive",
        'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}',
        'data: {"choices":[{"index":0,"delta":{"content":"{\\"say\\": "}}]}',
        'data: {"choices":[{"index":0,"delta":{"content":"\\"Hi\\"}"}}]}',
        'data: {"choices":[],"usage":{"prompt_tokens":90,"completion_tokens":2,'
        '"prompt_tokens_details":{"cached_tokens":80}}}',
        "data: [DONE]",
    ]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((dict(self.headers), body, self.client_address[1]))
        payload = "".join(f"{e}\n\n" for e in self.events).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[str]:
    FakeOpenAiHandler.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAiHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_request_body_usage_and_connection_reuse(
    fake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NPC_TEST_KEY", "secret-1")
    llm = OpenAiLlm(fake, model="nim-model", api_key_env="NPC_TEST_KEY")
    usages = []
    for _ in range(2):
        usage = Usage()
        request = LlmRequest((ChatMessage("user", "Hi"),), schema=SCHEMA, usage=usage)
        assert json.loads("".join(ask(llm, request))) == {"say": "Hi"}
        usages.append(usage)
    assert (usages[0].prompt_tokens, usages[0].cached_tokens) == (90, 80)
    (headers, body, port), (_, _, port_again) = FakeOpenAiHandler.seen
    assert headers["Authorization"] == "Bearer secret-1"
    assert body["model"] == "nim-model" and body["stream"] is True
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": SCHEMA, "strict": True},
    }
    assert port == port_again  # the second request reused the first one's connection


@pytest.mark.parametrize(
    ("mode", "field", "value"),
    [
        ("json_object", "response_format", {"type": "json_object", "schema": SCHEMA}),
        ("guided_json", "guided_json", SCHEMA),
        ("nvext", "nvext", {"guided_json": SCHEMA}),
        ("tool", "tool_choice", {"type": "function", "function": {"name": "reply"}}),
    ],
)
def test_each_schema_mode_sends_its_field(fake: str, mode: str, field: str, value: Any) -> None:
    llm = OpenAiLlm(fake, model="m", schema_mode=mode)
    ask(llm, LlmRequest((ChatMessage("user", "Hi"),), schema=SCHEMA))
    (_, body, _), *_ = FakeOpenAiHandler.seen
    assert body[field] == value
