"""Group sessions on the real models: two players told apart (typed and spoken), NPCs
bantering in turn in their own voices until it ends, and a player joining the banter.

The brain is the sample game's (embedded 0.5B model, piper voices with face frames,
Silero VAD and Whisper). Checks are on who speaks to whom and what each player is told,
not on the model's wording.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bridge.messages import Message, NpcAudio, Transcript, TurnEnd, TurnStart
from npc.ears import Ears
from npc.llm.llama import LlamaCppLlm
from npc.memory import Memory
from npc.mind.conversation import MindConversation
from npc.tts.base import Tts
from plugin_stubs.client import Session
from plugin_stubs.playback import Turn
from sample_game.scene import player_voice
from tests import test_hearing
from tests.helpers import engine, run, running
from tests.mind_helpers import mind
from tests.test_group import conversation
from tests.test_play import TURN_S, Hangar

ears = test_hearing.ears
QUIET_S = 5.0  # after a banter has ended, nothing more of it comes in this long


@pytest.fixture
def hangar(embedded_llm: LlamaCppLlm, ears: Ears, piper_tts: Tts, tmp_path: Path) -> Hangar:
    return Hangar(embedded_llm, ears, piper_tts, tmp_path)


def answered(turn: Turn, npc: str, player: str) -> None:
    """A whole turn of `npc`'s, attributed to `player` from its first message to its last."""
    assert turn.end is not None and turn.end.reason == "done", turn.messages
    assert (turn.npc, turn.player, turn.end.npc) == (npc, player, npc), turn.messages
    assert turn.text, turn.messages


def test_two_players_are_told_apart(embedded_llm: LlamaCppLlm, tmp_path: Path) -> None:
    brain = mind(embedded_llm, tmp_path)  # typed lines, text replies: hearing is not the point

    # Kai speaks first and asks first: an NPC that ignored who asks would answer each
    # with the colour it read last (Juno's blue, then its own "red" answer to Kai).
    async def scenario() -> dict[str, str]:
        async with running(brain) as server, engine(server, heartbeat=True) as client:
            s = await client.open_session("brakka", player="Kai", players=["Juno"])
            for player, line in [("Kai", "I am Kai. My favourite colour is red."),
                                 ("Juno", "I am Juno. My favourite colour is blue.")]:
                await s.say(line, player=player)
                answered(await s.turn(timeout=TURN_S), "brakka", player)
            answers = {}
            for player in ["Kai", "Juno"]:
                await s.say("What is my favourite colour?", player=player)
                turn = await s.turn(timeout=TURN_S)
                answered(turn, "brakka", player)
                answers[player] = turn.text.lower()
            return answers

    answers = run(scenario, limit=6 * TURN_S)
    assert "red" in answers["Kai"] and "blue" not in answers["Kai"], answers
    assert "blue" in answers["Juno"] and "red" not in answers["Juno"], answers
    memory = Memory(tmp_path / "memory.sqlite3")
    kai = " ".join(t.text for t in memory.recent("brakka", "Kai", 10) if t.role == "player")
    juno = " ".join(t.text for t in memory.recent("brakka", "Juno", 10) if t.role == "player")
    memory.close()
    assert "red" in kai and "blue" not in kai and "blue" in juno and "red" not in juno


def test_two_players_speaking_at_once_are_heard_apart(hangar: Hangar) -> None:
    renn_line = "Tell me about the reactor in the north hangar."
    vex_line = "I need two spare power cells."

    async def scenario() -> list[Message]:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            s = await client.open_session("brakka", player="renn", players=["vex"])
            # Both microphones stream at the same time, chunk by chunk interleaved.
            await asyncio.gather(
                s.stream(player_voice(hangar.tts, renn_line), end=False, player="renn",
                         realtime=True),
                s.stream(player_voice(hangar.tts, vex_line), end=False, player="vex",
                         realtime=True),
            )
            got: list[Message] = []
            # Each final starts a turn for its speaker; the model's answers are not the point.
            while sum(isinstance(m, TurnStart) for m in got) < 2:
                got.append(await s.next(TURN_S))
            return got

    got = run(scenario, limit=3 * TURN_S)
    said = [(m.player, m.text.lower()) for m in got if isinstance(m, Transcript) and m.final]
    finals = dict(said)
    assert set(finals) == {"renn", "vex"} and len(said) == 2, said
    assert "reactor" in finals["renn"] and "power" not in finals["renn"], finals
    assert "power" in finals["vex"] and "reactor" not in finals["vex"], finals
    partials = [m for m in got if isinstance(m, Transcript) and not m.final]
    assert all(("reactor" in m.text.lower()) <= (m.player == "renn") for m in partials)
    # Each spoken turn answers the player whose speech started it, in the order heard.
    starts = [(m.npc, m.player, m.cause) for m in got if isinstance(m, TurnStart)]
    assert starts == [("brakka", p, "player") for p, _ in said], (starts, said)


