"""LoreIndex: hybrid BM25 + dense retrieval over lore chunks, scoped by tags, cached on disk."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from npc.rag.dense import Embedder, default_embedder
from npc.rag.fusion import RRF_K, rrf, top
from npc.rag.lexical import TOKENIZER_VERSION, Bm25, content_words, tokenize
from npc.rag.lore import Chunk, LoreDoc, chunk_docs
from npc.rag.terms import proper_names

log = logging.getLogger(__name__)

CACHE_FORMAT = "lore-index-1"
CACHED = ("vectors", "bm25_terms", "bm25_ids", "bm25_data", "bm25_indices", "bm25_indptr")
Mode = Literal["hybrid", "bm25", "dense"]
DEPTH = 50  # candidates each ranking gives the fusion
MAX_TERMS = 50
BLOCK = 1024  # rows per dense dot product (see similarities)


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved chunk and its fused score (higher is better; comparable within a query)."""

    chunk: Chunk
    score: float


def similarities(vectors: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Dot product of every row with `vector`, in blocks of BLOCK rows.

    One big product makes OpenBLAS wake its thread pool, which on a busy 2-core machine
    turns 0.2 ms into 10 ms at the 95th percentile; blocks stay on the calling thread.
    """
    out = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), BLOCK):
        np.dot(vectors[start : start + BLOCK], vector, out=out[start : start + BLOCK])
    return out


def content_key(chunks: list[Chunk], embedder: Embedder) -> str:
    """Hash of everything an index is built from: chunk contents, embedder, tokenizer."""
    h = hashlib.sha256(f"{CACHE_FORMAT}\0{embedder.id}\0{TOKENIZER_VERSION}\0".encode())
    for c in chunks:
        tags = ",".join(sorted(c.tags))
        h.update(f"{c.id}\0{c.title}\0{tags}\0{c.text}\0\0".encode())
    return h.hexdigest()


class LoreIndex:
    """Immutable once built, so any number of threads may search it at once.

    `rrf_k` is a setting (the fusion constant), to change only before searching.
    """

    def __init__(
        self, chunks: list[Chunk], bm25: Bm25, vectors: np.ndarray, embedder: Embedder
    ) -> None:
        self.chunks = chunks
        self.bm25 = bm25
        self.vectors = vectors  # (chunks, dim) float32, unit rows
        self.embedder = embedder
        self.from_cache = False  # whether build() found this index on disk
        self.rrf_k = RRF_K
        self.rows = {c.id: i for i, c in enumerate(chunks)}  # chunk id -> row
        tags = sorted({t for c in chunks for t in c.tags})
        self._tag_column = {t: i for i, t in enumerate(tags)}
        self._tag_matrix = np.zeros((len(chunks), len(tags)), dtype=bool)
        for row, c in enumerate(chunks):
            self._tag_matrix[row, [self._tag_column[t] for t in c.tags]] = True
        self._masks: dict[frozenset[str], np.ndarray] = {}
        self._terms: dict[frozenset[str] | None, list[str]] = {}

    @classmethod
    def build(
        cls, docs: list[LoreDoc], cache_dir: Path | None, embedder: Embedder | None = None
    ) -> LoreIndex:
        """Chunk `docs` and index them, or load the index cached for the same content."""
        return cls.from_chunks(chunk_docs(docs), cache_dir, embedder)

    @classmethod
    def from_chunks(
        cls, chunks: list[Chunk], cache_dir: Path | None, embedder: Embedder | None = None
    ) -> LoreIndex:
        embedder = embedder or default_embedder()
        path = None
        if cache_dir is not None:
            path = cache_dir / f"lore-{content_key(chunks, embedder)[:24]}.npz"
            arrays = _load(path, len(chunks), embedder.dim)
            if arrays is not None:
                index = cls(chunks, Bm25.from_arrays(arrays, len(chunks)), arrays["vectors"],
                            embedder)
                index.from_cache = True
                return index
        began = time.perf_counter()
        bm25 = Bm25.build([tokenize(c.indexed) for c in chunks])
        vectors = embedder.embed([_dense_text(embedder, c.indexed) for c in chunks])
        log.info("indexed %d lore chunks in %.2f s", len(chunks), time.perf_counter() - began)
        if path is not None:
            _save(path, {"vectors": vectors, **bm25.arrays()})
        return cls(chunks, bm25, vectors, embedder)

    def _mask(self, tags: Collection[str]) -> np.ndarray:
        """Rows of the chunks whose tags meet `tags` (computed once per tag set)."""
        key = frozenset(tags)
        cached = self._masks.get(key)
        if cached is not None:
            return cached
        columns = [self._tag_column[t] for t in key if t in self._tag_column]
        mask: np.ndarray = np.asarray(self._tag_matrix[:, columns].any(axis=1))
        if len(self._masks) < 256:  # NPCs share a few tag sets; don't grow without bound
            self._masks[key] = mask
        return mask

    def rank(self, query: str, mode: Mode, tags: Collection[str] | None, depth: int) -> np.ndarray:
        """Chunk rows for `query`, best first, at most `depth` (bm25 or dense alone)."""
        mask = None if tags is None else self._mask(tags)
        if mode == "bm25":
            scores = self.bm25.scores(tokenize(query))
            if mask is not None:
                scores[~mask] = 0.0
            return top(scores, depth, floor=0.0)
        vector = self.embedder.embed([_dense_text(self.embedder, query)])[0]
        if not vector.any():
            return np.zeros(0, dtype=np.int64)
        sims = similarities(self.vectors, vector)
        if mask is not None:
            sims[~mask] = -np.inf
        return top(sims, depth, floor=-np.inf)

    def search(
        self,
        query: str,
        tags: Collection[str] | None = None,
        k: int = 5,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """The `k` chunks that best answer `query`, among those whose tags meet `tags`.

        `tags=None` searches everything. Hybrid fuses the BM25 and dense rankings by
        reciprocal rank; "bm25" and "dense" use one ranking alone (for benchmarks).
        """
        if not self.chunks or k <= 0:
            return []
        depth = max(DEPTH, k)
        if mode == "hybrid":
            fused = rrf(
                [self.rank(query, "bm25", tags, depth), self.rank(query, "dense", tags, depth)],
                [1.0, 1.0],
                self.rrf_k,
            )
            return [Hit(self.chunks[i], score) for i, score in fused[:k]]
        rows = self.rank(query, mode, tags, k)
        return [Hit(self.chunks[i], 1.0 / (1 + r)) for r, i in enumerate(rows.tolist())]

    def terms(self, tags: Collection[str] | None = None) -> list[str]:
        """Proper names from the lore in scope (people, places, machines), most widespread
        first, at most 50: vocabulary hints for speech recognition."""
        key = None if tags is None else frozenset(tags)
        cached = self._terms.get(key)
        if cached is None:
            rows = range(len(self.chunks)) if tags is None else np.flatnonzero(self._mask(tags))
            chunks = [self.chunks[int(row)] for row in rows]
            cached = proper_names(((c.doc, c.text) for c in chunks), MAX_TERMS)
            self._terms[key] = cached
        return cached


def _dense_text(embedder: Embedder, text: str) -> str:
    return content_words(text) if embedder.content_words else text


def _load(path: Path, size: int, dim: int) -> dict[str, np.ndarray] | None:
    """The arrays cached at `path`, or None when missing or unreadable (then rebuilt)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        log.warning("lore index cache %s unreadable (%s); rebuilding", path, e)
        return None
    if any(name not in arrays for name in CACHED) or arrays["vectors"].shape != (size, dim):
        log.warning("lore index cache %s does not fit the lore; rebuilding", path)
        return None
    return arrays


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: a reader never sees half a file. A failure only costs the cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError as e:
        log.warning("cannot write lore index cache in %s: %s", path.parent, e)
        return
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except OSError as e:
        log.warning("cannot write lore index cache %s: %s", path, e)
        Path(tmp).unlink(missing_ok=True)
