"""The LLM interface every backend implements: stream text for a chat or a raw prompt."""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bridge.errors import BackendError
from npc.llm.segments import Run

log = logging.getLogger("npc_bridge.llm")


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
    # (word, logit bias): >0 favours the word, <0 avoids it. A backend that can biases the
    # tokens that spell the word whole (with and without a leading space, lower and
    # capitalised); one that cannot ignores it.
    word_bias: tuple[tuple[str, float], ...] = ()

    def hotter(self, attempt: int) -> Decoding:
        """The settings for try number `attempt` (0: these) at a line the model wrote badly
        (a repeat, a refusal): hotter by 0.3 a try, and another seed."""
        if not attempt:
            return self
        seed = None if self.seed is None else self.seed + attempt
        return replace(self, temperature=self.temperature + 0.3 * attempt, seed=seed)


@dataclass(slots=True)
class Usage:
    """What one generation cost, filled in by the backend as it goes (for benchmarks and
    tests); a field stays 0 or None where the backend cannot tell."""

    prompt_tokens: int = 0  # tokens of the prompt as the model sees it
    cached_tokens: int = 0  # of those, reused from a kept prefix rather than evaluated
    completion_tokens: int = 0  # tokens generated
    first_piece_s: float | None = None  # s from the call to the first piece of text
    total_s: float = 0.0  # s from the call to the end of the output
    attempts: int = 0  # tries made by `stream_with_retries`


@dataclass(frozen=True, slots=True)
class LlmRequest:
    """What to generate from: chat `messages` (the backend applies the model's template)
    or a raw `prompt` already in the model's own format (e.g. the SteerLM format).

    `schema`, when set, is a JSON Schema the whole output must match (grammar or guided
    decoding); the backend guarantees it or raises BackendError. `usage`, when given, is
    filled in while the request runs. `urgent`: a player waits for its first words and
    nothing else of the brain's runs, so a backend may spend more of the CPU on its start.
    `guesses`: string values a guided decoder guesses first at a choice (the NPC's usual
    emotion word), a hint for its speculation that never changes what it decides.
    `segments`: pieces of the prompt's text, in order, whose KV cells a backend may have
    kept (the lore's sentences: npc/llm/segments.py); they change nothing of the text.
    """

    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None
    schema: dict[str, Any] | None = None
    decoding: Decoding = field(default_factory=Decoding)
    usage: Usage | None = field(default=None, compare=False)
    urgent: bool = field(default=False, compare=False)
    guesses: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LlmCapabilities:
    """What a backend can do; the brain plans its prompts by these."""

    json_schema: bool = True  # output can be constrained to a JSON Schema
    raw_prompt: bool = True  # `LlmRequest.prompt` is accepted
    prefix_reuse: bool = False  # a repeated prompt prefix is not evaluated again
    steerlm: bool = False  # the model was trained on the SteerLM prompt format
    segments: bool = False  # kept pieces are spliced into a prompt (`keep_segments`)


def token_bias(
    words: tuple[tuple[str, float], ...], tokenize: Callable[[str], Sequence[int]]
) -> dict[int, float]:
    """Token id -> logit bias for `Decoding.word_bias`: every spelling of a word (as is and
    capitalised, with and without a leading space) that `tokenize` makes one token."""
    bias: dict[int, float] = {}
    for word, value in words:
        for form in dict.fromkeys((word, word.capitalize())):
            for text in (form, " " + form):
                ids = list(tokenize(text))
                if len(ids) == 1:
                    bias[int(ids[0])] = bias.get(int(ids[0]), 0.0) + value
    return bias


