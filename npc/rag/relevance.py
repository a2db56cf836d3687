"""Lore a line needs, and only that: chunks whose match clears a bar, cut to their sentences.

Every token of lore in a turn's prompt is evaluated before the NPC's first word, at about
110 tokens/s on the 2-core CPU (docs/latency.md). So a hit is kept only when its match
with the line is absolute, not just the best of the rest (small talk finds no lore), and
each kept chunk is cut to the sentences that match the line, with a neighbour for context.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from npc.rag.index import LoreIndex, _dense_text
from npc.rag.lexical import tokenize
from npc.rag.lore import Chunk

# Chosen on sample_game/scenarios/lore_questions.json and small_talk.json, NPC-scoped
# (`python -m npc.bench.lore_gate`, docs/retrieval.md): at 2.0 the right chunk clears the
# bar for 50 of the 55 questions, 43 get their fact in the trimmed lore (53 with three
# whole chunks), and 97.5% of small-talk lines get no lore (with
# the conventional phrases taken out, below; 89% before).
MIN_SCORE = 2.0  # a chunk's BM25 score + DENSE_WEIGHT x its cosine with the line
DENSE_WEIGHT = 4.0
CHUNK_WEIGHT = 0.5  # share of its chunk's score in a sentence's: the best chunk's first
LORE_WORDS = 60  # words of lore in one turn (titles too), about 80 tokens

_END_MARKS = ".!?\"')"
# Conventional phrases (greetings, how-are-yous, thanks, goodbyes) ask about nothing, but
# their words can match lore: "Good morning" found "breakfast is at six in the morning".
# They are taken out of the line before it is matched; a line of nothing else gets no lore.
_PHRASE_END = r"(?=\s*(?:[,.!?;:]|\btoday\b|\bthen\b|$))"
CONVENTIONAL = re.compile(
    "|".join([
        r"\bgood\s+(?:morning|afternoon|evening|night|day)\b",
        r"^\s*(?:morning|afternoon|evening|night)" + _PHRASE_END,
        r"\b(?:hello|hi|hey|howdy|greetings)\b",
        r"\bhow(?:'s|\s+is|\s+are|\s+have)\s+(?:it|things|you|you\s+been|your\s+day|the\s+day"
        r"|life|everything)(?:\s+(?:going|doing))?" + _PHRASE_END,
        r"\b(?:have|enjoy)\s+(?:a|your)\s+(?:good|nice|great|lovely)\s+(?:day|night|evening"
        r"|shift|one)\b",
        r"\bsee\s+you(?:\s+(?:later|around|soon|tomorrow))?" + _PHRASE_END,
        r"\b(?:take\s+care|good-?bye|bye|farewell|maybe\s+later|no\s+thanks)\b",
        r"\bthank(?:s|\s+you)(?:\s+(?:so|very)\s+much)?\b",
        r"\bnice\s+to\s+(?:meet|see)\s+you\b",
    ]),
    re.IGNORECASE,
)
HEADING_WORDS = 8  # a line of no more words with no end mark is a section heading
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True, slots=True)
class Passage:
    """What a turn is told from one lore chunk: its sentences that match the line."""

    chunk: Chunk
    score: float  # the chunk's match: BM25 + DENSE_WEIGHT x cosine
    sentences: tuple[str, ...]  # those sentences, in the chunk's order

    @property
    def text(self) -> str:
        """"<title>: <sentences>", as a turn is told it."""
        return f"{self.chunk.title}: {' '.join(self.sentences)}"

    @property
    def words(self) -> int:
        return len(self.text.split())


def told(chunk: Chunk) -> list[str]:
    """What a turn may be told of `chunk`: its sentences, or all of it as one."""
    return sentences(chunk.text) or [chunk.text]


def sentences(text: str) -> list[str]:
    """A chunk's sentences, its section headings left out (a short line with no end
    mark): cut from its section, a heading only reads as a stray phrase."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line and (line[-1] in _END_MARKS or len(line.split()) > HEADING_WORDS):
            out += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
    return out


def relevant(
    index: LoreIndex,
    query: str,
    tags: Collection[str] | None,
    k: int = 3,
    *,
    min_score: float = MIN_SCORE,
    words: int = LORE_WORDS,
) -> list[Passage]:
    """Of the `k` best chunks for `query`, those that match it by at least `min_score`,
    best first, each cut to its sentences that match the line best: `words` words in all,
    but the best sentence always. Conventional phrases (`CONVENTIONAL`) are left out of
    the match: a line of nothing else gets no lore."""
    query = CONVENTIONAL.sub(" ", query)
    terms = set(tokenize(query))
    if not terms:
        return []
    hits = index.search(query, tags=tags, k=k)
    if not hits:
        return []
    vector = index.embedder.embed([_dense_text(index.embedder, query)])[0]
    bm25 = index.bm25.scores(list(terms))
    kept: list[tuple[Chunk, float]] = []
    for hit in hits:
        row = index.rows[hit.chunk.id]
        score = float(bm25[row]) + DENSE_WEIGHT * float(index.vectors[row] @ vector)
        if score >= min_score:
            kept.append((hit.chunk, score))
    if not kept:
        return []
    # Every sentence of the kept chunks competes for the budget, best match first; the
    # best one goes in first, then its better neighbour (context for it) if it fits.
    parts = [told(c) for c, _ in kept]
    flat = [(n, i) for n, p in enumerate(parts) for i in range(len(p))]
    alone = _sentence_scores(index, [parts[n][i] for n, i in flat], terms, vector)
    match = {key: x + CHUNK_WEIGHT * kept[key[0]][1]
             for key, x in zip(flat, alone, strict=True)}
    order = sorted(flat, key=lambda key: -match[key])
    picked: set[tuple[int, int]] = set()
    left = words

    def take(key: tuple[int, int]) -> None:
        nonlocal left
        picked.add(key)
        left -= len(parts[key[0]][key[1]].split())

    best = order[0]
    take(best)
    near = [(best[0], i) for i in (best[1] - 1, best[1] + 1) if 0 <= i < len(parts[best[0]])]
    near.sort(key=lambda key: -match[key])
    for key in [*near[:1], *order[1:]]:
        text = parts[key[0]][key[1]]
        # Past the neighbour, only a sentence that shares a word with the line: a short
        # one of a weak chunk would otherwise fill the budget with noise.
        fits = len(text.split()) <= left and (key in near or terms & set(tokenize(text)))
        if key not in picked and fits:
            take(key)
    out: list[Passage] = []
    for n, (chunk, chunk_score) in enumerate(kept):
        mine = sorted(i for m, i in picked if m == n)
        if mine:
            out.append(Passage(chunk, chunk_score, tuple(parts[n][i] for i in mine)))
    return out


def _sentence_scores(
    index: LoreIndex, parts: Sequence[str], terms: set[str], vector: np.ndarray
) -> list[float]:
    """Each sentence's match with the line: the IDF of the line's terms it holds, plus
    DENSE_WEIGHT x its cosine (which orders the sentences that share no word)."""
    vectors = index.embedder.embed([_dense_text(index.embedder, s) for s in parts])
    out = []
    for part, row in zip(parts, vectors, strict=True):
        shared = terms & set(tokenize(part))
        out.append(sum(_idf(index, t) for t in shared) + DENSE_WEIGHT * float(row @ vector))
    return out


def _idf(index: LoreIndex, term: str) -> float:
    bm25 = index.bm25
    tid = bm25.vocab.get(term)
    df = 0 if tid is None else int(bm25.indptr[tid + 1] - bm25.indptr[tid])
    return math.log(1 + (bm25.size - df + 0.5) / (df + 0.5))
