"""Goals through the bridge on a FakeLlm: cooldowns, once, enable/disable across a restart,
idle remarks, intents on typed lines, and scripts reloaded while the server runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bridge.messages import DialogueDelta, Error, GameEvent, TurnStart
from npc.memory import Memory
from npc.mind.brain import MindBrain
from npc.script.loader import ScriptOptions, Scripts
from plugin_stubs.client import EngineClient, Session
from tests.helpers import engine, run, running, talk
from tests.mind_helpers import FakeLlm, mind, reply
from tests.script_helpers import scripted, write_script
from tests.test_group import FakeSceneLlm
from tests.test_group import line as line_json
from tests.test_script_hooks import last_user, replies


async def quiet(s: Session, seconds: float) -> None:
    """Nothing at all arrives for the session in `seconds`."""
    try:
        msg = await s.next(seconds)
    except TimeoutError:
        return
    raise AssertionError(f"expected nothing, got {msg}")


async def event(client: EngineClient, name: str, **payload: object) -> None:
    await client.send(GameEvent(name=name, payload=dict(payload)))


async def line(s: Session) -> str:
    """The next turn, which must be a script's line; its text."""
    turn = await s.turn(5.0)
    start = turn.messages[0]
    assert isinstance(start, TurnStart) and start.cause == "script", turn.messages
    assert turn.end is not None and turn.end.reason == "done", turn.messages
    return turn.text


COOLDOWN = """
goal("hit", npc="quartermaster", when=Event("mech-damaged"), cooldown_s=1.5,
     say="That will cost you a new actuator.")
"""


def test_a_cooldown_holds_then_the_goal_fires_again(tmp_path: Path) -> None:
    brain = scripted(FakeLlm(reply("Hm.")), tmp_path, COOLDOWN)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("quartermaster")
            other = await client.open_session("brakka")  # not the goal's NPC
            await event(client, "mech-damaged", part="arm")
            fired = time.monotonic()
            assert await line(s) == "That will cost you a new actuator."
            await event(client, "mech-damaged", part="leg")  # within the cooldown
            await quiet(s, 0.5)
            await quiet(other, 0.0)
            await asyncio.sleep(max(0.0, fired + 1.6 - time.monotonic()))
            await event(client, "mech-damaged", part="leg")
            assert await line(s) == "That will cost you a new actuator."
            assert brain.memory.goal("quartermaster", "player-1", "hit").fired == 2

    run(scenario)


ONCE = """
goal("secret", npc="brakka", when=Event("ask"), say="The shielding is cracked.", once=True)
goal("later", npc="brakka", when=Event("later"), say="Now I can tell you.", enabled=False)

@on_event("unlock", npc="brakka")
def unlock(npc: Npc, event: Event) -> None:
    npc.goals.enable("later")
    npc.goals.disable("nothing-by-that-name")
"""


def test_once_goals_and_enabled_goals_survive_a_restart(tmp_path: Path) -> None:
    write_script(tmp_path / "scripts", ONCE)

    def brain() -> MindBrain:
        b = mind(FakeLlm(reply("Hm.")), tmp_path)
        b.scripts = Scripts.load(tmp_path / "scripts")
        return b

    async def first() -> None:
        async with running(brain()) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await event(client, "ask")
            assert await line(s) == "The shielding is cracked."
            await event(client, "ask")
            await event(client, "later")  # off until a script enables it
            await quiet(s, 0.5)
            await event(client, "unlock")
            await event(client, "later")
            assert await line(s) == "Now I can tell you."

    async def second() -> None:  # a new brain on the same memory file
        async with running(brain()) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await event(client, "ask")  # once: never again for this player
            await quiet(s, 0.5)
            await event(client, "later")  # still enabled
            assert await line(s) == "Now I can tell you."
            other = await client.open_session("brakka", "player-2")  # goals are per player
            await event(client, "ask")
            assert await line(other) == "The shielding is cracked."

    run(first)
    run(second)


