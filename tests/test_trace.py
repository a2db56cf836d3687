"""The per-turn latency trace: marks on one clock from the end of the player's input.

A thinking brain on a scripted model (FakeLlm) with the real piper voice and face, and for
spoken turns the real ears (Silero VAD, Whisper); the marks come back in turn-end.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from bridge.messages import NpcAudio
from npc.ears import Ears
from npc.hearing import HearingConfig
from npc.mind.brain import MindBrain
from npc.speaking import SpeechOptions, Voices
from npc.trace import STAGES, Trace
from npc.tts.base import Tts
from tests import test_hearing
from tests.helpers import engine, run, running
from tests.mind_helpers import FakeLlm, mind, reply
from tests.test_hearing import load

ears = test_hearing.ears
LINE = reply("Right away, pilot. Red it is, the brightest red in the hangar.")
SPOKEN_IN_ORDER = ["prepared", "first_token", "first_text", "first_clause", "first_audio"]


def speaking_brain(tts: Tts, state: Path, ears: Ears | None = None) -> MindBrain:
    brain = mind(FakeLlm(LINE), state)
    brain.voices = Voices(tts, SpeechOptions())
    brain.ears = ears
    return brain


def in_order(marks: dict[str, float], names: list[str]) -> None:
    got = [marks[n] for n in names]
    assert got == sorted(got), {n: marks[n] for n in names}


def test_a_typed_turn_is_traced_from_the_lines_arrival(
    piper_tts: Tts, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[dict[str, float], float]:
        async with running(speaking_brain(piper_tts, tmp_path)) as server, engine(
            server
        ) as client:
            s = await client.open_session("brakka")
            sent = time.perf_counter()
            await s.say("Paint my mech red.")
            heard: list[float] = []

            def see(msg: object) -> None:
                if isinstance(msg, NpcAudio) and not heard:
                    heard.append((time.perf_counter() - sent) * 1000)

            turn = await s.turn(30.0, on_message=see)
            assert turn.end is not None and turn.end.reason == "done"
            return turn.end.latency_ms, heard[0]

    with caplog.at_level(logging.INFO, logger="npc_bridge.latency"):
        marks, engine_first_audio = run(scenario)
    for stage in [*SPOKEN_IN_ORDER, "first_face", "generated", "spoken", "reply"]:
        assert stage in marks, marks
    assert "end_of_turn" not in marks and "transcript" not in marks  # nothing was heard
    in_order(marks, [*SPOKEN_IN_ORDER, "spoken"])
    # The brain's clock starts when the line arrives, after the engine sent it: its first
    # audio cannot come later than the engine saw it.
    assert marks["first_audio"] <= engine_first_audio
    lines = [r.getMessage() for r in caplog.records if r.name == "npc_bridge.latency"]
    assert len(lines) == 1 and "(typed)" in lines[0] and "first_audio=" in lines[0], lines


def test_a_spoken_turn_is_traced_from_the_last_speech_sample(
    piper_tts: Tts, ears: Ears, tmp_path: Path
) -> None:
    async def scenario() -> dict[str, float]:
        brain = speaking_brain(piper_tts, tmp_path, ears)
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.stream(load("paint_red", silence_s=1.0), realtime=True, end=False)
            turn = await s.turn(30.0)
            assert turn.end is not None and turn.end.reason == "done", turn.messages
            return turn.end.latency_ms

    marks = run(scenario)
    in_order(marks, ["end_of_turn", "transcript", *SPOKEN_IN_ORDER, "spoken"])
    # In real time the hangover's silence takes its own length to arrive after the last
    # speech sample (less a frame and a chunk of rounding).
    assert marks["end_of_turn"] >= HearingConfig().turn.hangover_ms - 32 - 20, marks
    assert marks["speech_ms"] > 500


def test_a_mark_keeps_the_first_time_a_stage_is_reached() -> None:
    trace = Trace(origin=10.0)
    trace.mark("first_text", at=10.25)
    trace.mark("first_text", at=11.0)  # a second line in the same turn
    assert trace == {"first_text": 250.0}
    assert STAGES.index("end_of_turn") < STAGES.index("first_audio")
