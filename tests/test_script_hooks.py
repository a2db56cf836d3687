"""Turn hooks and hook safety through the bridge, on a FakeLlm (the plumbing, not the model)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bridge.messages import ActionCall, Error, GameEvent, TurnStart
from npc.llm.base import LlmRequest
from npc.script.loader import ScriptOptions
from tests.helpers import engine, run, running, talk
from tests.mind_helpers import PAINT, FakeLlm, reply
from tests.script_helpers import scripted

FACTS = """
@before_turn(npc="brakka")
def facts(npc: Npc, turn: Turn) -> None:
    turn.facts.append("The north reactor is leaking coolant today.")
    turn.text = turn.text.replace("that thing", "the reactor")
"""


def replies(llm: FakeLlm) -> list[LlmRequest]:
    """The requests for an NPC's line (not the regard or summary work after a turn)."""
    return [r for r in llm.requests if r.schema and "say" in r.schema.get("properties", {})]


def last_user(llm: FakeLlm) -> str:
    return replies(llm)[-1].messages[-1].content


def test_before_turn_changes_what_the_npc_hears_and_adds_a_fact(tmp_path: Path) -> None:
    llm = FakeLlm(reply("It leaks, kid."))
    brain = scripted(llm, tmp_path, FACTS)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            turn = await talk(s, "how is that thing doing?")
            assert turn.text == "It leaks, kid."
            heard = last_user(llm)
            assert "leaking coolant" in heard and "how is the reactor doing?" in heard, heard
            assert "that thing" not in heard
            other = await client.open_session("quartermaster")  # npc="brakka" only
            await talk(other, "how is that thing doing?")
            assert "leaking coolant" not in last_user(llm)
            assert "that thing" in last_user(llm)

    run(scenario)


ANSWER = """
@before_turn()
def canned(npc: Npc, turn: Turn) -> None:
    if "password" in turn.text:
        turn.answer("I never heard of any password.", emotion="fear")
"""


def test_before_turn_answer_replaces_the_generated_reply(tmp_path: Path) -> None:
    llm = FakeLlm(reply("Generated."))
    brain = scripted(llm, tmp_path, ANSWER)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            turn = await talk(s, "what is the password?")
            assert turn.text == "I never heard of any password."
            assert replies(llm) == []  # nothing generated
            turn = await talk(s, "hello")
            assert turn.text == "Generated."

    run(scenario)


VETO = """
@after_turn(npc="brakka")
def careful(npc: Npc, turn: Turn) -> None:
    if turn.action == "paint_mech" and turn.arguments.get("color") == "black":
        turn.veto_action("black paint is for the Dock Authority only")
"""


def test_after_turn_vetoes_an_action_the_engine_never_gets(tmp_path: Path) -> None:
    llm = FakeLlm(
        reply("Black it is.", "paint_mech", color="black"),
        reply("Red it is.", "paint_mech", color="red"),
    )
    brain = scripted(llm, tmp_path, VETO)
    calls: list[ActionCall] = []

    def paint(call: ActionCall) -> tuple[bool, object, str]:
        calls.append(call)
        return True, "painted", ""

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", actions=[PAINT], on_action=paint)
            turn = await talk(s, "paint my mech black")
            assert turn.text == "Black it is."
            assert not any(isinstance(m, ActionCall) for m in turn.messages)
            turn = await talk(s, "then paint it red")  # not vetoed: the call goes out
            assert [c.arguments for c in calls] == [{"color": "red"}], turn.messages
            stored = brain.memory.recent("brakka", "player-1", 10)
            assert any(t.role == "action" and "black paint" in t.text for t in stored)

    run(scenario)


HOLD = """
@after_turn(npc="brakka", hold=True)
def polite(npc: Npc, turn: Turn) -> None:
    if "idiot" in turn.say:
        turn.veto(say="Let's keep it civil.")
"""


def test_a_holding_after_turn_hook_replaces_the_line_before_it_is_sent(tmp_path: Path) -> None:
    llm = FakeLlm(reply("Listen, idiot."), reply("Fine."))
    brain = scripted(llm, tmp_path, HOLD)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            turn = await talk(s, "hey")
            assert turn.text == "Let's keep it civil."
            deltas = "".join(getattr(m, "text", "") for m in turn.messages
                             if m.TYPE == "dialogue-delta")
            assert "idiot" not in deltas, turn.messages
            turn = await talk(s, "hey again")
            assert turn.text == "Fine."

    run(scenario)


