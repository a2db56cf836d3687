"""`python -m npc.bench.lore_gate`: which lines get lore, and how much, per relevance bar.

For each bar (npc/rag/relevance.py `MIN_SCORE`): the share of the lore questions
(sample_game/scenarios/lore_questions.json, each searched with its file's tags) whose
fact is still in the trimmed lore the turn is given, the share of small-talk lines
(sample_game/scenarios/small_talk.json, asked of every sample NPC) given no lore, and the
words of lore per question. The first row is the old behaviour: three whole chunks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tomllib
from typing import Any

from npc.bench.rag import LORE_DIR, load_questions
from npc.rag.index import LoreIndex
from npc.rag.lore import chunk_docs, load_lore
from npc.rag.relevance import LORE_WORDS, MIN_SCORE, relevant
from sample_game import HERE

SMALL_TALK = HERE / "scenarios" / "small_talk.json"
BARS = (0.0, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0)


def run(
    bars: tuple[float, ...] = BARS, k: int = 3, words: int = LORE_WORDS
) -> list[dict[str, Any]]:
    chunks = chunk_docs(load_lore(LORE_DIR))
    index = LoreIndex.from_chunks(chunks, None)
    knowledge = [tomllib.loads(p.read_text(encoding="utf-8"))["knowledge"]
                 for p in sorted((HERE / "npcs").glob("*.toml"))]
    questions = load_questions()
    scope = {c.doc: c.tags for c in chunks}
    small = json.loads(SMALL_TALK.read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = []
    whole = [[h.chunk.text for h in index.search(q.question, scope[q.doc], k)] for q in questions]
    rows.append(_row("3 whole chunks", questions, whole, [
        [h.chunk.text for h in index.search(line, tags, k)] for line in small for tags in knowledge
    ]))
    for bar in bars:
        given = [[p.text for p in relevant(index, q.question, scope[q.doc], k, min_score=bar,
                                           words=words)] for q in questions]
        chat = [[p.text for p in relevant(index, line, tags, k, min_score=bar, words=words)]
                for line in small for tags in knowledge]
        rows.append(_row(f"bar {bar:.2f}", questions, given, chat))
    return rows


def _row(name: str, questions: list[Any], given: list[list[str]],
         chat: list[list[str]]) -> dict[str, Any]:
    found = sum(any(q.answer_contains.lower() in t.lower() for t in texts)
                for q, texts in zip(questions, given, strict=True))
    sizes = [sum(len(t.split()) for t in texts) for texts in given]
    return {
        "setting": name,
        "fact_given": found / len(questions),
        "small_talk_no_lore": sum(not texts for texts in chat) / len(chat),
        "words_p50": statistics.median(sizes),
        "words_max": max(sizes),
        "small_talk_words_mean": statistics.fmean(sum(len(t.split()) for t in c) for c in chat),
    }


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| setting | fact given | small talk without lore | words p50 / max (questions) "
           "| words mean (small talk) |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        mark = " (default)" if r["setting"] == f"bar {MIN_SCORE:.2f}" else ""
        out.append(f"| {r['setting']}{mark} | {r['fact_given']:.3f} | "
                   f"{r['small_talk_no_lore']:.3f} | {r['words_p50']:.0f} / {r['words_max']} | "
                   f"{r['small_talk_words_mean']:.1f} |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--words", type=int, default=LORE_WORDS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    rows = run(words=args.words)
    print(table(rows))
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