IDLE = """
goal("quiet", npc="brakka", when=Idle(after_s=0.4), cooldown_s=1.5, say="Quiet shift, huh?")
"""


def test_an_idle_remark_comes_after_silence_and_keeps_its_cooldown(tmp_path: Path) -> None:
    brain = scripted(FakeLlm(reply("Hm.")), tmp_path, IDLE)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            opened = time.monotonic()
            s = await client.open_session("brakka")
            assert await line(s) == "Quiet shift, huh?"
            first = time.monotonic()
            assert first - opened >= 0.4
            assert await line(s) == "Quiet shift, huh?"
            second = time.monotonic()
            assert second - first >= 1.4  # the cooldown, not the 0.4 s of silence
            turn = await talk(s, "hello")  # the player talks: the silence starts over
            assert turn.text == "Hm."

    run(scenario)


INTENT = """
goal("reactor", npc="brakka", once=True,
     when=Intent("what is wrong with the reactor", "asks about the reactor"),
     say="Keep it down. The north reactor has been leaking for a week.")
goal("job", npc="brakka", when=Intent("do you have a job for me"),
     prompt="Offer the pilot a night shift scrubbing coolant lines.")
"""


def test_an_intent_goal_answers_the_turn_once_and_near_misses_do_not_fire(
    tmp_path: Path,
) -> None:
    llm = FakeLlm(reply("Generated."))
    brain = scripted(llm, tmp_path, INTENT)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            turn = await talk(s, "where are the reactor shift logs kept")  # a near miss
            assert turn.text == "Generated."
            turn = await talk(s, "what's up with the reactor?")
            assert turn.text == "Keep it down. The north reactor has been leaking for a week."
            assert len(replies(llm)) == 1  # that answer was not generated
            turn = await talk(s, "what's up with the reactor?")  # once: now the model answers
            assert turn.text == "Generated."
            turn = await talk(s, "any job for me?")  # prompt=: an instruction for the reply
            assert turn.text == "Generated."
            assert "night shift scrubbing coolant" in last_user(llm)

    run(scenario)


def test_an_edited_script_is_reloaded_and_a_broken_one_keeps_the_last_good(
    tmp_path: Path,
) -> None:
    one = 'goal("ping", when=Event("ping"), say="one")\n'
    brain = scripted(FakeLlm(reply("Hm.")), tmp_path, one, reload_s=0.1)
    path = tmp_path / "scripts" / "scene.py"

    async def until(s: Session, client: EngineClient, said: str) -> None:
        for _ in range(50):
            await event(client, "ping")
            if await line(s) == said:
                return
        raise AssertionError(f"never said {said!r}")

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await event(client, "ping")
            assert await line(s) == "one"
            write_script(path.parent, 'goal("ping", when=Event("ping"), say="two")\n')
            await until(s, client, "two")
            write_script(path.parent, 'goal("ping", when=Event("ping"), say="three"\n')
            msg = await s.next(5.0)
            assert isinstance(msg, Error) and msg.code == "script-error", msg
            assert msg.reason.startswith(f"{path.resolve()}:2:"), msg.reason
            await event(client, "ping")
            assert await line(s) == "two"  # the last good version keeps serving
            assert path.resolve() in {p.resolve() for p in brain.scripts.broken}  # type: ignore[union-attr]

    run(scenario)


ANY = """
@on_event()
def echo(npc: Npc, event: Event) -> None:
    npc.say(f"{npc.id} heard {event.name} for {npc.player}.")
"""