async def banter_turns(conv: MindConversation, s: Session) -> list[list[Message]]:
    """Every turn of `s` while the banter runs; then nothing more for QUIET_S seconds."""
    turns: list[list[Message]] = []
    def unfinished() -> bool:  # a turn's last messages may still be on the wire
        return bool(turns) and not isinstance(turns[-1][-1], TurnEnd)

    while conv.scene_running() or not s.inbox.empty() or unfinished():
        try:
            msg = await s.next(0.5)
        except TimeoutError:
            continue
        if isinstance(msg, TurnStart):
            turns.append([])
        turns[-1].append(msg)
    await asyncio.sleep(QUIET_S)
    assert s.inbox.empty(), f"a turn after the banter ended: {s.inbox.get_nowait()}"
    return turns


def test_npcs_banter_in_turn_in_their_own_voices_and_stop(hangar: Hangar) -> None:
    async def scenario() -> list[list[Message]]:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            s = await client.open_session("brakka", player="renn", npcs=["quartermaster"])
            conv = conversation(server, s)
            conv.banter(["brakka", "quartermaster"], "who took the last wrench", 3)
            return await banter_turns(conv, s)

    turns = run(scenario, limit=5 * TURN_S)
    starts = [t[0] for t in turns]
    assert all(isinstance(m, TurnStart) and m.cause == "banter" for m in starts), starts
    npcs = [m.npc for m in starts]  # type: ignore[attr-defined]
    assert 2 <= len(npcs) <= 3, npcs
    assert npcs == ["brakka", "quartermaster", "brakka"][: len(npcs)], npcs
    for t in turns:
        turn = Turn(number=0)
        for m in t:
            turn.add(m)
        assert turn.end is not None and turn.end.reason == "done", t
        assert turn.text and any(isinstance(m, NpcAudio) for m in t) and len(turn.face_times)
    # Each NPC speaks with its own voice: Ilse's is Brakka's shifted up, so its audio differs.
    assert hangar.brain.designs.npcs["quartermaster"].tts != hangar.brain.designs.npcs[
        "brakka"].tts


def test_a_player_speaking_during_a_banter_joins_it(hangar: Hangar) -> None:
    async def scenario() -> list[Message]:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            s = await client.open_session("brakka", player="renn", npcs=["quartermaster"])
            conv = conversation(server, s)
            conv.banter(["brakka", "quartermaster"], "who took the last wrench", 4)
            start = await s.next(TURN_S)
            assert isinstance(start, TurnStart) and start.cause == "banter"
            line = "Quartermaster, I need two power cells."
            await s.stream(player_voice(hangar.tts, line), end=False, player="renn")
            got: list[Message] = [start]
            answering = False  # the answer's turn has started: its end ends the wait
            while not (answering and isinstance(got[-1], TurnEnd)):
                got.append(await s.next(TURN_S))
                answering |= isinstance(got[-1], TurnStart) and got[-1].cause == "player"
            await asyncio.sleep(QUIET_S)  # the banter does not come back
            assert s.inbox.empty(), s.inbox
            assert not conv.scene_running()
            return got

    got = run(scenario, limit=4 * TURN_S)
    starts = [m for m in got if isinstance(m, TurnStart)]
    answer = starts[-1]
    assert (answer.npc, answer.player, answer.cause) == ("quartermaster", "renn", "player"), [
        m for m in got if isinstance(m, Transcript | TurnStart | TurnEnd)]
    end = got[-1]
    assert isinstance(end, TurnEnd) and (end.npc, end.reason) == ("quartermaster", "done"), end
    assert all(m.cause == "banter" for m in starts[:-1]) and len(starts) <= 2, starts