BROKEN = """
import time

@before_turn(npc="brakka")
def broken(npc: Npc, turn: Turn) -> None:
    turn.facts.append("never seen")
    raise KeyError("no such pilot")

@before_turn(npc="quartermaster")
def slow(npc: Npc, turn: Turn) -> None:
    turn.facts.append("never seen either")
    time.sleep(3)
"""


def test_a_broken_hook_is_reported_with_file_and_line_and_the_npc_answers(
    tmp_path: Path,
) -> None:
    llm = FakeLlm(reply("Still here."))
    brain = scripted(llm, tmp_path, BROKEN, ScriptOptions(timeout_s=0.3))
    script = tmp_path / "scripts" / "scene.py"

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            for npc, line, why in (("brakka", 8, "KeyError"), ("quartermaster", 10, "0.3 s")):
                s = await client.open_session(npc)
                turn = await talk(s, "hello")
                errors = [m for m in turn.messages if isinstance(m, Error)]
                assert len(errors) == 1, turn.messages
                e = errors[0]
                assert (e.code, e.stage, e.session) == ("script-error", "script", s.id)
                assert e.reason.startswith(f"{script}:{line}:") and why in e.reason, e.reason
                assert turn.text == "Still here."  # the NPC still answers
                assert "never seen" not in last_user(llm)  # the failed hook changed nothing
                assert isinstance(turn.messages[0], TurnStart)

    run(scenario)


LATE = """
import time

@on_event("slow", npc="brakka")
def slow(npc: Npc, event: Event) -> None:
    time.sleep(0.6)
    npc.say("Too late to say this.")
    npc.remember("never kept")

@on_event("fast", npc="brakka")
def fast(npc: Npc, event: Event) -> None:
    npc.say("Right on time.")
"""


def test_what_a_timed_out_hook_does_afterwards_is_ignored(tmp_path: Path) -> None:
    brain = scripted(FakeLlm(reply("Hm.")), tmp_path, LATE, ScriptOptions(timeout_s=0.2))

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await client.send(GameEvent(name="slow"))
            err = await s.next(5.0)
            assert isinstance(err, Error) and "ran past the 0.2 s limit" in err.reason, err
            await asyncio.sleep(0.8)  # the hook's thread wakes up and tries to speak
            await client.send(GameEvent(name="fast"))
            turn = await s.turn(5.0)
            assert turn.text == "Right on time."
            stored = [t.text for t in brain.memory.recent("brakka", "player-1", 10)]
            assert "never kept" not in stored

    run(scenario)


PROMPTED = """
@goal("job", npc="brakka", when=Intent("do you have a job for me"))
def job(npc: Npc, trigger: Trigger) -> None:
    npc.prompt("Offer the pilot a night shift.")

@after_turn(npc="brakka", hold=True)
def look(npc: Npc, turn: Turn) -> None:
    pass
"""


def test_an_intent_goals_prompted_answer_streams_even_with_a_holding_hook(
    tmp_path: Path,
) -> None:
    llm = FakeLlm(reply("Night shift, kid. Coolant lines."))
    brain = scripted(llm, tmp_path, PROMPTED)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            turn = await talk(s, "any job for me?")
            deltas = "".join(getattr(m, "text", "") for m in turn.messages
                             if m.TYPE == "dialogue-delta")
            assert turn.text == deltas.strip() == "Night shift, kid. Coolant lines."
            assert "(Offer the pilot a night shift." in last_user(llm)

    run(scenario)


ASYNC = """
import asyncio

@on_event("knock", npc="brakka")
async def knock(npc: Npc, event: Event) -> None:
    await asyncio.sleep(0.05)
    npc.say("Who's there?")

@on_event("wait", npc="brakka")
async def wait(npc: Npc, event: Event) -> None:
    await asyncio.sleep(5)
    npc.say("Never said.")
"""


def test_async_hooks_run_on_the_loop_and_are_cancelled_past_the_limit(tmp_path: Path) -> None:
    brain = scripted(FakeLlm(reply("Hm.")), tmp_path, ASYNC, ScriptOptions(timeout_s=0.2))

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await client.send(GameEvent(name="wait"))
            err = await s.next(5.0)
            assert isinstance(err, Error) and "wait ran past the 0.2 s limit" in err.reason
            assert err.reason.startswith(f"{tmp_path / 'scripts' / 'scene.py'}:10:"), err.reason
            await client.send(GameEvent(name="knock"))
            assert (await s.turn(5.0)).text == "Who's there?"

    run(scenario)
