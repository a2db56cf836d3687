"""Prompt lookup in the guided decoder: drafts from the context, taken only as far as
sampling bears them out (npc/llm/lookahead.py), on a model whose logits follow its context."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import numpy as np

from npc.llm.guided import plan
from npc.llm.guided_decode import Guided, NpArray, Sampling, StringTokens
from npc.llm.lookahead import accept, draft

VOCAB = [b'{"say": "', b'"}', b'"', b"the", b" window", b" is", b" open", b" shut", b" at",
         b" six", b".", b"\n", b"ok"]
T = {p: i for i, p in enumerate(VOCAB)}
# The next token's logits after each token: after " is", " open" or " shut" (p 0.62 / 0.38
# at temperature 1); everything else has one clear successor.
NEXT = {b'{"say": "': {b"the": 9.0}, b"the": {b" window": 9.0}, b" window": {b" is": 9.0},
        b" is": {b" open": 1.0, b" shut": 0.5}, b" open": {b" at": 9.0},
        b" shut": {b" at": 9.0}, b" at": {b" six": 9.0}, b" six": {b".": 9.0},
        b".": {b'"': 9.0}}
SAY = {"type": "object", "properties": {"say": {"type": "string", "maxLength": 80}},
       "required": ["say"]}
# What the context held before the reply: the sentence, as lore would give it.
PROMPT = [T[b"\n"], T[b"the"], T[b" window"], T[b" is"], T[b" open"], T[b" at"], T[b" six"],
          T[b"."], T[b'"}'], T[b"\n"]]


class ContextModel:
    """A model whose next-token logits depend on the last token of its context only, so
    a batch's logits are what single steps would give, and a rewind is exact."""

    def __init__(self) -> None:
        self.context = list(PROMPT)
        self.calls = 0  # evaluations (eval and eval_at)

    def tokenize(self, text: bytes) -> list[int]:
        out, at = [], 0
        while at < len(text):
            best = max((i for i, p in enumerate(VOCAB) if text.startswith(p, at)),
                       key=lambda i: len(VOCAB[i]))
            out.append(best)
            at += len(VOCAB[best])
        return out

    def _after(self, token: int) -> NpArray:
        out = np.full(len(VOCAB), -9.0, dtype=np.float32)
        for piece, value in NEXT.get(VOCAB[token], {b"ok": 9.0}).items():
            out[T[piece]] = value
        return out

    def eval(self, tokens: Sequence[int]) -> None:
        self.calls += 1
        self.context += tokens

    def eval_at(self, tokens: Sequence[int], at: Sequence[int]) -> list[NpArray]:
        self.calls += 1
        start = len(self.context)
        self.context += tokens
        return [self._after(self.context[start + k - 1]) for k in at]

    def logits(self) -> NpArray:
        return self._after(self.context[-1])

    def recent(self, n: int) -> list[int]:
        return self.context[len(PROMPT):][-n:]

    def room(self) -> int:
        return 1000

    def size(self) -> int:
        return len(self.context)

    def rewind(self, size: int) -> None:
        del self.context[size:]

    def tokens(self) -> list[int]:
        return list(self.context)


def run(temperature: float, lookahead: int, seed: int = 1) -> tuple[str, Guided, ContextModel]:
    model = ContextModel()
    s = Sampling(temperature, 1.0, 1.0, {}, np.random.default_rng(seed), 100)
    guided = Guided(model, StringTokens.build(VOCAB), s, threading.Event(), lookahead=lookahead)
    return "".join(guided.run(plan(SAY))), guided, model


def test_a_draft_is_what_followed_the_last_two_tokens_before() -> None:
    context = [1, 2, 3, 4, 5, 9, 2, 3, 7, 8, 6, 2]
    assert draft(context, 3, 4) == [7, 8, 6, 2]  # (2, 3): its latest occurrence
    assert draft(context, 3, 2) == [7, 8]
    assert draft(context, 5) == []  # (2, 5) never came before
    assert draft([2], 3) == []


def test_greedy_the_line_is_the_same_in_fewer_evaluations() -> None:
    plain, _, slow = run(0.0, 0)
    drafted, guided, fast = run(0.0, 4)
    assert plain == drafted == '{"say": "the window is open at six."}'
    # after "the window" the context's " is open at six" is drafted and taken whole
    assert fast.calls < slow.calls - 2, (fast.calls, slow.calls)
    assert guided.kept >= 4 and guided.drafted >= guided.kept
    # the closing '"}' that followed in the context is never drafted into the string
    assert fast.context == slow.context


def test_sampled_lines_come_from_the_same_distribution_with_drafts() -> None:
    # " open" (drafted from the context) is 0.62 likely after " is": a draft taken whole
    # would say "open" every time, one rejected wrongly less often.
    def share_open(lookahead: int) -> float:
        said = Counter(run(1.0, lookahead, seed)[0].split()[4] for seed in range(1500))
        return said["open"] / 1500

    expected = 1 / (1 + np.exp(-0.5))
    assert abs(share_open(0) - expected) < 0.045
    assert abs(share_open(4) - expected) < 0.045


def test_a_rejected_draft_is_forgotten_and_its_replacement_evaluated() -> None:
    for seed in range(40):
        out, _, model = run(1.0, 4, seed)
        if " shut" in out:
            break
    else:
        raise AssertionError("no seed chose ' shut' in 40")
    assert out == '{"say": "the window is shut at six."}'
    after = model.context[len(PROMPT):]
    assert T[b" open"] not in after  # the draft's " open" was taken back
    assert model.tokenize(b'{"say": "the window is shut at six.') == after


def test_accept_keeps_a_sure_draft_and_replaces_an_impossible_one() -> None:
    rng = np.random.default_rng(0)
    ids, p = np.array([1, 2]), np.array([1.0, 0.0])
    assert accept(ids, p, 1, rng, greedy=False) is None
    assert accept(ids, p, 2, rng, greedy=False) == 1
    ids, p = np.array([1, 0, 2]), np.array([0.7, 0.2, 0.1])
    assert accept(ids, p, 0, rng, greedy=True) == 1
    assert accept(ids, p, 1, rng, greedy=True) is None
