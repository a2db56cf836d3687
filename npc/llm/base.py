"""The LLM interface every backend implements: stream text for a chat or a raw prompt."""

from __future__ import annotations

import abc
import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a chat prompt; `role` is "system", "user" or "assistant"."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Decoding:
    """Sampling settings for one generation."""

    max_tokens: int = 160
    temperature: float = 0.7
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    seed: int | None = None  # None: random; tests and benchmarks fix it
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LlmRequest:
    """What to generate from: chat `messages` (the backend applies the model's template)
    or a raw `prompt` already in the model's own format (e.g. the SteerLM format).

    `schema`, when set, is a JSON Schema the whole output must match (grammar or guided
    decoding); the backend guarantees it or raises BackendError.
    """

    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None
    schema: dict[str, Any] | None = None
    decoding: Decoding = field(default_factory=Decoding)


@dataclass(frozen=True, slots=True)
class LlmCapabilities:
    """What a backend can do; the brain plans its prompts by these."""

    json_schema: bool = True  # output can be constrained to a JSON Schema
    raw_prompt: bool = True  # `LlmRequest.prompt` is accepted
    prefix_reuse: bool = False  # a repeated prompt prefix is not evaluated again
    steerlm: bool = False  # the model was trained on the SteerLM prompt format


class Llm(abc.ABC):
    """A language model backend. `stream` blocks: the brain runs it in a worker thread."""

    name = "llm"
    capabilities = LlmCapabilities()

    @abc.abstractmethod
    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        """Yield the output text piece by piece; stop soon after `cancel` is set.

        Raises BackendError (retryable for timeouts and outages) when generation fails.
        """

    def warm(self, request: LlmRequest) -> None:
        """Evaluate a prompt's prefix ahead of time so the next request sharing it is fast."""

    def close(self) -> None:
        """Free the model or connection."""

    async def astream(self, request: LlmRequest) -> AsyncIterator[str]:
        """`stream` from the event loop: runs in a thread; cancelling the consumer stops it."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, str | BaseException | None]] = asyncio.Queue()
        cancel = threading.Event()

        def produce() -> None:
            try:
                for piece in self.stream(request, cancel):
                    loop.call_soon_threadsafe(queue.put_nowait, ("piece", piece))
                    if cancel.is_set():
                        break
            except BaseException as e:
                loop.call_soon_threadsafe(queue.put_nowait, ("error", e))
            else:
                loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

        worker = loop.run_in_executor(None, produce)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "piece":
                    assert isinstance(value, str)
                    yield value
                elif kind == "error":
                    assert isinstance(value, BaseException)
                    raise value
                else:
                    return
        finally:
            cancel.set()
            # The worker stops at its next piece; do not wait for it on cancellation.
            worker.add_done_callback(lambda f: f.exception())

    async def complete(self, request: LlmRequest) -> str:
        """The whole output as one string."""
        return "".join([piece async for piece in self.astream(request)])
