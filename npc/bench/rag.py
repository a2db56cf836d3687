"""`npc-bridge bench rag`: recall@5 and query latency of lore retrieval at 10,000 chunks."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.bench.report import cpu_model
from npc.bench.lore_synth import distractor_chunks
from npc.rag.dense import EMBEDDERS, Embedder
from npc.rag.fusion import RRF_K
from npc.rag.index import LoreIndex, Mode
from npc.rag.lore import Chunk, chunk_docs, load_lore
from npc.registry import require
from sample_game import HERE

LORE_DIR = HERE / "lore"
QUESTIONS = HERE / "scenarios" / "lore_questions.json"
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")


@dataclass(frozen=True, slots=True)
class Question:
    """A player's question and where its answer is: the lore file and a fact in the chunk."""

    question: str
    doc: str
    answer_contains: str


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    return [Question(**q) for q in json.loads(path.read_text(encoding="utf-8"))]


def answers(chunk: Chunk, q: Question) -> bool:
    """Whether `chunk` is the right one: from the question's file and holding the fact."""
    return chunk.doc == q.doc and q.answer_contains.lower() in chunk.text.lower()


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _measure(
    search: Callable[[str], list[Chunk]], questions: list[Question], repeats: int
) -> dict[str, Any]:
    """recall@5 over the questions (first pass), and per-query latency over `repeats` passes."""
    found = sum(any(answers(c, q) for c in search(q.question)[:5]) for q in questions)
    times = []
    for _ in range(repeats):
        for q in questions:
            began = time.perf_counter()
            search(q.question)
            times.append(1000 * (time.perf_counter() - began))
    times.sort()
    missed = [q.question for q in questions if not any(answers(c, q) for c in search(q.question))]
    return {
        "recall_at_5": found / len(questions),
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (len(times) - 1))],
        "missed": missed,
    }


def _bm25s_stock(chunks: list[Chunk]) -> Callable[[str], list[Chunk]]:
    """The baseline: bm25s's own tokenizer (English stopwords) and `retrieve`."""
    bm25s = require("bm25s", "embedded", "bm25s")
    model = bm25s.BM25(k1=1.2, b=0.75)
    model.index(bm25s.tokenize([c.indexed for c in chunks], stopwords="en",
                               show_progress=False), show_progress=False)

    def search(query: str) -> list[Chunk]:
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        rows, _ = model.retrieve(tokens, k=5, show_progress=False, n_threads=1)
        return [chunks[int(i)] for i in rows[0]]

    return search


def _runs(
    index: LoreIndex,
    common: dict[str, Any],
    questions: list[Question],
    scopes: dict[str, frozenset[str]] | None,
    repeats: int,
) -> list[dict[str, Any]]:
    """One index measured each way: bm25, dense, hybrid, hybrid at RRF k=60, scoped."""
    runs = []
    for mode in MODES:
        def search(query: str, mode: Mode = mode) -> list[Chunk]:
            return [h.chunk for h in index.search(query, k=5, mode=mode)]

        runs.append({**common, "mode": mode, **_measure(search, questions, repeats)})
    index.rrf_k = 60
    runs.append({**common, "mode": "hybrid, RRF k=60", **_measure(
        lambda query: [h.chunk for h in index.search(query, k=5)], questions, repeats)})
    index.rrf_k = RRF_K
    if scopes is not None:
        doc_of = {q.question: q.doc for q in questions}

        def scoped(query: str) -> list[Chunk]:
            return [h.chunk for h in index.search(query, tags=scopes[doc_of[query]], k=5)]

        runs.append({**common, "mode": "hybrid, NPC-scoped",
                     **_measure(scoped, questions, repeats)})
    return runs


