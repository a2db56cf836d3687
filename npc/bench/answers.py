"""Lore answers: does the NPC's reply to a lore question state the fact the lore holds?

Each question of sample_game/scenarios/lore_questions.json is typed, as a new player, to
the first NPC (Brakka, the quartermaster, the guard, the smuggler) whose knowledge
covers the question's lore file, with the engine actions the sample game declares for
it. A reply states the fact when every word of the question's `answer_contains` (its
numbers included) is in the line, case aside: "450 credits" needs "450" and "credits".
A strict test (a paraphrase such as "40 megawatts" for "forty megawatts" counts as a
miss), the same for every model, so it compares models and settings; it is not an
absolute score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from npc.bench.rag import LORE_DIR, load_questions
from npc.bench.scenarios import load, say, tools_for
from npc.mind.brain import MindBrain
from npc.rag.lore import chunk_docs, load_lore

ORDER = ("brakka", "quartermaster", "guard", "smuggler")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Answer:
    npc: str
    question: str
    fact: str
    line: str
    stated: bool


def fact_words(fact: str) -> set[str]:
    return set(_WORD.findall(fact.lower()))


def states(line: str, fact: str) -> bool:
    """Whether `line` holds every word of `fact` (case aside)."""
    return fact_words(fact) <= set(_WORD.findall(line.lower()))


async def run_answers(brain: MindBrain) -> list[Answer]:
    knows = {npc: set(brain.designs.npcs[npc].knowledge) for npc in ORDER}
    tags = {c.doc: set(c.tags) for c in chunk_docs(load_lore(LORE_DIR))}
    data = load()
    out = []
    for i, q in enumerate(load_questions()):
        npc = next((n for n in ORDER if knows[n] & tags[q.doc]), ORDER[0])
        said = await say(brain, npc, f"answers-{i}", q.question, tools_for(data, npc))
        out.append(Answer(npc, q.question, q.answer_contains, said.line,
                          states(said.line, q.answer_contains)))
    return out


def report(results: list[Answer], seconds: float) -> dict[str, Any]:
    right = sum(a.stated for a in results)
    print(f"\nLore answers ({len(results)}, sample_game/scenarios/lore_questions.json):")
    for a in results:
        mark = "ok " if a.stated else "-- "
        print(f"  {mark} {a.npc:<13} {a.question[:44]:<44} [{a.fact}] {a.line[:70]!r}")
    print(f"  fact stated {right}/{len(results)} = {right / len(results):.1%}; "
          f"{seconds / len(results):.1f} s per question")
    return {"stated": right, "total": len(results), "share": right / len(results),
            "seconds_per_question": seconds / len(results),
            "missed": [a.question for a in results if not a.stated]}
