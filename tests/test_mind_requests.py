"""A line that asks for one of the NPC's actions gets no lore: the NPC acts at once, and
the prices it would read do not talk it out of acting (docs/latency.md, session 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.errors import ConfigError
from npc.factory import build_brain
from npc.mind.acting import asks_for
from tests.helpers import engine, run, running
from tests.mind_helpers import PAINT, FakeLlm, copy_game, mind, reply

BRAKKA = ["quote_price", "paint_mech", "repair_part", "swap_part", "open_door"]


@pytest.mark.parametrize(
    ("line", "asked"),
    [
        ("Paint my mech red.", "paint_mech"),
        ("Can you repair the arms on my mech?", "repair_part"),
        ("Sure thing. Open the cargo lift for me.", "open_door"),
        ("The cockpit is cracked, please repair it.", "repair_part"),
        ("Swap my autocannon for a laser.", "swap_part"),
        # Questions about an action, and lines that only name its verb, ask for nothing.
        ("How much would you charge to paint my mech red?", ""),
        ("What does a paint job cost?", ""),
        ("I like the paint on your mech.", ""),
        ("Is the cargo lift open?", ""),
        ("Tell me about the reactor in the north hangar.", ""),
        ("Painting is an art, you know.", ""),
    ],
)
def test_a_line_asks_for_an_action_by_its_verb(line: str, asked: str) -> None:
    assert asks_for(line, BRAKKA) == asked


def test_only_the_actions_at_hand_are_asked_for() -> None:
    assert asks_for("Paint my mech red.", ["check_clearance", "open_door"]) == ""
    assert asks_for("Open the armory, please.", ["check_clearance", "open_door"]) == "open_door"
    assert asks_for("Do it now.", ["none", "do"]) == ""  # a name's verb has 3 letters at least


def _lore_in(text: str) -> bool:
    return "Paint:" in text or "credits" in text


@pytest.mark.parametrize("request_lore", [False, True])
def test_a_request_for_an_action_is_answered_without_lore(
    tmp_path: Path, request_lore: bool
) -> None:
    llm = FakeLlm(reply("Red it is, kid."), reply("Forty extra."))
    brain = mind(llm, tmp_path, speculate=False, request_lore=request_lore)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", actions=[PAINT])
            await s.say("Paint my mech red.")
            await s.turn()
            await s.say("How much is a red paint job?")
            await s.turn()

    run(scenario)
    turns = [r for r in llm.requests if r.schema and "say" in r.schema["properties"]]
    asked, question = (r.messages[-1].content for r in turns)  # not the regard's judgement
    assert "Paint my mech red." in asked
    assert _lore_in(asked) == request_lore  # the request: lore only when asked to
    assert _lore_in(question)  # the price question still reads the price list


@pytest.mark.parametrize("key", ["request_lore", "speculate"])
def test_the_brain_table_takes_its_switches_as_booleans(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match=f"{key} must be true or false"):
        build_brain({"brain": {"kind": "mind", key: "yes"}}, copy_game(tmp_path))