def run_rag_bench(
    lore_dir: Path = LORE_DIR,
    questions_path: Path = QUESTIONS,
    chunks: int = 10_000,
    embedders: Sequence[str] = ("wordllama",),
    repeats: int = 5,
    seed: int = 7,
    near: float = 0.5,
    scoped: bool = True,
) -> dict[str, Any]:
    """Retrieval figures over the real lore padded with synthetic distractors to `chunks`.

    Per embedder: uncached and cached index build time, then for bm25 alone, dense
    alone and hybrid (RRF): recall@5 on the question set and p50/p95 query latency.
    `near` is the share of distractors on the questions' own subjects (lore_synth).
    `scoped` adds hybrid searches limited to the tags of each question's lore file,
    as an NPC's knowledge limits them. The bm25s stock retrieve path is the baseline.
    """
    questions = load_questions(questions_path)
    real = chunk_docs(load_lore(lore_dir))
    tags = {c.doc: c.tags for c in real}
    began = time.perf_counter()
    corpus = real + distractor_chunks(max(0, chunks - len(real)), seed, near)
    _say(f"{len(real)} lore chunks + {len(corpus) - len(real)} distractors "
         f"({time.perf_counter() - began:.1f} s to generate)")
    result: dict[str, Any] = {
        "machine": f"{cpu_model()}, {platform.machine()}",
        "chunks": len(corpus),
        "near_share": near,
        "questions": len(questions),
        "repeats": repeats,
        "runs": [],
    }
    base = _measure(_bm25s_stock(corpus), questions, repeats)
    result["runs"].append({"embedder": "-", "mode": "bm25s stock (baseline)", **base})
    for name in embedders:
        began = time.perf_counter()
        embedder: Embedder = EMBEDDERS[name]()
        load_s = time.perf_counter() - began
        _say(f"{embedder.id}: loaded in {load_s:.2f} s; indexing ...")
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            LoreIndex.from_chunks(corpus, Path(tmp), embedder)
            build_s = time.perf_counter() - began
            began = time.perf_counter()
            index = LoreIndex.from_chunks(corpus, Path(tmp), embedder)
            cached_s = time.perf_counter() - began
            assert index.from_cache
        common = {"embedder": embedder.id, "load_s": load_s, "build_s": build_s,
                  "cached_build_s": cached_s}
        result["runs"] += _runs(index, common, questions, tags if scoped else None, repeats)
    return result


def table(result: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    lines = [
        f"{result['chunks']} chunks, {result['questions']} questions x {result['repeats']} "
        f"timed passes, on {result['machine']}",
        "",
        f"distractors: {result['near_share']:.0%} on the questions' subjects; hybrid is RRF "
        f"k={RRF_K} unless named",
        "",
        "| embedder | mode | recall@5 | p50 ms | p95 ms | build s (uncached / cached) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        build = f"{r['build_s']:.2f} / {r['cached_build_s']:.3f}" if "build_s" in r else "-"
        lines.append(f"| {r['embedder']} | {r['mode']} | {r['recall_at_5']:.3f} | "
                     f"{r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {build} |")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chunks", type=int, default=10_000, help="index size, lore + distractors")
    p.add_argument("--embedders", default="wordllama",
                   help=f"comma list of {', '.join(EMBEDDERS)} (default wordllama)")
    p.add_argument("--repeats", type=int, default=5, help="timed passes over the questions")
    p.add_argument("--seed", type=int, default=7, help="distractor generator seed")
    p.add_argument("--near", type=float, default=0.5,
                   help="share of distractors on the questions' subjects (default 0.5)")
    p.add_argument("--lore", type=Path, default=LORE_DIR, help="lore folder")
    p.add_argument("--questions", type=Path, default=QUESTIONS, help="question set (JSON)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")


def run_from_args(args: argparse.Namespace) -> int:
    result = run_rag_bench(
        lore_dir=args.lore, questions_path=args.questions, chunks=args.chunks,
        embedders=[e.strip() for e in args.embedders.split(",") if e.strip()],
        repeats=args.repeats, seed=args.seed, near=args.near,
    )
    print(table(result))
    for r in result["runs"]:
        if r["missed"]:
            print(f"missed by {r['embedder']} {r['mode']}: {'; '.join(r['missed'])}")
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="npc-bridge bench rag", description=__doc__)
    add_arguments(p)
    return run_from_args(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