class Llm(abc.ABC):
    """A language model backend. `stream` blocks: the brain runs it in a worker thread.

    Retries and timeouts live here, once: `stream_with_retries` tries again on a retryable
    BackendError that came before any text; `astream` also gives up, retryably, when the
    first piece or the next one takes too long.
    """

    name = "llm"
    capabilities = LlmCapabilities()
    retries = 1  # further tries after a retryable error, only while no text was given
    retry_delay_s = 0.5  # before the first retry; doubles for each further one
    first_piece_timeout_s = 60.0  # astream: longest wait for the first piece
    stall_timeout_s = 30.0  # astream: longest wait between two pieces

    @abc.abstractmethod
    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        """Yield the output text piece by piece; stop soon after `cancel` is set.

        Raises BackendError (retryable for timeouts and outages) when generation fails.
        """

    def warm(self, request: LlmRequest, cancel: threading.Event | None = None) -> None:
        """Evaluate a prompt's prefix ahead of time so the next request sharing it is fast;
        stop soon after `cancel` is set (what was evaluated by then is kept)."""

    def keep_segments(
        self, runs: Sequence[Run], progress: Callable[[str], None] | None = None
    ) -> int:
        """Make the KV cells of `runs`' pieces now (start-up), so a prompt holding them
        does not evaluate them (`capabilities.segments`); how many runs are kept."""
        return 0

    def close(self) -> None:
        """Free the model or connection."""

    def stream_with_retries(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        """`stream`, tried again after a retryable error that came before any text.

        Fills in `request.usage`'s timings and attempts where the request carries one.
        """
        usage = request.usage
        began = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            if usage is not None:
                usage.attempts = attempt
            given = False
            try:
                for piece in self.stream(request, cancel):
                    if not given and usage is not None:
                        usage.first_piece_s = time.perf_counter() - began
                    given = True
                    yield piece
                break
            except BackendError as e:
                if given or not e.retryable or attempt > self.retries or cancel.is_set():
                    raise
                log.warning("%s: %s; trying again (%d of %d)", self.name, e, attempt, self.retries)
            if cancel.wait(self.retry_delay_s * 2 ** (attempt - 1)):
                break
        if usage is not None:
            usage.total_s = time.perf_counter() - began

    async def astream(
        self, request: LlmRequest, go: threading.Event | None = None
    ) -> AsyncIterator[str]:
        """`stream_with_retries` from the event loop: runs in a thread; cancelling the
        consumer stops it. A first piece later than `first_piece_timeout_s`, or a gap
        longer than `stall_timeout_s`, ends it with a retryable BackendError.

        `go`, when given, pauses generation between pieces while it is clear: the speaking
        stage holds the model while it synthesises a reply's first clause, so the two do
        not share a small CPU at the moment the player is waiting for the voice."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, str | BaseException | None]] = asyncio.Queue()
        cancel = threading.Event()
        # With `go`, each piece waits until the consumer has taken it (and so has had the
        # chance to clear `go`) before the next token is computed: a pause asked for on a
        # piece holds the very next token, not the one after it.
        taken = threading.Event() if go is not None else None

        def hold() -> None:
            assert go is not None and taken is not None
            while not taken.wait(0.05) and not cancel.is_set():
                pass
            taken.clear()
            while not go.wait(0.05) and not cancel.is_set():
                pass

        def put(kind: str, value: str | BaseException | None) -> None:
            if not loop.is_closed():  # an abandoned stream may end after its loop did
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def produce() -> None:
            try:
                for piece in self.stream_with_retries(request, cancel):
                    put("piece", piece)
                    if go is not None:
                        hold()
                    if cancel.is_set():
                        break
            except BaseException as e:
                put("error", e)
            else:
                put("end", None)

        # Its own thread, not the loop's default pool: a stream waiting for the model (one
        # session's turn behind another's) would hold a pool thread, and with a few of them
        # every `to_thread` of every session (lore, memory, the voice) waits too.
        threading.Thread(target=produce, name=f"{self.name}-stream", daemon=True).start()
        limit = self.first_piece_timeout_s
        try:
            while True:
                try:
                    kind, value = await asyncio.wait_for(queue.get(), limit)
                except TimeoutError as e:
                    what = "first piece" if limit == self.first_piece_timeout_s else "next piece"
                    raise BackendError(
                        f"{self.name}: no {what} of text within {limit:g} s",
                        retryable=True,
                        stage="llm",
                    ) from e
                if kind == "piece":
                    assert isinstance(value, str)
                    limit = self.stall_timeout_s
                    yield value
                    if taken is not None:
                        taken.set()
                elif kind == "error":
                    assert isinstance(value, BaseException)
                    raise value
                else:
                    return
        finally:
            cancel.set()  # the worker stops at its next piece; nothing waits for it

    async def complete(self, request: LlmRequest) -> str:
        """The whole output as one string."""
        return "".join([piece async for piece in self.astream(request)])
