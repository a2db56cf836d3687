"""An OpenAI-compatible server over HTTP (NIM, vLLM, trtllm-serve, llama.cpp), stdlib only."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from bridge.errors import BackendError, ConfigError
from npc.llm.base import Llm, LlmCapabilities, LlmRequest, Usage
from npc.llm.sse import HttpClient, HttpError

SCHEMA_MODES = ("json_schema", "json_object", "tool", "guided_json", "nvext")
TOOL_NAME = "reply"  # the one function the "tool" schema mode forces


class OpenAiLlm(Llm):
    """Chat completions streamed as server-sent events; raw prompts via /completions.

    `schema_mode` picks how a JSON Schema is enforced: "json_schema" sends
    response_format {"type": "json_schema"} (vLLM, NIM, trtllm-serve, llama.cpp's
    server, OpenAI); "json_object" sends {"type": "json_object", "schema": ...}
    (llama-cpp-python's server); "tool" forces one function whose parameters are the
    schema and streams its arguments as the text; "guided_json" sends vLLM's top-level
    extra field and "nvext" NIM 1.x's {"nvext": {"guided_json": ...}}.
    """

    name = "openai"

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000/v1",
        *,
        model: str = "",
        schema_mode: str = "json_schema",
        api_key: str = "",
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        extra: dict[str, Any] | None = None,
        prefix_reuse: bool = True,
        steerlm: bool = False,
    ) -> None:
        if schema_mode not in SCHEMA_MODES:
            raise ConfigError(
                f"openai llm: schema_mode '{schema_mode}' is unknown; "
                f"known: {', '.join(SCHEMA_MODES)}"
            )
        key = api_key or (os.environ.get(api_key_env, "") if api_key_env else "")
        self.http = HttpClient(url, key, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s)
        self.url = self.http.base
        self.model = model
        self.schema_mode = schema_mode
        self.extra = dict(extra or {})  # merged into every request body (server-specific)
        # A tool's arguments cannot be constrained on /completions: raw prompts with a
        # schema need one of the response_format modes.
        self.capabilities = LlmCapabilities(
            json_schema=True, raw_prompt=True, prefix_reuse=prefix_reuse, steerlm=steerlm
        )

    def model_name(self) -> str:
        """The configured model, or the first one the server lists (asked once)."""
        if not self.model:
            listed = self.http.get_json("/models")
            try:
                self.model = str(listed["data"][0]["id"])
            except (KeyError, IndexError, TypeError) as e:
                raise BackendError(
                    f"openai llm at {self.url}: /models lists no model; set model", stage="llm"
                ) from e
        return self.model

    def body(self, request: LlmRequest) -> tuple[str, dict[str, Any]]:
        """The endpoint path and JSON body for a request."""
        d = request.decoding
        body: dict[str, Any] = {
            "model": self.model_name(),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": d.max_tokens,
            "temperature": d.temperature,
            "top_p": d.top_p,
        }
        if d.seed is not None:
            body["seed"] = d.seed
        if d.stop:
            body["stop"] = list(d.stop)
        if request.prompt is not None:
            path = "/completions"
            body["prompt"] = request.prompt
        elif request.messages:
            path = "/chat/completions"
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        else:
            raise BackendError("openai llm: the request has neither messages nor a prompt")
        if request.schema is not None:
            body.update(self._constraint(request.schema, chat=path == "/chat/completions"))
        body.update(self.extra)
        return path, body

    def _constraint(self, schema: dict[str, Any], *, chat: bool) -> dict[str, Any]:
        if self.schema_mode == "guided_json":
            return {"guided_json": schema}
        if self.schema_mode == "nvext":
            return {"nvext": {"guided_json": schema}}
        if self.schema_mode == "json_object":
            return {"response_format": {"type": "json_object", "schema": schema}}
        if self.schema_mode == "json_schema":
            fmt = {"name": TOOL_NAME, "schema": schema, "strict": True}
            return {"response_format": {"type": "json_schema", "json_schema": fmt}}
        if not chat:
            raise BackendError(
                "openai llm: schema_mode 'tool' cannot constrain a raw prompt; "
                "use 'json_schema' or 'json_object'",
                stage="llm",
            )
        tool = {"name": TOOL_NAME, "description": "Give the reply.", "parameters": schema}
        return {
            "tools": [{"type": "function", "function": tool}],
            "tool_choice": {"type": "function", "function": {"name": TOOL_NAME}},
        }

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        usage = request.usage
        pieces = 0
        try:
            path, body = self.body(request)
            for event in self.http.stream_events(path, body, cancel):
                if "error" in event:
                    raise BackendError(
                        f"openai llm at {self.url}: {_message(event)}", retryable=True, stage="llm"
                    )
                if usage is not None and isinstance(event.get("usage"), dict):
                    _fill_usage(usage, event["usage"])
                for text in _texts(event):
                    pieces += 1
                    yield text
        except HttpError as e:
            raise BackendError(
                f"openai llm at {e.url}: {e.reason}", retryable=e.retryable, stage="llm"
            ) from e
        if usage is not None and not usage.completion_tokens:
            usage.completion_tokens = pieces  # servers that send no usage: one piece a token

    def close(self) -> None:
        self.http.close()


def _texts(event: dict[str, Any]) -> Iterator[str]:
    """The text in one streamed chunk: content deltas, tool-call argument deltas, or
    /completions text."""
    for choice in event.get("choices") or ():
        delta = choice.get("delta")
        if delta is None:  # /completions
            if choice.get("text"):
                yield str(choice["text"])
            continue
        if delta.get("content"):
            yield str(delta["content"])
        for call in delta.get("tool_calls") or ():
            arguments = (call.get("function") or {}).get("arguments")
            if arguments:
                yield str(arguments)


def _fill_usage(usage: Usage, reported: dict[str, Any]) -> None:
    usage.prompt_tokens = int(reported.get("prompt_tokens") or 0)
    usage.completion_tokens = int(reported.get("completion_tokens") or 0)
    details = reported.get("prompt_tokens_details") or {}
    usage.cached_tokens = int(details.get("cached_tokens") or 0)


def _message(event: dict[str, Any]) -> str:
    error = event.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or json.dumps(error))
    return str(error)
