"""Prompt lookup: tokens drafted from the context, checked by the model in one batch.

A line often says again what its context holds: the player's words ("Good morning,"), a
lore sentence ("The window is open from six in the morning..."), a name from the persona.
After each token of a free string the guided decoder (npc/llm/guided_decode.py) looks for
the last two tokens earlier in the context and drafts up to `DRAFT_TOKENS` of what followed
them there. The token and its draft are evaluated in one batch with the logits after each,
and the draft is taken as far as sampling would have taken it: a token the sampler would
give probability p is kept with probability p, and where one is not kept the next token is
sampled from what is left (greedy: kept while it is the most likely). So the line is drawn
from the same distribution as without drafts, and a batch of 1 + 4 tokens costs about 1.8
single steps on this CPU (73 against 40 ms on two threads at 1,000 tokens of context), so
a draft that holds for one token or more pays (docs/latency.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DRAFT_TOKENS = 4  # the most tokens drafted after one sampled token
KEY = 2  # tokens matched: the one sampled and the one before it (one alone drafts noise)
NpArray = Any


def draft(context: Sequence[int] | NpArray, token: int, limit: int = DRAFT_TOKENS) -> list[int]:
    """What followed the latest earlier occurrence of (`context`'s last token, `token`) in
    `context`, up to `limit` tokens; [] when the pair is not found."""
    ids = np.asarray(context, dtype=np.int64)
    if limit <= 0 or len(ids) < KEY:
        return []
    last = int(ids[-1])
    # positions i where ids[i] == last and ids[i + 1] == token, with something after
    hits = np.flatnonzero((ids[:-2] == last) & (ids[1:-1] == token))
    if not len(hits):
        return []
    start = int(hits[-1]) + KEY
    return [int(t) for t in ids[start : start + limit]]


def accept(
    ids: NpArray, probs: NpArray, token: int, rng: np.random.Generator, greedy: bool
) -> int | None:
    """Keep the drafted `token` under the sampling distribution (the candidate `ids` and
    their `probs`, as `guided_decode.candidates` gives them): None, or the token to put in
    its place. Greedy, the most likely; else `token` is kept with its probability, and a
    replacement is drawn from the rest (speculative sampling with a draft that is sure of
    its token)."""
    if greedy:
        best = int(ids[int(np.argmax(probs))])
        return None if best == token else best
    mine = ids == token
    if rng.random() < probs[mine].sum():
        return None
    order = np.argsort(ids)  # by token id, as over the whole vocabulary
    ids, rest = ids[order], np.where(mine, 0.0, probs)[order]
    total = rest.sum()
    if total <= 0:  # the draft held all the mass: nothing else could come
        return None
    kept = np.flatnonzero(rest)
    return int(ids[kept[rng.choice(len(kept), p=rest[kept] / total)]])
