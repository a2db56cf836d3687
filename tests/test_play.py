"""Scripted play: a pilot speaks to the hangar's NPCs through the bridge and the world changes.

Everything is real: the player's lines are made with the piper voice at test time, heard
by Silero VAD and Whisper, answered by the embedded 0.5B model, spoken back with piper
and face frames; the NPCs' engine actions reach sample_game/world.py as a game's would.
The checks are on the world (paint, credits, stores), not the model's wording.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import ConfigError
from bridge.messages import Interrupted, Message, NpcAudio, TurnEnd
from npc import steer
from npc.ears import Ears
from npc.llm.base import LlmRequest
from npc.llm.llama import LlamaCppLlm
from npc.memory import Memory
from npc.mind.brain import MindBrain
from npc.speaking import SpeechOptions, Voices
from npc.tts.base import Tts
from plugin_stubs.client import EngineClient, Session
from plugin_stubs.playback import Turn
from sample_game.scene import Game, player_voice
from sample_game.world import World, tools
from tests import test_hearing
from tests.helpers import engine, run, running
from tests.mind_helpers import mind

ears = test_hearing.ears  # the sample game's ears (Silero VAD, Whisper base), module-wide
TURN_S = 90.0  # one spoken turn on 2 busy cores; usually 5-20 s


class Hangar:
    """A thinking, hearing, speaking brain on the real models, and the world it acts in."""

    def __init__(self, llm: LlamaCppLlm, ears: Ears, tts: Tts, state: Path) -> None:
        self.tts = tts
        self.world = World({"renn": 1000, "mara": 1000, "dax": 30})
        self.game = Game(self.world, tell=lambda line: None)
        self.brain: MindBrain = mind(llm, state)
        self.brain.ears = ears
        self.brain.voices = Voices(tts, SpeechOptions())

    async def open(self, client: EngineClient, npc: str, player: str, **kw: Any) -> Session:
        return await client.open_session(
            npc, player, actions=tools(npc), on_action=self.game.on_action(player), **kw
        )

    async def speak(self, s: Session, line: str) -> Turn:
        """The player says `line` into an open microphone; the NPC's whole turn."""
        await s.stream(player_voice(self.tts, line), end=False)
        return await s.turn(timeout=TURN_S)

    def visit(self, npc: str, player: str, line: str) -> Turn:
        """Start the server, say one line to `npc` as `player`, stop the server."""

        async def scenario() -> Turn:
            async with running(self.brain) as server, engine(server, heartbeat=True) as client:
                return await self.speak(await self.open(client, npc, player), line)

        return run(scenario, limit=2 * TURN_S)


@pytest.fixture
def hangar(
    embedded_llm: LlamaCppLlm, ears: Ears, piper_tts: Tts, tmp_path: Path
) -> Hangar:
    return Hangar(embedded_llm, ears, piper_tts, tmp_path)


def done(turn: Turn) -> None:
    assert turn.end is not None and turn.end.reason == "done", turn.messages
    assert turn.text and turn.audio, turn.messages


def test_paint_my_mech_red_turns_it_red(hangar: Hangar) -> None:
    turn = hangar.visit("brakka", "renn", "Paint my mech red.")
    done(turn)
    assert "red" in turn.transcript.lower()
    assert [(a.name, a.arguments) for a in turn.actions] == [("paint_mech", {"color": "red"})]
    assert hangar.world.mech_of("renn").color == "red"
    assert hangar.world.players["renn"].credits == 1000 - 290  # 250 + 40 for red


def test_a_lore_question_gets_the_fact_from_the_lore(hangar: Hangar) -> None:
    # The line is sampled, and the 0.5B model states a fact on some seeds and not others:
    # typed to Brakka, it named the north hangar's Old Lantern for 11 of 28 seeds, the
    # stores' hours for 8 of 8, the fastest scout for 8 of 8 (docs/llm.md), the Warden's
    # forty tons for 6 of 6 (`bench brain --parts answers`, three seeds, docs/benchmarks.md).
    # Spoken, the voice that says them varies run to run, and Whisper once heard "the
    # fastest scale". Four questions, two must be answered from the lore.
    asked = {
        "What powers the north hangar?": ("lantern", "fusion", "torus"),
        "When is the stores window open?": ("six",),
        "Which mech is the fastest scout?": ("harrier",),
        "What kind of mech is the Warden?": ("forty", "40"),
    }

    async def scenario() -> list[Turn]:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            players = ("renn", "mara", "dax", "ola")
            return [await hangar.speak(await hangar.open(client, "brakka", player), line)
                    for player, line in zip(players, asked, strict=True)]

    turns = run(scenario, limit=8 * TURN_S)
    for turn in turns:
        done(turn)
    stated = [t.text for t, fact in zip(turns, asked.values(), strict=True)
              if any(w in t.text.lower() for w in fact)]
    assert len(stated) >= 2, [t.text for t in turns]
    assert hangar.world.changes == []


def test_without_the_credits_the_mechanic_refuses_in_character(hangar: Hangar) -> None:
    before = hangar.world.snapshot()

    turn = hangar.visit("brakka", "dax", "Paint my mech red.")
    done(turn)
    assert [a.name for a in turn.actions] == ["paint_mech"]
    assert hangar.game.log == [("paint_mech", False,
                               "a red paint job costs 290 credits and dax has only 30")]
    assert hangar.world.snapshot() == before  # nothing painted, nothing paid
    memory = Memory(hangar.brain.memory.path)
    meta = memory.recent("brakka", "dax", 1)[0].meta or {}
    memory.close()
    assert "paint_mech failed" in meta.get("outcome", ""), meta


