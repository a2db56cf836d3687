"""llama.cpp in process (llama-cpp-python): any GGUF; the embedded Qwen2.5-Coder-0.5B by default."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bridge.errors import BackendError, ConfigError
from npc.llm.base import Llm, LlmCapabilities, LlmRequest, token_bias
from npc.llm.fastweights import fast_model_path
from npc.llm.gguf import check_gguf, embedded_model_path
from npc.llm.guided import Plan, Plans
from npc.llm.guided_decode import StringTokens
from npc.llm.llama_guided import guided_stream, string_tokens
from npc.llm.lookahead import DRAFT_TOKENS
from npc.registry import require

log = logging.getLogger("npc_bridge.llm")

# Used when a GGUF carries no chat template of its own.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_GRAMMARS_KEPT = 32
WARM_STEP = 32  # tokens evaluated between checks of a warm's cancel flag
# An urgent request (a player waits: LlmRequest.urgent) decodes its first pieces (the
# JSON up to the line, then a token each: the first clause) on this many threads.
URGENT_THREADS = 2
URGENT_PIECES = 8
SPIN_COUNT = "10000"  # libgomp's busy-wait turns before a waiting worker sleeps


def spin_briefly() -> None:
    """Before llama.cpp's libgomp loads: its workers spin briefly, then sleep, unless the
    user set OMP_WAIT_POLICY or GOMP_SPINCOUNT."""
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)


def _fast(embedded: Path) -> Path:
    """The embedded model with its fast weights (npc/llm/fastweights.py), else as shipped."""
    try:
        return fast_model_path(embedded)
    except ConfigError as e:
        log.warning("the embedded LLM runs on its shipped weights (0.8x slower): %s", e)
        return embedded


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PrefixStates:
    """KV states of displaced prompts, newest last, within a byte budget."""

    MIN_TOKENS = 32  # shorter prompts are cheaper to evaluate again than to keep

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._bytes = 0

    def put(self, tokens: Sequence[int], state: bytes) -> None:
        key = tuple(tokens)
        for old in [k for k in self._states if common_prefix(k, key) == len(k)]:
            self._drop(old)  # a prefix of the new state: the new one serves it too
        self._states[key] = state
        self._bytes += len(state)
        while self._bytes > self.limit_bytes and self._states:
            self._drop(next(iter(self._states)))

    def best(self, tokens: Sequence[int]) -> tuple[tuple[int, ...], bytes] | None:
        """The kept state sharing the longest prefix with `tokens` (at least MIN_TOKENS)."""
        found, longest = None, self.MIN_TOKENS - 1
        for key in self._states:
            n = common_prefix(key, tokens)
            if n > longest:
                found, longest = key, n
        if found is None:
            return None
        self._states.move_to_end(found)
        return found, self._states[found]

    def clear(self) -> None:
        self._states.clear()
        self._bytes = 0

    def _drop(self, key: tuple[int, ...]) -> None:
        state = self._states.pop(key, None)
        if state is not None:
            self._bytes -= len(state)


class LlamaCppLlm(Llm):
    """One GGUF model in this process, shared by every NPC; one generation at a time.

    A JSON Schema request is decoded guided (npc/llm/guided_decode.py): forced text is
    evaluated, not sampled, and choices are scored on their tokens; a schema outside
    the guided subset (npc/llm/guided.py) falls back to llama.cpp's grammar, whole.

    Prefix reuse: llama.cpp keeps the KV cache of the last prompt, so a prompt that
    extends it evaluates only the new tokens; when another NPC's prompt takes the
    context, the KV state of the one it displaces is kept (up to `prefix_cache_mb`) and
    restored when that NPC speaks again.

    The embedded model runs on its fast weights (`fast_weights`, npc/llm/fastweights.py:
    its feed-forward gate and up matrices in IQ4_NL, 0.8x the time a token); a GGUF named
    by `model` is loaded as it is.
    """

    name = "llama"

    def __init__(
        self,
        model: str | Path = "",
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_batch: int = 512,
        prefix_cache_mb: int = 256,
        steerlm: bool = False,
        guided: bool = True,
        lookahead: int = DRAFT_TOKENS,
        fast_weights: bool = True,
    ) -> None:
        path = check_gguf(Path(model)) if str(model) else embedded_model_path()
        if not str(model) and fast_weights:
            path = _fast(path)
        # llama.cpp's OpenMP workers spin while they wait (libgomp reads this when it
        # loads, so it must precede the import): by default for 300,000 turns, and a worker
        # spinning that long holds the core its partner or another stage needs (2 threads
        # on 2 busy cores ran 8x slower per token). A short spin keeps most of the speed of
        # two threads on an idle machine (docs/latency.md) and gives the core back soon.
        spin_briefly()
        llama_cpp = require("llama_cpp", "embedded", "llama-cpp-python")
        self.path = path
        try:
            self._llama: Any = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_batch=n_batch,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise ConfigError(f"LLM model {path}: llama.cpp cannot load it: {e}") from e
        self._cpp = llama_cpp
        self.n_ctx = n_ctx
        # Decode threads (one: the other stages share the two cores) and, for an urgent
        # request's first pieces, all of the machine's (up to URGENT_THREADS).
        self._threads = (self._llama.n_threads, self._llama.n_threads_batch)
        self._urgent_threads = min(URGENT_THREADS, os.cpu_count() or 1)
        self.evaluated = 0  # tokens run through the model since it loaded (prompt + output)
        self._count_evaluations()
        self._format = self._chat_formatter()
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        self.guided = guided  # False: every schema through the grammar (to compare)
        if not 0 <= lookahead <= 16:
            raise ConfigError(f"llm lookahead = {lookahead}: 0 (off) to 16 tokens")
        self.lookahead = lookahead  # a free string's draft per token (npc/llm/lookahead.py)
        self._plans = Plans(_GRAMMARS_KEPT)
        self._vocab: StringTokens | None = None
        self._biases: dict[tuple[tuple[str, float], ...], dict[int, float]] = {}
        self._states = PrefixStates(prefix_cache_mb << 20)
        self.capabilities = LlmCapabilities(
            json_schema=True, raw_prompt=True, prefix_reuse=True, steerlm=steerlm
        )

    def _count(self, n: int) -> None:
        self.evaluated += n

    def _count_evaluations(self) -> None:
        evaluate = self._llama.eval

        def counting(tokens: Sequence[int]) -> None:
            self.evaluated += len(tokens)
            evaluate(tokens)

        self._llama.eval = counting

    def _chat_formatter(self) -> Any:
        formats = require("llama_cpp.llama_chat_format", "embedded", "llama-cpp-python")
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            log.warning("%s has no chat template; using ChatML", self.path.name)
            template = CHATML
        eos, bos = self._llama.token_eos(), self._llama.token_bos()
        return formats.Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(eos),
            bos_token=self._token_text(bos),
            stop_token_ids=[eos],
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        text: bytes = self._llama.detokenize([token], special=True)
        return text.decode("utf-8", errors="ignore")

    def tokens(self, request: LlmRequest) -> tuple[list[int], list[str]]:
        """The prompt as the model sees it, and the stop strings its template implies."""
        if request.prompt is not None:
            ids = self._llama.tokenize(request.prompt.encode(), add_bos=True, special=True)
            return list(ids), []
        if not request.messages:
            raise BackendError("llama: the request has neither messages nor a prompt", stage="llm")
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        try:
            formatted = self._format(messages=messages)
        except Exception as e:  # the GGUF's Jinja template may raise anything
            raise BackendError(f"llama: the chat template failed: {e}", stage="llm") from e
        ids = self._llama.tokenize(
            formatted.prompt.encode(), add_bos=not formatted.added_special, special=True
        )
        return list(ids), [s for s in formatted.stop if s]

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        tokens, stops = self.tokens(request)
        d = request.decoding
        room = self.n_ctx - len(tokens)
        if room < 1:
            raise BackendError(
                f"llama: the prompt has {len(tokens)} tokens; the context holds {self.n_ctx}",
                stage="llm",
            )
        schema = request.schema if self.guided else None
        steps = self._plans.get(schema) if schema is not None else None
        if steps is not None:
            yield from self._guided(request, tokens, steps, cancel)
            return
        grammar = self._grammar(request.schema) if request.schema is not None else None
        usage = request.usage
        sampled = 0

        def stop_early(ids: Any, logits: Any) -> bool:
            # Called once per sampled token, so cancellation does not wait for text to show.
            nonlocal sampled
            sampled += 1
            if sampled == 1 and usage is not None:
                usage.prompt_tokens = len(tokens)
                usage.cached_tokens = len(tokens) - (self.evaluated - before)
            return cancel.is_set()

        with self._lock:
            self._take_context(tokens)
            before = self.evaluated
            chunks = self._llama.create_completion(
                tokens,
                max_tokens=min(d.max_tokens, room),
                temperature=d.temperature,
                top_p=d.top_p,
                repeat_penalty=d.repeat_penalty,
                seed=d.seed,
                stop=[*stops, *d.stop],
                grammar=grammar,
                logit_bias=self._logit_bias(d.word_bias),
                stream=True,
                stopping_criteria=self._cpp.StoppingCriteriaList([stop_early]),
            )
            try:
                for chunk in chunks:
                    text = chunk["choices"][0]["text"]
                    if text:
                        yield text
                    if cancel.is_set():
                        break
            except (RuntimeError, ValueError) as e:
                raise BackendError(f"llama: generation failed: {e}", stage="llm") from e
            finally:
                chunks.close()
                if usage is not None:
                    usage.completion_tokens = sampled

    def _guided(
        self, request: LlmRequest, tokens: list[int], steps: Plan, cancel: threading.Event
    ) -> Iterator[str]:
        with self._lock:
            vocab = self._string_tokens()
            self._take_context(tokens)
            # One prompt token is evaluated again at least: its logits may be stale.
            keep = min(common_prefix(self._live(), tokens), len(tokens) - 1)
            bias = self._logit_bias(request.decoding.word_bias) or {}
            pieces = guided_stream(
                self._llama, self._cpp, vocab, steps, request, tokens, keep, bias, cancel,
                self._count, self.lookahead,
            )
            one, batch = self._threads
            boost = request.urgent and self._urgent_threads > one
            if boost:  # up to the first clause: nothing else of the brain runs meanwhile
                self._llama._ctx.set_n_threads(self._urgent_threads, batch)
            # From the first piece (the prompt's batch done; urgent: from the first
            # clause's), a draft's check or a missed guess is a batch of a few tokens, which
            # llama.cpp would run on the batch threads: with another stage on the other
            # core, 5 tokens took 358 ms on two threads, 125 on one. So one, as a step.
            due = URGENT_PIECES if boost else 0
            narrow = False
            try:
                for i, piece in enumerate(pieces):
                    if not narrow and i >= due and (boost or batch > one):
                        self._llama._ctx.set_n_threads(one, one)
                        narrow = True
                    yield piece
            finally:
                if boost or narrow:
                    self._llama._ctx.set_n_threads(one, batch)

    def _string_tokens(self) -> StringTokens:
        if self._vocab is None:  # ~0.4 s: at the first warm (a session's open), if any
            self._vocab = string_tokens(self._llama, self._cpp)
        return self._vocab

    def warm(self, request: LlmRequest, cancel: threading.Event | None = None) -> None:
        """Evaluate the request's prompt now, so a later request that extends it starts
        from its KV state (here or, after another prompt took the context, from a copy).
        With `cancel`, in steps of WARM_STEP tokens, stopping at the first step after it
        is set (a speculative warm the player made stale)."""
        tokens, _ = self.tokens(request)
        with self._lock:
            self._string_tokens()
            self._take_context(tokens)
            keep = common_prefix(self._live(), tokens)
            self._llama.n_tokens = keep
            step = len(tokens) if cancel is None else WARM_STEP
            for at in range(keep, len(tokens), max(1, step)):
                if cancel is not None and cancel.is_set():
                    return
                self._llama.eval(tokens[at : at + step])

    def close(self) -> None:
        with self._lock:
            self._states.clear()
            self._llama.close()

    def _live(self) -> list[int]:
        ids: list[int] = self._llama.input_ids[: self._llama.n_tokens].tolist()
        return ids

    def _take_context(self, tokens: list[int]) -> None:
        """Before evaluating `tokens`: keep the live state if they would overwrite much
        of it, and restore a kept state that shares a longer prefix with them."""
        live = self._live()
        shared = common_prefix(live, tokens)
        if len(live) - shared >= PrefixStates.MIN_TOKENS:
            self._states.put(live, self._save())
        best = self._states.best(tokens)
        if best is not None and common_prefix(best[0], tokens) > shared:
            self._restore(*best)

    def _save(self) -> bytes:
        ctx = self._llama.ctx
        size = self._cpp.llama_state_get_size(ctx)
        buf = (ctypes.c_uint8 * size)()
        written = self._cpp.llama_state_get_data(ctx, buf, size)
        return ctypes.string_at(buf, written)

    def _restore(self, tokens: tuple[int, ...], state: bytes) -> None:
        buf = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if self._cpp.llama_state_set_data(self._llama.ctx, buf, len(state)) != len(state):
            raise BackendError("llama: could not restore a kept prompt state", stage="llm")
        self._llama.input_ids[: len(tokens)] = tokens
        self._llama.n_tokens = len(tokens)
        # The logits of a restored state are stale: llama-cpp-python re-evaluates the last
        # prompt token before sampling only when this flag says so.
        self._llama._requires_eval = True

    def _logit_bias(self, words: tuple[tuple[str, float], ...]) -> dict[int, float] | None:
        if words and words not in self._biases:  # few keys: one per steer level combination
            self._biases[words] = token_bias(
                words, lambda text: self._llama.tokenize(text.encode(), add_bos=False)
            )
        return self._biases.get(words) or None

    def _grammar(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema)  # in the schema's own order: the grammar keeps it
        grammar = self._grammars.get(key)
        if grammar is None:
            try:
                grammar = self._cpp.LlamaGrammar.from_json_schema(key, verbose=False)
            except (ValueError, RuntimeError) as e:
                raise BackendError(
                    f"llama: cannot turn the JSON Schema into a grammar: {e}", stage="llm"
                ) from e
            if len(self._grammars) >= _GRAMMARS_KEPT:
                self._grammars.pop(next(iter(self._grammars)))
            self._grammars[key] = grammar
        return grammar