def test_a_game_event_reaches_the_conversations_it_concerns(tmp_path: Path) -> None:
    brain = scripted(FakeLlm(reply("Hm.")), tmp_path, ANY)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            a = await client.open_session("brakka", "renn")
            b = await client.open_session("quartermaster", "mara")
            await client.send(GameEvent(name="alarm"))  # everyone
            assert await line(a) == "brakka heard alarm for renn."
            assert await line(b) == "quartermaster heard alarm for mara."
            await client.send(GameEvent(name="spark", npcs=["brakka"]))
            assert await line(a) == "brakka heard spark for renn."
            await client.send(GameEvent(name="ping", players=["mara"]))
            assert await line(b) == "quartermaster heard ping for mara."
            await client.send(GameEvent(name="knock", session=a.id))
            assert await line(a) == "brakka heard knock for renn."
            await quiet(b, 0.5)  # b heard only the alarm and the ping
            await quiet(a, 0.0)
            stored = [t.text for t in brain.memory.recent("brakka", "renn", 10)
                      if t.role == "event"]
            assert stored == ["alarm", "spark", "knock"]

    run(scenario)


BANTER = """
@goal("banter", npc="brakka", when=Idle(after_s=0.3), once=True)
def banter(npc: Npc, trigger: Trigger) -> None:
    if "quartermaster" in npc.present:
        npc.banter("quartermaster", about="the last wrench", lines=2)
    else:
        npc.banter("ghost", about="nothing", lines=2)
"""


def test_an_idle_goal_starts_a_banter_and_a_bad_one_is_reported(tmp_path: Path) -> None:
    llm = FakeSceneLlm(line_json("Who took my wrench, Ilse?"), line_json("You did, Brakka."))
    brain = scripted(llm, tmp_path, BANTER)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", npcs=["quartermaster"])
            first, second = await s.turn(5.0), await s.turn(5.0)
            starts = [t.messages[0] for t in (first, second)]
            assert [(m.npc, m.cause) for m in starts if isinstance(m, TurnStart)] == [
                ("brakka", "banter"), ("quartermaster", "banter")]
            assert (first.text, second.text) == ("Who took my wrench, Ilse?", "You did, Brakka.")
            alone = await client.open_session("brakka", "player-2")
            msg = await alone.next(5.0)
            assert isinstance(msg, Error) and msg.code == "script-error", msg
            script = tmp_path / "scripts" / "scene.py"
            assert msg.reason.startswith(f"{script}:8: banter:"), msg.reason
            assert "ghost" in msg.reason
            await quiet(s, 0.5)  # once: no second banter

    run(scenario)


PLAYERS = """
goal("secret", npc="brakka", once=True, when=Intent("what is wrong with the reactor"),
     say="It leaks.")

@before_turn(npc="brakka")
def who(npc: Npc, turn: Turn) -> None:
    turn.facts.append(f"You are talking to {npc.player}; the line is {turn.player}'s.")

@on_event("bell")
def bell(npc: Npc, event: Event) -> None:
    npc.say(f"Bell for {npc.player}.")
"""


def test_in_a_group_session_turn_hooks_and_intents_are_per_player(tmp_path: Path) -> None:
    llm = FakeLlm(reply("Generated."))
    brain = scripted(llm, tmp_path, PLAYERS)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", "renn", players=["vex"])
            await s.say("what's wrong with the reactor?", player="vex")
            assert (await s.turn(5.0)).text == "It leaks."
            await s.say("what's wrong with the reactor?", player="vex")  # once for vex
            assert (await s.turn(5.0)).text == "Generated."
            assert "talking to vex; the line is vex's" in last_user(llm)
            await client.send(GameEvent(name="bell"))  # events: the session's first player
            assert await line(s) == "Bell for renn."
            await s.say("what's wrong with the reactor?", player="renn")  # not yet for renn
            assert (await s.turn(5.0)).text == "It leaks."
            assert brain.memory.goal("brakka", "vex", "secret").fired == 1
            assert brain.memory.goal("brakka", "renn", "secret").fired == 1

    run(scenario)


def test_a_script_line_is_part_of_the_group_conversation(tmp_path: Path) -> None:
    llm = FakeLlm(reply("Hm."))
    brain = scripted(llm, tmp_path, COOLDOWN)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", "renn", npcs=["quartermaster"])
            await event(client, "mech-damaged", part="arm")
            assert await line(s) == "That will cost you a new actuator."
            await s.say("how much?")  # no name: to the NPC that spoke to this player last
            turn = await s.turn(5.0)
            start = turn.messages[0]
            assert isinstance(start, TurnStart) and start.npc == "quartermaster", start
            heard = last_user(llm)
            assert "That will cost you a new actuator." in heard, heard

    run(scenario)