def test_talking_over_the_npc_stops_it(hangar: Hangar) -> None:
    async def scenario() -> tuple[list[Message], int]:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            s = await hangar.open(client, "brakka", "renn", steer={"verbosity": 4})
            await s.stream(player_voice(hangar.tts, "Tell me all about the north hangar."),
                           end=False)
            got: list[Message] = []
            while not any(isinstance(m, NpcAudio) for m in got):
                got.append(await s.next(TURN_S))
            sent = sum(len(m.pcm) // 2 for m in got if isinstance(m, NpcAudio))
            talk = asyncio.ensure_future(s.stream(
                player_voice(hangar.tts, "Wait, stop talking. Paint my mech blue."),
                realtime=True, end=False))
            while not any(isinstance(m, TurnEnd) for m in got):
                m = await s.next(TURN_S)
                got.append(m)
                if isinstance(m, NpcAudio) and not any(isinstance(x, Interrupted) for x in got):
                    sent += len(m.pcm) // 2
            await talk
            return got, sent

    got, sent = run(scenario, limit=3 * TURN_S)
    stops = [m for m in got if isinstance(m, Interrupted)]
    assert len(stops) == 1 and stops[0].reason == "barge-in", got
    end = got[-1]
    assert isinstance(end, TurnEnd) and end.reason == "interrupted"
    # Stopped where the engine's playback had got to: never past the audio sent.
    assert 0 < stops[0].stop_sample <= end.audio_samples == sent


def test_two_players_talk_to_two_npcs_at_once(hangar: Hangar) -> None:
    async def scenario() -> tuple[Turn, Turn]:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            brakka = await hangar.open(client, "brakka", "renn")
            ilse = await hangar.open(client, "quartermaster", "mara")
            a, b = await asyncio.gather(
                hangar.speak(brakka, "Paint my mech red."),
                hangar.speak(ilse, "I need two spare power cells."),
            )
            return a, b

    paint, cells = run(scenario, limit=3 * TURN_S)
    done(paint)
    done(cells)
    assert "red" in paint.transcript.lower() and "power" in cells.transcript.lower()
    assert [a.name for a in paint.actions] == ["paint_mech"]
    assert [(a.name, a.arguments["item"]) for a in cells.actions] == [("give_item", "power cell")]
    count = cells.actions[0].arguments.get("count", 1)  # the model's count (2; at times 3)
    w = hangar.world
    assert (w.mech_of("renn").color, w.mech_of("mara").color) == ("red", "grey")
    assert w.players["renn"].inventory == {} and w.players["mara"].inventory == {
        "power cell": count}
    assert (w.players["renn"].credits, w.players["mara"].credits) == (710, 1000)


def test_a_steer_change_shows_in_the_next_reply(hangar: Hangar) -> None:
    async def scenario() -> tuple[Turn, Turn]:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            s = await hangar.open(client, "quartermaster", "renn",
                                  steer={"verbosity": 4, "humor": 0})
            chatty = await hangar.speak(s, "Tell me about the stores.")
            await s.steer(humor=4, verbosity=0)
            return chatty, await hangar.speak(s, "Tell me about the stores.")

    chatty, terse = run(scenario, limit=3 * TURN_S)
    done(chatty)
    done(terse)
    assert len(terse.text) < 0.6 * len(chatty.text), (chatty.text, terse.text)
    funny = [*steer.OPENERS["humor"], *steer.VOCABULARY["humor"]]
    assert any(w.lower() in terse.text.lower() for w in funny), terse.text


def test_the_npc_remembers_a_player_after_a_restart(
    ears: Ears, piper_tts: Tts, tmp_path: Path
) -> None:
    asked: list[LlmRequest] = []  # the turns' requests, in order

    def visit(line: str) -> Turn:
        # A restart: a new brain and a new model (nothing kept in its cache), on the same
        # state folder.
        try:
            llm = LlamaCppLlm(n_ctx=4096, n_threads=2)
        except ConfigError as e:
            pytest.skip(f"the embedded model is not available here: {e}")
        stream = llm.stream

        def kept(request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
            if "say" in (request.schema or {}).get("properties", {}):
                asked.append(request)
            return stream(request, cancel)

        llm.stream = kept  # type: ignore[method-assign]
        try:
            return Hangar(llm, ears, piper_tts, tmp_path).visit("brakka", "p7", line)
        finally:
            llm.close()

    first = visit("My name is Alex.")
    done(first)
    assert "alex" in first.transcript.lower(), first.transcript
    said = first.text
    turn = visit("What is my name?")
    done(turn)
    # The restarted brain read the first visit back from its memory: the player's line
    # and the NPC's answer are in the history of the second visit's prompt. (Whether the
    # 0.5B model then names Alex depends on its sampling: it did at some builds and not at
    # others, so the answer itself is not asserted.)
    history = " ".join(m.content for m in asked[-1].messages[:-1])
    assert "My name is Alex" in history and said[:20] in history, (said, history[-600:])
    assert "What is my name?" in asked[-1].messages[-1].content
