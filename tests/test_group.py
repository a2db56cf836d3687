"""Group sessions on a scripted model: addressing by name, attributed prompts, memory per
player, banter in turn order that ends by itself, a player joining it, and bad input."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

from bridge import errors
from bridge.messages import Message, TurnEnd, TurnStart
from bridge.server import BridgeServer
from npc.designer.reload import Designs
from npc.llm.base import LlmRequest
from npc.memory import Memory
from npc.mind.conversation import MindConversation
from npc.mind.group import Group
from plugin_stubs.client import Session
from sample_game import HERE
from tests.helpers import engine, next_error, run, running, talk
from tests.mind_helpers import FakeLlm, mind, reply

PLAYERS = ["renn", "vex"]


class FakeSceneLlm(FakeLlm):
    """A scripted model that answers the brain's background judgements ("same") itself,
    so the script is only the NPCs' lines, in order."""

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        props = (request.schema or {}).get("properties", {})
        if "feeling" in props or "summary" in props:
            yield json.dumps({"feeling": "same", "summary": ""})
            return
        yield from super().stream(request, cancel)


def line(say: str, done: bool = False) -> str:
    return json.dumps({"say": say, "done": done})


def conversation(server: BridgeServer, session: Session) -> MindConversation:
    """The brain's side of `session` (what a script's handle talks to)."""
    for conn in server.connections.values():
        conv = conn.sessions.get(session.id)
        if conv is not None:
            assert isinstance(conv, MindConversation)
            return conv
    raise AssertionError(f"no session {session.id}")


def prompt_of(request: LlmRequest) -> str:
    return "\n".join(m.content for m in request.messages)


async def messages_until_quiet(s: Session, quiet_s: float) -> list[Message]:
    """Every message of `s` until nothing comes for `quiet_s` seconds."""
    got: list[Message] = []
    while True:
        try:
            got.append(await s.next(quiet_s))
        except TimeoutError:
            return got


async def turns_until_quiet(
    s: Session, quiet_s: float, inside_s: float | None = None
) -> list[list[Message]]:
    """Every turn's messages until no turn starts for `quiet_s` seconds after the last
    ended (or before the first); within a turn a message may take `inside_s`."""
    turns: list[list[Message]] = []
    while True:
        between = not turns or isinstance(turns[-1][-1], TurnEnd)
        try:
            msg = await s.next(quiet_s if between or inside_s is None else inside_s)
        except TimeoutError:
            assert between, f"a turn stopped halfway: {turns[-1]}"
            return turns
        if isinstance(msg, TurnStart):
            turns.append([])
        assert turns, f"a message before any turn-start: {msg}"
        turns[-1].append(msg)


