"""The thinking brain keeps the NPC up when things go wrong: junk from the model, an action
it may not use, an engine that never answers, a broken designer file, a bad steer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bridge.errors import DesignerError, ProtocolError
from bridge.messages import Error
from sample_game.world import World
from tests.helpers import engine, run, running
from tests.mind_helpers import GIVE, PAINT, FakeLlm, copy_game, mind, reply

GOOD = reply("Hold still, kid.")


def test_junk_from_the_model_is_an_error_and_the_npc_stays_up(tmp_path: Path) -> None:
    llm = FakeLlm("Sure thing, kid! I'll get right on it.", GOOD)
    brain = mind(llm, tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.say("Fix my legs.")
            turn = await s.turn()
            assert [e.code for e in turn.errors] == ["bad-model-output"]
            assert "not JSON" in turn.errors[0].reason and turn.errors[0].stage == "llm"
            assert turn.text == brain.designs.npcs["brakka"].lines["confused"]
            assert turn.end is not None and turn.end.reason == "done"
            await s.say("Fix my legs, please.")
            assert (await s.turn()).text == "Hold still, kid."

    run(scenario)


def test_an_action_the_npc_may_not_use_is_never_run(tmp_path: Path) -> None:
    # The guard has no give_item: even a model that asks for it gets nothing handed out.
    llm = FakeLlm(reply("Here you go.", "give_item", item="power cell", count=2), GOOD)
    brain = mind(llm, tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("guard", actions=[PAINT])
            await s.say("Give me two power cells.")
            turn = await s.turn()
            assert [e.code for e in turn.errors] == ["bad-model-output"]
            assert "give_item" in turn.errors[0].reason
            assert not turn.actions
            schema = llm.requests[0].schema
            assert schema is not None
            names = [c["properties"]["name"]["const"]
                     for c in schema["properties"]["action"]["anyOf"]]
            assert names == ["none", "check_clearance", "paint_mech"]
            await s.say("Good evening.")
            assert (await s.turn()).text == "Hold still, kid."

    run(scenario)


def test_arguments_that_break_the_schema_are_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    llm = FakeLlm(reply("Forty cells, coming up.", "give_item", item="power cell", count=40))
    brain = mind(llm, tmp_path)
    world = World({"player-1": 500})
    before = dict(world.stock)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session(
                "quartermaster", actions=[GIVE], on_action=world.handler("player-1"))
            await s.say("Forty power cells.")
            turn = await s.turn()
            assert [(e.code, e.stage) for e in turn.errors] == [("bad-action", "actions")]
            assert "count" in turn.errors[0].reason

    run(scenario)
    assert before == world.stock


def test_an_engine_that_never_answers_gets_an_in_character_line(tmp_path: Path) -> None:
    llm = FakeLlm(reply("Red it is.", "paint_mech", color="red"), "not json either")
    brain = mind(llm, tmp_path, action_timeout_s=0.3)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", actions=[PAINT])  # no handler: no answer
            await s.say("Paint my mech red.")
            turn = await s.turn(timeout=10)
            assert [a.name for a in turn.actions] == ["paint_mech"]
            no_answer = brain.designs.npcs["brakka"].lines["no_answer"]
            assert turn.text == f"Red it is. {no_answer}"
            assert turn.end is not None and turn.end.reason == "done"

    run(scenario)


def test_a_failed_engine_action_is_reported_in_character(tmp_path: Path) -> None:
    llm = FakeLlm(reply("Red it is.", "paint_mech", color="red"),
                  reply("Out of red paint, kid."))
    brain = mind(llm, tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session(
                "brakka", actions=[PAINT], on_action=lambda c: (False, None, "no red paint")
            )
            await s.say("Paint my mech red.")
            turn = await s.turn(timeout=10)
            assert turn.text == "Red it is. Out of red paint, kid."
            follow_up = llm.requests[1].messages[-1].content
            assert "no red paint" in follow_up

    run(scenario)


def test_a_broken_npc_file_keeps_the_last_good_version_serving(tmp_path: Path) -> None:
    game = copy_game(tmp_path / "game")
    brain = mind(FakeLlm(GOOD), tmp_path, game=game)
    path = game / "npcs" / "brakka.toml"
    good = path.read_text()
    path.write_text(good.replace('name = "Brakka"', 'name = "Brakka the Second"\npersna = "x"'))
    change = brain.designs.poll()
    assert len(change.errors) == 1
    error = change.errors[0]
    assert isinstance(error, DesignerError) and error.path == str(path) and error.line == 4
    assert "unknown key 'persna' (did you mean 'persona'?)" in str(error)
    assert brain.designs.npcs["brakka"].name == "Brakka"  # the last good version

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            assert s.opened is not None and s.opened.npc_name == "Brakka"
            await s.say("Hello.")
            assert (await s.turn()).text == "Hold still, kid."

    run(scenario)
    path.write_text(good.replace('name = "Brakka"', 'name = "Brakka the Second"'))
    assert brain.designs.poll().npcs == ("brakka",)
    assert brain.designs.npcs["brakka"].name == "Brakka the Second"


def test_a_steer_with_a_bad_attribute_is_an_error_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    brain = mind(FakeLlm(GOOD), tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.steer(sarcasm=3)
            err = await s.next()
            assert isinstance(err, Error) and "sarcasm" in err.reason
            await s.say("Hi.")
            assert (await s.turn()).text == "Hold still, kid."
            with pytest.raises(ProtocolError):
                await client.open_session("nobody")

    run(scenario)


def test_a_cancelled_turn_keeps_what_was_said_in_memory(tmp_path: Path) -> None:
    class SlowLlm(FakeLlm):
        def stream(self, request, cancel):  # type: ignore[no-untyped-def]
            for piece in super().stream(request, cancel):
                yield piece
                cancel.wait(0.2)

    brain = mind(SlowLlm(reply("Well now, kid, let me tell you a long story about mechs.")),
                 tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", player="renn")
            await s.say("Tell me a story.")
            await asyncio.sleep(1.5)
            await s.cancel()
            turn = await s.turn()
            assert turn.end is not None and turn.end.reason == "cancelled"

    run(scenario)
    memory = brain.memory.__class__(tmp_path / "memory.sqlite3")
    roles = [(t.role, t.text) for t in memory.recent("brakka", "renn", 5)]
    assert roles[0] == ("player", "Tell me a story.")
    assert roles[1][0] == "npc" and roles[1][1].startswith("Well now")
    memory.close()
