"""llama.cpp in process (llama-cpp-python): any GGUF; the embedded Qwen2.5-Coder-0.5B by default."""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bridge.errors import BackendError, ConfigError
from npc.llm.base import Llm, LlmCapabilities, LlmRequest, token_bias
from npc.llm.fastweights import fast_model_path
from npc.llm.gguf import cache_dir, check_gguf, embedded_model_path
from npc.llm.guided import Plan, Plans
from npc.llm.guided_decode import StringTokens
from npc.llm.llama_guided import guided_stream, string_tokens
from npc.llm.lookahead import DRAFT_TOKENS
from npc.llm.segments import Head, Run, SegmentStore, Splicer, split
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
# Tokens evaluated before a kept piece so that it can be spliced after them (one batch
# more, against the piece's own evaluation): the brain's lore follows its notes at once.
MAX_GAP = 16
SPIN_COUNT = "10000"  # libgomp's busy-wait turns before a waiting worker sleeps


def spin_briefly() -> None:
    """Before an OpenMP build of llama.cpp loads libgomp (a llama-cpp-python the user
    installed: `make` builds it without OpenMP): its workers spin briefly, then sleep,
    unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT."""
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

    Lore segments (`lore_cache_mb`, off by default, npc/llm/segments.py): the KV cells of
    every lore sentence, made once (`keep_segments`; after an NPC's head too, for the
    prompts that open with it), are spliced into a prompt that holds it
    (`LlmRequest.segments`) instead of being evaluated: lore turns start 0.3-0.5 s
    sooner, and state their lore's facts a little less often (docs/llm.md).

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
        lore_cache_mb: int = 0,
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
        if lore_cache_mb < 0:
            raise ConfigError(f"llm lore_cache_mb = {lore_cache_mb}: 0 (off) or more")
        self._segments = SegmentStore(lore_cache_mb << 20) if lore_cache_mb else None
        if self._segments is not None:
            self._spare_sequence()
        self._splicer = Splicer(self._llama, llama_cpp)
        self.segments_dir = cache_dir().parent / "lore-kv"  # where kept pieces are saved
        self.n_ctx = n_ctx
        # Decode threads (one: the other stages share the two cores) and, for an urgent
        # request's first pieces, all of the machine's (up to URGENT_THREADS).
        self._threads = (self._llama.n_threads, self._llama.n_threads_batch)
        self._urgent_threads = min(URGENT_THREADS, os.cpu_count() or 1)
        self.evaluated = 0  # tokens run through the model since it loaded (prompt + output)
        self._count_evaluations()
        self._format = self._chat_formatter()
        self._lock = threading.Lock()
        self._keeping = threading.Lock()  # one keep_segments at a time (sessions' opens)
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
            json_schema=True, raw_prompt=True, prefix_reuse=True, steerlm=steerlm,
            segments=self._segments is not None,
        )

    def _spare_sequence(self) -> None:
        """The context again with room for a second sequence (a spliced piece's way in),
        in one KV cache: llama-cpp-python makes it with one."""
        llama = self._llama
        params = llama.context_params
        params.n_seq_max, params.kv_unified = 2, True
        internals = require("llama_cpp._internals", "embedded", "llama-cpp-python")
        try:
            ctx = internals.LlamaContext(model=llama._model, params=params, verbose=False)
        except ValueError as e:
            raise ConfigError(f"LLM {self.path}: llama.cpp cannot make its context: {e}") from e
        old, llama._ctx = llama._ctx, ctx
        old.close()

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
        ids, stops, _ = self._prompt(request)
        return ids, stops

    def _prompt(self, request: LlmRequest) -> tuple[list[int], list[str], list[tuple[int, int]]]:
        """`tokens`, and the token spans of the request's segments found in the prompt
        (cut on their bounds, so that a kept piece's tokens are theirs)."""
        if request.prompt is not None:
            ids = self._llama.tokenize(request.prompt.encode(), add_bos=True, special=True)
            return list(ids), [], []
        if not request.messages:
            raise BackendError("llama: the request has neither messages nor a prompt", stage="llm")
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        try:
            formatted = self._format(messages=messages)
        except Exception as e:  # the GGUF's Jinja template may raise anything
            raise BackendError(f"llama: the chat template failed: {e}", stage="llm") from e
        stops = [s for s in formatted.stop if s]
        bos = not formatted.added_special
        if not (request.segments and self._segments is not None):
            ids = self._llama.tokenize(formatted.prompt.encode(), add_bos=bos, special=True)
            return list(ids), stops, []

        def tokenize(part: str, first: bool) -> list[int]:
            return list(self._llama.tokenize(part.encode(), add_bos=bos and first, special=True))

        ids, spans = split(formatted.prompt, request.segments, tokenize)
        return ids, stops, spans

    def keep_segments(
        self, runs: Sequence[Run], progress: Callable[[str], None] | None = None
    ) -> int:
        """Make and keep the pieces of `runs` (from disk when they were made before), in
        their order until the budget is spent: llama.cpp evaluates each run once, about
        6 ms a token on the 2-core CPU, and a head once for the runs after it that come
        together. Returns how many of them are kept."""
        store = self._segments
        if store is None:
            return 0
        with self._keeping:
            return self._keep(store, runs, progress)

    def _keep(
        self, store: SegmentStore, runs: Sequence[Run], progress: Callable[[str], None] | None
    ) -> int:
        if all(r.key in store.runs for r in runs):
            return len(runs)
        path, model = self._segments_file()
        saved = SegmentStore.load(path, model)
        todo = [r for r in runs if r.key not in store.runs and r.key not in saved]
        made = 0
        for run in runs:  # those after one head together: it is evaluated once for them
            if run.key in store.runs:
                continue
            pieces = saved.get(run.key)
            if pieces is None:
                if progress is not None and made % 8 == 0:
                    progress(f"lore in the model's memory: {made}/{len(todo)} passages "
                             "evaluated (once; kept for later starts)...")
                with self._lock:  # a run at a time: a turn may come between two
                    pieces = self._make(run)
                made += 1
            with self._lock:  # a turn reads the store under it
                kept = store.add(run, pieces)
            if not kept:
                log.warning("lore_cache_mb = %d is full: %d of these %d lore passages kept",
                            store.limit_bytes >> 20, sum(r.key in store.runs for r in runs),
                            len(runs))
                break
        if made:
            try:
                store.save(path, model, saved)
            except OSError as e:
                log.warning("could not keep the lore's KV cells in %s: %s", path, e)
        return sum(r.key in store.runs for r in runs)

    def _make(self, run: Run) -> list[Any]:
        messages = [{"role": role, "content": content} for role, content in run.head]
        messages.append({"role": "user", "content": run.lead + "\x00"})
        formatted = self._format(messages=messages)
        lead = formatted.prompt[: formatted.prompt.index("\x00")]
        tokenize = self._llama.tokenize
        ids = list(tokenize(lead.encode(), add_bos=not formatted.added_special, special=True))
        pieces = [list(tokenize(p.encode(), add_bos=False, special=True)) for p in run.pieces]
        self._take_context(ids)  # a turn's prompt kept aside; a warmed head taken up
        keep = common_prefix(self._live(), ids)
        return list(self._splicer.make(ids, [p for p in pieces if p], keep))

    def _head(self, request: LlmRequest) -> str:
        """The kept head `request`'s messages open with ("" for none: pieces made after
        no head serve it)."""
        if self._segments is None or not request.segments:
            return ""
        messages: Head = tuple((m.role, m.content) for m in request.messages)
        return self._segments.head_of(messages)

    def _segments_file(self) -> tuple[Path, str]:
        """Where the pieces are kept, and what they were made by (the model file and
        llama.cpp): pieces of another model or version are made again."""
        stat = self.path.stat()
        version = getattr(self._cpp, "__version__", "?")
        model = f"{self.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{version}"
        name = hashlib.sha256(model.encode()).hexdigest()[:24]
        return self.segments_dir / f"{self.path.stem}-{name}.kv", model

    def _splice(
        self, tokens: Sequence[int], spans: Sequence[tuple[int, int]], keep: int, head: str = ""
    ) -> int:
        """With the context holding `tokens[:keep]`: splice in the kept pieces that follow
        it (made after `head` where there are such), in order, evaluating the few tokens
        before each (at most MAX_GAP), never the prompt's last token (whose logits the
        decoder needs). Returns how many tokens the context then holds."""
        store = self._segments
        if store is None or not spans:
            return keep
        self._llama.n_tokens = keep
        for start, end in spans:
            if end <= keep:
                continue
            if end >= len(tokens):
                break
            piece = store.get(tokens[start:end], head)
            if piece is None:
                continue  # evaluated with the tokens before the next kept piece
            if start > keep:  # a few tokens before it (a message's opening): evaluated
                if start - keep > MAX_GAP:
                    break
                self._llama.eval(tokens[keep:start])
            # A piece the context holds only the start of (the last prompt's lore began
            # alike) is taken whole.
            self._llama.n_tokens = keep = start
            if not self._splicer.splice(piece):
                break
            keep = end
        return keep

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        tokens, stops, spans = self._prompt(request)
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
            yield from self._guided(request, tokens, spans, steps, cancel)
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
            if spans:  # create_completion reuses what the context then holds
                self._splice(tokens, spans, min(common_prefix(self._live(), tokens),
                                                len(tokens) - 1), self._head(request))
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
        self,
        request: LlmRequest,
        tokens: list[int],
        spans: list[tuple[int, int]],
        steps: Plan,
        cancel: threading.Event,
    ) -> Iterator[str]:
        with self._lock:
            vocab = self._string_tokens()
            self._take_context(tokens)
            # One prompt token is evaluated again at least: its logits may be stale.
            keep = min(common_prefix(self._live(), tokens), len(tokens) - 1)
            keep = self._splice(tokens, spans, keep, self._head(request))
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
        tokens, _, spans = self._prompt(request)
        with self._lock:
            self._string_tokens()
            self._take_context(tokens)
            keep = self._splice(tokens, spans, common_prefix(self._live(), tokens),
                                self._head(request))
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
