"""With the real embedded model: the player's words move the NPC's regard, the rolling summary
is written, and toxicity steering changes what an independent classifier finds."""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from npc.bench.scenarios import say
from npc.llm.base import LlmRequest
from npc.llm.llama import LlamaCppLlm
from npc.mind.brain import REGARD, SUMMARY_AFTER, SUMMARY_KEEP, MindBrain
from tests.mind_helpers import FakeLlm, mind


class HeldLlm(FakeLlm):
    """FakeLlm that writes nothing until `release` is set."""

    def __init__(self, *outputs: str) -> None:
        super().__init__(*outputs)
        self.release = threading.Event()

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        while not self.release.wait(0.01):
            if cancel.is_set():
                return
        yield from super().stream(request, cancel)


def regard_after(brain: MindBrain, player: str, line: str) -> int:
    npc = brain.designs.npcs["quartermaster"]
    brain.memory.add_turn(npc.id, player, "player", line)
    asyncio.run(brain.reflect(npc, player))
    return brain.memory.relationship(npc.id, player).get(REGARD, 0)


def test_an_insult_lowers_regard_kind_words_raise_it_a_question_keeps_it(
    embedded_llm: LlamaCppLlm, tmp_path: Path
) -> None:
    brain = mind(embedded_llm, tmp_path)
    assert regard_after(brain, "rude", "You are a useless, stupid old fool. I hate you.") < 0
    assert regard_after(brain, "kind", "Thank you so much, you have been really kind.") > 0
    assert regard_after(brain, "asks", "Where is the north hangar?") == 0
    # The same line is judged once: reflecting again does not move it further.
    before = brain.memory.relationship("quartermaster", "rude")[REGARD]
    asyncio.run(brain.reflect(brain.designs.npcs["quartermaster"], "rude"))
    assert brain.memory.relationship("quartermaster", "rude")[REGARD] == before


def test_a_new_turn_cancels_the_judgement_before_it_moves_regard(tmp_path: Path) -> None:
    llm = HeldLlm('{"feeling": "colder"}')
    brain = mind(llm, tmp_path)
    npc = brain.designs.npcs["quartermaster"]

    async def turn_then_another() -> None:
        brain.memory.add_turn(npc.id, "p1", "player", "You idiot.")
        brain.summarize_later(npc, "p1")
        await asyncio.sleep(0.1)  # the judgement is under way, held
        brain.quiet()  # the next turn starts
        llm.release.set()
        await asyncio.sleep(0.1)

    asyncio.run(turn_then_another())
    assert len(llm.requests) == 1  # it had started
    assert brain.memory.relationship(npc.id, "p1") == {}
    asyncio.run(brain.reflect(npc, "p1"))  # not judged yet, so judged now
    assert brain.memory.relationship(npc.id, "p1") == {REGARD: -5}


def test_the_rolling_summary_is_written_from_old_turns(
    embedded_llm: LlamaCppLlm, tmp_path: Path
) -> None:
    brain = mind(embedded_llm, tmp_path)
    npc, memory = brain.designs.npcs["brakka"], brain.memory
    ids = []
    for i in range(SUMMARY_AFTER // 2):
        ids.append(memory.add_turn(npc.id, "p1", "player", f"My mech Redhawk needs part {i}."))
        ids.append(memory.add_turn(npc.id, "p1", "npc", f"Part {i} for Redhawk, coming up."))
    asyncio.run(brain.reflect(npc, "p1"))
    summary = memory.summary(npc.id, "p1")
    assert summary.upto_id == ids[-SUMMARY_KEEP - 1]
    assert "redhawk" in summary.text.lower()
    assert len(memory.since_summary(npc.id, "p1")) == SUMMARY_KEEP


def test_toxicity_changes_what_the_classifier_finds(
    embedded_llm: LlamaCppLlm, tmp_path: Path
) -> None:
    try:  # imported by name: the package ships no type hints
        classifier = importlib.import_module("profanity_check")
    except ImportError:
        pytest.skip("alt-profanity-check is not installed (pip install alt-profanity-check)")
    brain = mind(embedded_llm, tmp_path)

    async def line(toxicity: int) -> str:
        got = await say(brain, "brakka", f"p{toxicity}", "What do you think of pilots?", [],
                        {"toxicity": toxicity, "verbosity": 1})
        return got.line

    calm, rude = asyncio.run(line(0)), asyncio.run(line(4))
    offensive = [float(p) for p in classifier.predict_prob([calm, rude])]
    assert offensive[0] < 0.5 < offensive[1], (calm, rude, offensive)