WAIT = """
import time

@before_turn(npc="brakka")
def slow(npc: Npc, turn: Turn) -> None:
    time.sleep(1.0)

@on_event("ping", npc="brakka")
def ping(npc: Npc, event: Event) -> None:
    npc.say("Pong.")
"""


def test_a_proactive_line_that_waits_past_wait_s_is_dropped(tmp_path: Path) -> None:
    options = ScriptOptions(timeout_s=2.0, wait_s=0.4)
    brain = scripted(FakeLlm(reply("Hm.")), tmp_path, WAIT, options)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await event(client, "ping")  # quiet: said at once
            assert await line(s) == "Pong."
            await s.say("hello")  # a turn of over a second
            await event(client, "ping")
            turn = await s.turn(5.0)
            assert turn.text == "Hm."
            await quiet(s, 1.0)  # the pong waited 0.4 s and was dropped

    run(scenario)


PASSING = """
@goal("tip", npc="brakka", when=Event("tick"), cooldown_s=60)
def tip(npc: Npc, trigger: Trigger) -> bool:
    if not trigger.payload.get("ready"):
        return False  # not now: neither the cooldown nor the count is spent
    npc.say("Grease the knee joints, kid.")
    return True
"""


def test_a_goal_function_returning_false_did_not_fire(tmp_path: Path) -> None:
    brain = scripted(FakeLlm(reply("Hm.")), tmp_path, PASSING)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await event(client, "tick", ready=False)
            await event(client, "tick", ready=False)
            await quiet(s, 0.5)
            await event(client, "tick", ready=True)  # fires: the passes spent no cooldown
            assert await line(s) == "Grease the knee joints, kid."
            await event(client, "tick", ready=True)  # now the 60 s cooldown holds
            await quiet(s, 0.5)

    run(scenario)
    memory = Memory(brain.memory.path)
    try:
        state = memory.goal("brakka", "player-1", "tip")
    finally:
        memory.close()
    assert state.fired == 1 and state.last_at is not None


PROMPTED = """
@on_event("hit", npc="quartermaster")
def react(npc: Npc, event: Event) -> None:
    npc.prompt("A mech was hit. React in one line.")
"""
REFUSED = reply("I'm sorry, but I can't assist with that.")


def test_a_scripted_line_that_comes_out_as_a_refusal_is_made_again_or_dropped(
    tmp_path: Path,
) -> None:
    llm = FakeLlm(REFUSED, reply("That arm will cost me an actuator."), REFUSED, REFUSED,
                  reply("Hm."))
    brain = scripted(llm, tmp_path, PROMPTED)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("quartermaster")
            await event(client, "hit")  # refused, then made again: said
            turn = await s.turn(5.0)
            assert turn.text == "That arm will cost me an actuator.", turn.messages
            assert "sorry" not in "".join(
                m.text for m in turn.messages if isinstance(m, DialogueDelta))
            await event(client, "hit")  # refused twice: dropped, nothing said
            turn = await s.turn(5.0)
            assert turn.text == "" and not turn.audio, turn.messages
            assert (await talk(s, "hello")).text == "Hm."  # the NPC goes on

    run(scenario)
    cues = [r for r in llm.requests if "A mech was hit" in str(r.messages)]
    assert len(cues) == 4  # each refusal was made once more, never more
    assert cues[1].decoding.temperature > cues[0].decoding.temperature


def test_an_intent_matches_when_the_player_names_the_npc(tmp_path: Path) -> None:
    brain = scripted(FakeLlm(reply("Generated.")), tmp_path, INTENT)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            turn = await talk(s, "Brakka, what's wrong with the reactor?")
            assert turn.text == "Keep it down. The north reactor has been leaking for a week."

    run(scenario)