def test_a_players_line_goes_to_the_npc_it_names_and_prompts_say_who_said_what(
    tmp_path: Path,
) -> None:
    llm = FakeSceneLlm(
        reply("Power cells, aisle three."), reply("Twelve credits each."),
        reply("What do you want, kid?"), reply("Legs again? Fine."),
    )
    brain = mind(llm, tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session(
                "brakka", player="renn", npcs=["quartermaster"], players=["vex"])
            assert s.opened is not None
            assert (s.opened.npcs, s.opened.players) == (["brakka", "quartermaster"], PLAYERS)
            said = []
            for player, text in [
                ("renn", "Ilse, do you have power cells?"),  # named: the quartermaster
                ("", "How much are they?"),  # renn again ("" = the session's player): Ilse
                ("vex", "Hello there."),  # nobody named, vex never answered: the first NPC
                ("vex", "Brakka, my mech's legs are shot."),
            ]:
                await s.say(text, player=player)
                turn = await s.turn()
                assert turn.start is not None and turn.start.cause == "player"
                assert turn.end is not None and turn.end.npc == turn.npc
                said.append((turn.player, turn.npc, turn.text))
            assert said == [
                ("renn", "quartermaster", "Power cells, aisle three."),
                ("renn", "quartermaster", "Twelve credits each."),
                ("vex", "brakka", "What do you want, kid?"),
                ("vex", "brakka", "Legs again? Fine."),
            ]

    run(scenario)
    lines = [r for r in llm.requests if "feeling" not in str(r.schema)]
    last = prompt_of(lines[-1])
    # Brakka answering vex sees the session's lines, each under who said it.
    assert "renn: Ilse, do you have power cells?" in last
    assert "Quartermaster Ilse: Power cells, aisle three." in last
    assert "vex says: Brakka, my mech's legs are shot." in last
    assert "answer vex" in last
    # The persona is the answering NPC's.
    assert lines[0].messages[0].content.startswith("You are Quartermaster Ilse")
    assert lines[-1].messages[0].content.startswith("You are Brakka")
    memory = Memory(tmp_path / "memory.sqlite3")
    renn = [(t.role, t.text) for t in memory.recent("quartermaster", "renn", 10)]
    vex = [(t.role, t.text) for t in memory.recent("brakka", "vex", 10)]
    assert [r for r, _ in renn] == ["player", "npc"] * 2 and "power cells" in renn[0][1]
    assert [r for r, _ in vex] == ["player", "npc"] * 2 and vex[0][1] == "Hello there."
    assert memory.recent("brakka", "renn", 10) == memory.recent("quartermaster", "vex", 10) == []
    memory.close()


def test_a_name_misheard_at_the_start_or_end_of_a_line_still_addresses_its_npc() -> None:
    designs = Designs.load(HERE / "npcs", HERE / "actions", HERE / "lore")
    group = Group(["brakka", "quartermaster"], ["renn"], lambda npc: designs.npcs[npc])
    group.last_npc["renn"] = "brakka"
    to = functools.partial(group.addressee, player="renn")
    # Whisper's spellings of "Quartermaster" and "Brakka", where a name calls someone.
    assert to("Porter Master, I need two power cells.") == "quartermaster"
    assert to("Quarter master, I need two power cells.") == "quartermaster"
    assert to("Is my mech ready, Brokka?") == "brakka"
    assert to("Ilsa, what do cells cost?") == "brakka"  # a short name part is not guessed
    # The middle of a line, and words merely alike, call nobody: the last NPC answers.
    group.last_npc["renn"] = "quartermaster"
    assert to("Tell the porter master of the north dock I said hello.") == "quartermaster"
    assert to("Hand me that bracket, please.") == "quartermaster"
    # A name said outright beats a near miss anywhere.
    assert to("Porter Master, tell Brakka I need cells.") == "brakka"


def test_bad_group_input_gets_a_clear_error_and_the_session_stays_up(tmp_path: Path) -> None:
    brain = mind(FakeSceneLlm(reply("Still here, kid.")), tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            try:
                await client.open_session("brakka", npcs=["quartermaster", "nobody"])
            except Exception as e:
                assert getattr(e, "code", "") == errors.UNKNOWN_NPC and "nobody" in str(e)
            else:
                raise AssertionError("a group with an unknown NPC was opened")
            s = await client.open_session("brakka", player="renn", players=["vex"])
            await s.say("Hello?", player="ghost")
            err = await next_error(client, s)
            assert err.code == errors.UNKNOWN_PLAYER and "ghost" in err.reason
            assert "renn" in err.reason and "vex" in err.reason
            turn = await talk(s, "Hello?")
            assert turn.text == "Still here, kid." and turn.player == "renn"
            # A banter needs NPCs of the session; a script asking for others is refused.
            conv = conversation(server, s)
            try:
                conv.banter(["brakka", "quartermaster"], "wrenches", 2)
            except Exception as e:
                assert getattr(e, "code", "") == errors.UNKNOWN_NPC
            else:
                raise AssertionError("a banter with an NPC not in the session started")
            assert (await talk(s, "Still?", player="vex")).player == "vex"

    run(scenario)


def test_a_banter_alternates_npcs_and_ends_by_itself(tmp_path: Path) -> None:
    llm = FakeSceneLlm(
        line("Who took my wrench, Ilse?"), line("Signed out to you, Brakka. Page four."),
        line("Page four is a lie."), line("This line is never asked for."),
    )
    brain = mind(llm, tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", npcs=["quartermaster"])
            conversation(server, s).banter(["brakka", "quartermaster"], "the last wrench", 3)
            turns = await turns_until_quiet(s, 2.0)
            starts = [t[0] for t in turns]
            assert [(m.npc, m.player, m.cause) for m in starts] == [  # type: ignore[attr-defined]
                ("brakka", "", "banter"), ("quartermaster", "", "banter"),
                ("brakka", "", "banter")]
            ends = [t[-1] for t in turns]
            assert all(isinstance(e, TurnEnd) and e.reason == "done" for e in ends)
            assert [e.npc for e in ends] == ["brakka", "quartermaster", "brakka"]  # type: ignore[attr-defined]

    run(scenario)
    banter = [r for r in llm.requests if "feeling" not in str(r.schema)]
    assert len(banter) == 3
    # Each line is made with the exchange so far, by its own speaker, on the topic.
    assert banter[0].messages[0].content.startswith("You are Brakka")
    assert banter[1].messages[0].content.startswith("You are Quartermaster Ilse")
    third = prompt_of(banter[2])
    assert "the last wrench" in third
    assert '{"say": "Who took my wrench, Ilse?", "done": false}' in third  # its own line
    assert "Quartermaster Ilse: Signed out to you, Brakka. Page four." in third


def test_a_banter_line_that_says_it_is_done_ends_it_early(tmp_path: Path) -> None:
    llm = FakeSceneLlm(line("Wrench?"), line("Page four. We are done here.", done=True),
                       line("Never said."))
    brain = mind(llm, tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", npcs=["quartermaster"])
            conversation(server, s).banter(["brakka", "quartermaster"], "a wrench", 6)
            turns = await turns_until_quiet(s, 2.0)
            assert [t[0].npc for t in turns] == ["brakka", "quartermaster"]  # type: ignore[attr-defined]

    run(scenario)


def test_a_banter_line_that_only_repeats_three_times_ends_it_unsaid(tmp_path: Path) -> None:
    llm = FakeSceneLlm(line("Who took my wrench?"), line("Page four of the log, Brakka."),
                       line("Page four of the log."), line("Page four."), line("The log."),
                       line("Never asked for."))
    brain = mind(llm, tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", npcs=["quartermaster"])
            conversation(server, s).banter(["brakka", "quartermaster"], "a wrench", 6)
            turns = await turns_until_quiet(s, 2.0)
            texts = [m.text for t in turns for m in t if m.TYPE == "dialogue-final"]  # type: ignore[attr-defined]
            assert texts == ["Who took my wrench?", "Page four of the log, Brakka."]

    run(scenario)
    # The repeat was written twice more, hotter each time, before the banter gave up.
    asked = [r for r in llm.requests if "done" in str(r.schema)]
    temperatures = [r.decoding.temperature for r in asked[2:]]
    assert len(asked) == 5 and temperatures == sorted(set(temperatures)), temperatures


def test_a_player_typing_during_a_banter_joins_it(tmp_path: Path) -> None:
    # The banter's second line is slow; the player's line arrives while it is written.
    llm = FakeSceneLlm(line("Wrench?"), line("x" * 40), reply("Yes, pilot?"))
    gate = threading.Event()
    brain = mind(llm, tmp_path)
    original = llm.stream

    def slow_second(request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        banter = "done" in (request.schema or {}).get("properties", {})
        if banter and "Wrench?" in prompt_of(request):
            gate.set()
            cancel.wait(10.0)  # until the turn is cancelled
            return
        yield from original(request, cancel)

    llm.stream = slow_second  # type: ignore[method-assign]

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", player="renn", npcs=["quartermaster"])
            conversation(server, s).banter(["brakka", "quartermaster"], "a wrench", 4)
            # A second banter waits for the first; joining stops both.
            conversation(server, s).banter(["quartermaster", "brakka"], "the paint", 2)
            first = await s.turn()
            assert first.npc == "brakka" and first.text == "Wrench?"
            assert await asyncio.to_thread(gate.wait, 10.0)  # Ilse's line is being written
            await s.say("Ilse, a word?", player="renn")
            got = await messages_until_quiet(s, 2.0)
            # Nothing of the unsaid banter line: the addressed NPC answers the player.
            starts = [m for m in got if isinstance(m, TurnStart)]
            assert [(m.npc, m.player, m.cause) for m in starts] == [
                ("quartermaster", "renn", "player")]
            assert got[0] is starts[0] and isinstance(got[-1], TurnEnd), got
            assert got[-1].reason == "done"
            assert not conversation(server, s).scene_running()

    run(scenario)


def test_the_echo_brain_takes_group_sessions_on_the_wire() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            s = await client.open_session(
                "brakka", player="renn", npcs=["quartermaster", "brakka"], players=["vex"])
            assert s.opened is not None
            assert (s.opened.npcs, s.opened.players) == (["brakka", "quartermaster"], PLAYERS)
            turn = await talk(s, "hello from vex", player="vex")
            assert (turn.npc, turn.player, turn.text) == ("brakka", "vex", "hello from vex")
            assert turn.end is not None and turn.end.npc == "brakka"
            await s.say("who am I?", player="nobody")
            err = await next_error(client, s)
            assert err.code == errors.UNKNOWN_PLAYER and err.session == s.id
            assert (await talk(s, "still here")).player == "renn"
            try:
                await client.open_session("brakka", npcs=["ghost"])
            except Exception as e:
                assert getattr(e, "code", "") == errors.UNKNOWN_NPC and "ghost" in str(e)
            else:
                raise AssertionError("a group with an unknown NPC was opened")

    run(scenario)
