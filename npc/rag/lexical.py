"""Lexical side of retrieval: a small tokenizer and BM25 scores (built by bm25s, read by numpy)."""

from __future__ import annotations

import re

import numpy as np

from npc.registry import require

TOKENIZER_VERSION = "2"  # bump when tokenize() or content_words() change: caches hold them
_WORD = re.compile(r"[a-z0-9]+")
_SURFACE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
_STOPWORD_TEXT = """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t d ll m re ve tell know get got go let lets please hey oh ok okay well
    also much many thing things"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def stem(word: str) -> str:
    """A light suffix stripper: plurals, -ing, -ed (enough to match "cells" with "cell")."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # running -> runn -> run, but keep "hall", "pass"
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased word stems, stopwords left out."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def content_words(text: str) -> str:
    """The text without stopwords, for the embedder: an averaged static embedding is
    otherwise pulled towards "the", "is" and "how" that every text shares."""
    return " ".join(w for w in _SURFACE.findall(text) if w.lower() not in STOPWORDS)


class Bm25:
    """BM25 over chunk token lists. bm25s computes the per-term scores once (a sparse
    term x chunk matrix); a query adds up its terms' rows with numpy, which at 10,000
    chunks takes tens of microseconds rather than bm25s's general path of milliseconds."""

    def __init__(
        self, vocab: dict[str, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
        size: int,
    ) -> None:
        self.vocab = vocab
        self.data = data
        self.indices = indices
        self.indptr = indptr
        self.size = size  # chunks

    @classmethod
    def build(cls, corpus: list[list[str]]) -> Bm25:
        bm25s = require("bm25s", "embedded", "bm25s")
        # bm25s needs at least one token per document; an empty chunk matches nothing.
        docs = [tokens or [""] for tokens in corpus]
        model = bm25s.BM25(k1=1.2, b=0.75)
        model.index(docs, show_progress=False)
        scores = model.scores
        vocab = {str(t): int(i) for t, i in model.vocab_dict.items() if t}
        return cls(
            vocab,
            np.asarray(scores["data"], dtype=np.float32),
            np.asarray(scores["indices"], dtype=np.int32),
            np.asarray(scores["indptr"], dtype=np.int64),
            len(corpus),
        )

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for these query tokens (0 where no term matches)."""
        out = np.zeros(self.size, dtype=np.float32)
        for tid in {self.vocab[t] for t in tokens if t in self.vocab}:
            start, end = self.indptr[tid], self.indptr[tid + 1]
            # A term's postings name each chunk once, so fancy-index += is exact here.
            out[self.indices[start:end]] += self.data[start:end]
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """What the on-disk cache keeps."""
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        return {
            "bm25_terms": np.array(terms, dtype=str),
            "bm25_ids": np.array([self.vocab[t] for t in terms], dtype=np.int64),
            "bm25_data": self.data,
            "bm25_indices": self.indices,
            "bm25_indptr": self.indptr,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], size: int) -> Bm25:
        vocab = dict(zip(arrays["bm25_terms"].tolist(), arrays["bm25_ids"].tolist(), strict=True))
        return cls(
            vocab, arrays["bm25_data"], arrays["bm25_indices"], arrays["bm25_indptr"], size
        )
