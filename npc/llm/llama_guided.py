"""LlamaCppLlm's guided decoding: the llama.cpp context as a `guided_decode.Model`."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from bridge.errors import BackendError
from npc.llm.base import LlmRequest
from npc.llm.guided import Plan
from npc.llm.guided_decode import Guided, NpArray, Sampling, StringTokens


class LlamaContext:
    """The live llama.cpp context: the prompt's tokens not yet evaluated wait in `queued`
    and go with the first batch the decoder evaluates."""

    def __init__(
        self,
        llama: Any,
        cpp: Any,
        queued: Sequence[int],
        counted: Callable[[int], None] | None = None,
    ) -> None:
        self.llama, self.cpp = llama, cpp
        self.queued = list(queued)
        self.start = llama.n_tokens + len(self.queued)  # where the output begins
        self.counted = counted  # told of the tokens `eval_at` evaluates (eval counts its own)

    def tokenize(self, text: bytes) -> list[int]:
        return list(self.llama.tokenize(text, add_bos=False, special=False))

    def eval(self, tokens: Sequence[int]) -> None:
        batch = [*self.queued, *tokens]
        self.queued = []
        if self.llama.n_tokens + len(batch) > self.llama.n_ctx():
            raise BackendError("llama: the reply does not fit in the context", stage="llm")
        if batch:
            self.llama.eval(batch)

    def eval_at(self, tokens: Sequence[int], at: Sequence[int]) -> list[NpArray]:
        """Like `eval`, in batches of the context's n_batch, keeping the logits after
        `tokens[:k]` for each k in `at` (llama.cpp computes them for marked tokens only)."""
        llama = self.llama
        batch = [*self.queued, *tokens]
        want = {len(self.queued) + k - 1 for k in at}
        self.queued = []
        if llama.n_tokens + len(batch) > llama.n_ctx():
            raise BackendError("llama: the reply does not fit in the context", stage="llm")
        if min(want, default=0) < 0:
            raise ValueError("eval_at: logits before the first token evaluated")
        got: dict[int, NpArray] = {}
        llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
        for i in range(0, len(batch), llama.n_batch):
            chunk = batch[i : i + llama.n_batch]
            past = llama.n_tokens
            llama._batch.set_batch(batch=chunk, n_past=past, logits_all=False)  # marks the last
            for j in range(len(chunk)):
                if i + j in want:
                    llama._batch.batch.logits[j] = True
            llama._ctx.decode(llama._batch)
            for j in range(len(chunk)):
                if i + j in want:
                    got[i + j] = self._row(j)
            llama.input_ids[past : past + len(chunk)] = chunk
            llama.n_tokens += len(chunk)
            if self.counted is not None:
                self.counted(len(chunk))
        return [got[len(batch) - len(tokens) + k - 1] for k in at]

    def size(self) -> int:
        return int(self.llama.n_tokens + len(self.queued))

    def tokens(self) -> NpArray:
        return self.llama.input_ids[: self.llama.n_tokens]

    def rewind(self, size: int) -> None:
        if self.queued or size > self.llama.n_tokens:
            raise ValueError("rewind: only evaluated tokens can be forgotten")
        self.llama.n_tokens = size  # the next evaluation clears the KV cache after it

    def _row(self, i: int) -> NpArray:
        ptr = self.cpp.llama_get_logits_ith(self.llama.ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.llama.n_vocab(),)).copy()

    def logits(self) -> NpArray:
        if self.queued:
            self.eval([])
        return self._row(-1)

    def recent(self, n: int) -> list[int]:
        end = self.llama.n_tokens
        ids: list[int] = self.llama.input_ids[max(self.start, end - n) : end].tolist()
        return ids

    def room(self) -> int:
        return int(self.llama.n_ctx() - self.llama.n_tokens - len(self.queued))


def string_tokens(llama: Any, cpp: Any) -> StringTokens:
    """The model's tokens sorted for use inside a JSON string (once per model: ~1 s)."""
    vocab = cpp.llama_model_get_vocab(llama.model)
    buf = ctypes.create_string_buffer(256)
    pieces = []
    for i in range(llama.n_vocab()):
        n = cpp.llama_token_to_piece(vocab, i, buf, 256, 0, False)
        pieces.append(buf.raw[: max(0, n)])
    return StringTokens.build(pieces)


def guided_stream(
    llama: Any,
    cpp: Any,
    vocab: StringTokens,
    steps: Plan,
    request: LlmRequest,
    prompt: Sequence[int],
    keep: int,
    bias: dict[int, float],
    cancel: threading.Event,
    counted: Callable[[int], None] | None = None,
    lookahead: int = 0,
) -> Iterator[str]:
    """Run `steps` after `prompt`, whose first `keep` tokens the context already holds."""
    d = request.decoding
    llama.n_tokens = keep
    context = LlamaContext(llama, cpp, prompt[keep:], counted)
    sampling = Sampling(
        temperature=d.temperature,
        top_p=d.top_p,
        repeat_penalty=d.repeat_penalty,
        bias=bias,
        rng=np.random.default_rng(d.seed),
        max_tokens=d.max_tokens,
    )
    run = Guided(
        context, vocab, sampling, cancel, hint=_hint(request), prefer=request.guesses,
        lookahead=lookahead,
    )
    usage = request.usage
    if usage is not None:
        usage.prompt_tokens, usage.cached_tokens = len(prompt), keep
    try:
        yield from run.run(steps)
    except (RuntimeError, ValueError) as e:
        raise BackendError(f"llama: guided generation failed: {e}", stage="llm") from e
    finally:
        if usage is not None:
            usage.completion_tokens = len(context.tokenize(run.out.encode()))


def _hint(request: LlmRequest) -> str:
    """Where an enum's value or an action's verb is looked for to guess it: the player's
    line (what follows the last "says: " of the last message; lore before it would name
    things nobody asked for), or the raw prompt's end."""
    text = request.messages[-1].content if request.messages else (request.prompt or "")[-2000:]
    return text.rpartition(" says: ")[2].lower()
