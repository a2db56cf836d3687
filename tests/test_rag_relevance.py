"""Lore a turn is given: only chunks that match the line well enough, cut to the sentences
that match it (npc/rag/relevance.py), on the sample game's lore and question set."""

from __future__ import annotations

import json
import tomllib

import pytest

from npc.bench.lore_gate import SMALL_TALK, run
from npc.bench.rag import load_questions
from npc.rag.dense import default_embedder
from npc.rag.index import LoreIndex
from npc.rag.lore import load_lore
from npc.rag.relevance import CONVENTIONAL, LORE_WORDS, relevant, sentences
from sample_game import HERE

KNOWLEDGE = {p.stem: tomllib.loads(p.read_text(encoding="utf-8"))["knowledge"]
             for p in sorted((HERE / "npcs").glob("*.toml"))}


@pytest.fixture(scope="module")
def index() -> LoreIndex:
    return LoreIndex.build(load_lore(HERE / "lore"), None, default_embedder())


def test_sentences_split_at_sentence_ends_and_leave_out_headings() -> None:
    text = "Prices\nAn actuator is 450 credits. A hip joint, 700! Paint? 40 extra (red)."
    assert sentences(text) == ["An actuator is 450 credits.", "A hip joint, 700!",
                               "Paint?", "40 extra (red)."]
    assert sentences("Bay 7 opens at 6 a.m. sharp.") == ["Bay 7 opens at 6 a.m. sharp."]
    listed = "Stock: cells, pumps, seals, cable, rations, filters, paint and tea"
    assert sentences(f"Stores\n{listed}") == [listed]  # a long line is no heading


@pytest.mark.parametrize("line", ["How is your day going?", "Thanks for the help earlier.",
                                  "Hello there!", "You're a lazy, worthless idiot.",
                                  # their words match lore ("six in the morning", "night bell")
                                  "Good morning, how's the day going?", "Good night.",
                                  "No thanks, maybe later.", "Have a good night."])
def test_small_talk_gets_no_lore(index: LoreIndex, line: str) -> None:
    for npc, tags in KNOWLEDGE.items():
        assert relevant(index, line, tags) == [], npc


def test_a_question_gets_its_fact_in_a_few_sentences(index: LoreIndex) -> None:
    given = relevant(index, "Brakka, how much for a new actuator?", KNOWLEDGE["brakka"])
    assert given and any("450 credits" in p.text for p in given), given
    assert sum(p.words for p in given) <= LORE_WORDS + 10  # the titles' words too
    whole = index.search("Brakka, how much for a new actuator?", KNOWLEDGE["brakka"], k=3)
    assert sum(len(h.chunk.text.split()) for h in whole) > 3 * LORE_WORDS  # what it cut
    for p in given:  # titled, and every sentence given is the chunk's own
        title, _, text = p.text.partition(": ")
        assert title == p.chunk.title
        assert all(s in sentences(p.chunk.text) for s in sentences_of(text, p.chunk.text))


def test_a_greeting_leaves_the_question_after_it_its_lore(index: LoreIndex) -> None:
    question = "When is the stores window open?"
    alone = relevant(index, question, KNOWLEDGE["quartermaster"])
    greeted = relevant(index, f"Good morning! {question}", KNOWLEDGE["quartermaster"])
    assert any("six in the morning" in p.text for p in alone), alone
    assert [p.text for p in greeted] == [p.text for p in alone]
    # a phrase is taken out only whole: "the day shift" is a subject, not a how-are-you
    assert CONVENTIONAL.sub(" ", "How's the day shift going?").split()[1:3] == ["the", "day"]
    assert CONVENTIONAL.sub(" ", "How's the day going, Brakka?").split() == [",", "Brakka?"]


def sentences_of(text: str, chunk: str) -> list[str]:
    """The chunk's sentences that `text` is made of, in order (each must be found)."""
    parts = sentences(chunk)
    found = [s for s in parts if s in text]
    assert " ".join(found) == text, (text, found)
    return found


def test_secret_lore_stays_out_of_scope(index: LoreIndex) -> None:
    given = relevant(index, "What's the password for the duct?", KNOWLEDGE["guard"])
    assert all("smuggling" not in p.chunk.tags for p in given)


def test_on_the_question_set_most_facts_are_given_and_little_small_talk_gets_lore() -> None:
    rows = {r["setting"]: r for r in run(bars=(2.0,))}
    gated, whole = rows["bar 2.00"], rows["3 whole chunks"]
    assert gated["fact_given"] >= 0.75, gated  # 43 of 55 when chosen (three whole chunks: 53)
    assert gated["small_talk_no_lore"] >= 0.85, gated
    assert gated["words_p50"] <= whole["words_p50"] / 3, (gated, whole)
    assert len(json.loads(SMALL_TALK.read_text(encoding="utf-8"))) >= 30
    assert len(load_questions()) >= 55
