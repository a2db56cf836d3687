"""The NPC's acknowledgement ([speech] acknowledge): its "Hm." opens a player's turn, made
at session open, audio and face only, and the line follows it on the turn's timeline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from bridge.config import load as load_config
from bridge.errors import ConfigError
from bridge.messages import DialogueDelta, Interrupted, NpcAudio, TurnEnd
from npc.ears import Ears
from npc.factory import build_brain
from npc.mind.brain import MindBrain
from npc.speaking import SpeechOptions, Voices
from npc.tts.base import Tts
from plugin_stubs.playback import Turn
from tests import test_hearing
from tests.helpers import engine, run, running
from tests.mind_helpers import FakeLlm, mind, reply
from tests.test_hearing import finals, load, until

ears = test_hearing.ears

LINE = "Stores open at the second bell."


def speaking(tts: Tts, state: Path, acknowledge: bool) -> MindBrain:
    brain = mind(FakeLlm(reply(LINE)), state, speculate=False)
    brain.voices = Voices(tts, SpeechOptions(acknowledge=acknowledge))
    return brain


async def one_turn(brain: MindBrain, wait_for_ack: bool) -> Turn:
    async with running(brain) as server, engine(server) as client:
        s = await client.open_session("quartermaster")
        npc = brain.designs.npcs["quartermaster"]
        for _ in range(100):  # made in the background at session open
            assert brain.voices is not None
            if not wait_for_ack or brain.voices.acknowledgement(npc, 24000):
                break
            await asyncio.sleep(0.05)
        await s.say("When is the stores window open?")
        turn = await s.turn(30.0)
        assert turn.end is not None and turn.end.reason == "done", turn.messages
        return turn


def test_the_acknowledgement_comes_first_and_the_line_follows_it(
    piper_tts: Tts, tmp_path: Path
) -> None:
    brain = speaking(piper_tts, tmp_path, acknowledge=True)
    turn = run(lambda: one_turn(brain, wait_for_ack=True))
    assert brain.voices is not None
    ack = brain.voices.acknowledgement(brain.designs.npcs["quartermaster"], 24000)
    samples = sum(len(c.pcm) for c in ack)
    assert samples > 2400  # "Hm." is a real clip, over 0.1 s
    # The first audio is the acknowledgement, before any words of the line.
    first_audio = next(i for i, m in enumerate(turn.messages) if isinstance(m, NpcAudio))
    first_words = next(i for i, m in enumerate(turn.messages) if isinstance(m, DialogueDelta))
    assert first_audio < first_words
    pcm = np.frombuffer(turn.audio, dtype="<i2")
    assert np.array_equal(pcm[:samples], np.concatenate([c.pcm for c in ack]).astype("<i2"))
    assert len(pcm) > samples + 12000  # then the line, half a second at least
    # Audio and face only: the words are the line's.
    assert turn.text == LINE
    marks = turn.end.latency_ms if turn.end is not None else {}
    assert marks["acknowledged"] <= marks["first_text"] < marks["line_audio"], marks
    assert marks["first_audio"] <= marks["acknowledged"], marks
    assert turn.end is not None and len(turn.face_times) > 0


def test_without_it_the_first_audio_is_the_line(piper_tts: Tts, tmp_path: Path) -> None:
    turn = run(lambda: one_turn(speaking(piper_tts, tmp_path, acknowledge=False), False))
    marks = turn.end.latency_ms if turn.end is not None else {}
    assert "acknowledged" not in marks, marks
    assert marks["first_audio"] == pytest.approx(marks["line_audio"], abs=1.0), marks
    assert turn.text == LINE


def test_the_speech_table_takes_it_as_a_boolean(tmp_path: Path) -> None:
    config = tmp_path / "npc.toml"
    config.write_text('[brain]\nkind = "echo"\n\n[speech]\ntts = "piper"\nacknowledge = "yes"\n')
    _, rest = load_config(config)
    rest["brain"]["kind"] = "mind"
    with pytest.raises(ConfigError, match="acknowledge must be true or false"):
        build_brain(rest, tmp_path)


def test_barge_in_still_stops_an_acknowledged_turn(
    piper_tts: Tts, ears: Ears, tmp_path: Path
) -> None:
    long_line = ("Listen close, pilot, because I will only say this once: the north hangar "
                 "runs on a fusion reactor, and nobody touches it but me.")
    brain = mind(FakeLlm(reply(long_line), reply("Fine, fine.")), tmp_path)
    brain.voices = Voices(piper_tts, SpeechOptions(acknowledge=True))
    brain.ears = ears

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await asyncio.sleep(1.0)  # the acknowledgement is made at session open
            await s.say("Tell me about the reactor.")
            first = await until(s, TurnEnd)  # "Hm.", then seconds of the line, playing now
            assert first[-1].reason == "done"  # type: ignore[attr-defined]
            assert "acknowledged" in first[-1].latency_ms  # type: ignore[attr-defined]
            await s.stream(load("stop"), end=False)  # the player talks over it
            msgs = await until(s, Interrupted)
            assert msgs[-1].reason == "barge-in"  # type: ignore[attr-defined]
            rest = await until(s, TurnEnd)
            heard = finals(msgs + rest)
            assert heard and "stop" in heard[0].text.lower()
            assert rest[-1].reason == "done"  # type: ignore[attr-defined]

    run(scenario)
