"""Matching the player's line against goals' Intent phrases with the lore embedder.

A line matches an intent when its embedding (content words, as lore retrieval embeds
them) is at least `threshold` cosine-similar to one of the intent's phrases. With the
shipped WordLlama embedder one line takes well under a millisecond. The threshold is
chosen on a labelled set of lines (tests/data/intents.json): run
`python -m npc.script.intent tests/data/intents.json` for its precision and recall.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from npc.rag.dense import Embedder, default_embedder
from npc.rag.lexical import content_words


class IntentMatcher:
    """Scores lines against phrases; phrase vectors are computed once and kept."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder
        self._phrases: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        e = self.embedder
        return e.embed([content_words(t) if e.content_words else t for t in texts])

    def score(self, text: str, phrases: Sequence[str]) -> float:
        """The best cosine similarity of `text` to any of `phrases` (blocking, thread-safe)."""
        return float(self.scores(text, [phrases])[0])

    def scores(self, text: str, intents: Sequence[Sequence[str]]) -> list[float]:
        """`score` for each intent's phrases, with the line embedded once."""
        if not text.strip() or not intents:
            return [0.0] * len(intents)
        with self._lock:
            missing = [p for ps in intents for p in ps if p not in self._phrases]
            if missing:
                for phrase, vector in zip(missing, self._embed(missing), strict=True):
                    self._phrases[phrase] = vector
            table = [np.stack([self._phrases[p] for p in ps]) for ps in intents]
        line = self._embed([text])[0]
        return [float((vectors @ line).max()) for vectors in table]


def sweep(path: Path, matcher: IntentMatcher | None = None) -> list[tuple[float, float, float]]:
    """(threshold, precision, recall) on a labelled set, thresholds 0.50-0.95 by 0.01.

    A line is a true match when its best-scoring intent is its label and the score is at
    or over the threshold; a false one when it scores over for any other intent (or has
    no label). Recall counts labelled lines matched correctly.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    matcher = matcher or IntentMatcher()
    names = list(data["intents"])
    best: list[tuple[str, float, str | None]] = []
    for text, label in data["lines"]:
        scores = matcher.scores(text, [data["intents"][n] for n in names])
        i = int(np.argmax(scores))
        best.append((names[i], scores[i], label))
    labelled = sum(1 for *_, label in best if label)
    out = []
    for t in np.arange(0.50, 0.955, 0.01):
        hits = [(name, label) for name, score, label in best if score >= t]
        right = sum(1 for name, label in hits if name == label)
        precision = right / len(hits) if hits else 1.0
        out.append((round(float(t), 2), precision, right / labelled if labelled else 0.0))
    return out


def latency_ms(path: Path, rounds: int = 10) -> tuple[float, float]:
    """(p50, p95) ms to score one line of the set against all its intents (phrases cached)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    matcher = IntentMatcher()
    intents = list(data["intents"].values())
    matcher.scores("warm up", intents)
    times = []
    for _ in range(rounds):
        for text, _label in data["lines"]:
            began = time.perf_counter()
            matcher.scores(text, intents)
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.95)]


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "tests/data/intents.json")
    print("threshold precision recall")
    for t, p, r in sweep(path):
        print(f"{t:9.2f} {p:9.3f} {r:6.3f}")
    p50, p95 = latency_ms(path)
    print(f"one line against every intent: {p50:.3f} ms p50, {p95:.3f} ms p95")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
