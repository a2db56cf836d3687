"""The thinking brain speaks: clause-streamed voice, face frames on its timeline, emotion.

Real piper voice and face animator; the model is scripted (FakeLlm) so the timing of the
text is under the test's control.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bridge.errors import BackendError, DesignerError
from bridge.messages import (
    DialogueDelta,
    DialogueFinal,
    Emotion,
    FaceFrames,
    FaceHeader,
    NpcAudio,
    TurnEnd,
)
from npc.face.arkit import ARKIT_BLENDSHAPES
from npc.llm.base import LlmRequest
from npc.mind.brain import MindBrain
from npc.speaking import SpeechOptions, Voices
from npc.tts.base import Clip, Tts, Voice
from sample_game import HERE
from tests.helpers import engine, run, running
from tests.mind_helpers import FakeLlm, copy_game, mind
from tests.test_group import FakeSceneLlm

LINE = (
    "Welcome back, pilot. The left actuator is shot, and the coolant lines are cracked. "
    "Give me an hour and she will walk again."
)


class SlowLlm(FakeLlm):
    """A scripted model that writes at a set pace, as a real one streams."""

    def __init__(self, *outputs: str, piece_s: float = 0.03) -> None:
        super().__init__(*outputs)
        self.piece_s = piece_s

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        for piece in super().stream(request, cancel):
            if cancel.is_set():
                return
            time.sleep(self.piece_s)
            yield piece


class BrokenTts(Tts):
    """A voice that fails on every clause (as a TTS server that went away)."""

    name = "broken"

    def voices(self) -> list[str]:
        return ["joe-us"]

    def synthesize(self, text: str, voice: Voice) -> Iterator[Clip]:
        raise BackendError("the voice server went away", stage="tts")

    def warm(self, voice: Voice) -> None:
        pass


def said(text: str, emotion: str = "neutral", **extra: Any) -> str:
    return json.dumps({"action": {"name": "none"}, "emotion": emotion, "say": text, **extra})


def speaking(
    llm: FakeLlm, tmp_path: Path, tts: Tts, fps: int = 60, game: Path = HERE
) -> MindBrain:
    brain = mind(llm, tmp_path, game)
    brain.voices = Voices(tts, SpeechOptions(fps=fps))
    return brain


def test_first_audio_leaves_while_the_line_is_still_being_written(
    tmp_path: Path, piper_tts: Tts
) -> None:
    brain = speaking(SlowLlm(said(LINE)), tmp_path, piper_tts)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", audio_out_rate=24000)
            await s.say("How is my mech?")
            turn = await s.turn()
            kinds = [type(m) for m in turn.messages]
            first_audio = kinds.index(NpcAudio)
            last_delta = len(kinds) - 1 - kinds[::-1].index(DialogueDelta)
            assert first_audio < last_delta  # spoken before the model finished the line
            assert kinds.index(DialogueFinal) < kinds.index(TurnEnd)
            assert turn.text == LINE and turn.sample_rate == 24000
            assert turn.end is not None and turn.end.reason == "done"
            assert turn.end.audio_samples == len(turn.audio) // 2
            # Three clauses' worth of speech: a few seconds, no gaps in the timeline.
            starts = [m.start_sample for m in turn.of(NpcAudio)]  # type: ignore[attr-defined]
            assert starts == sorted(starts) and len(turn.audio) // 2 > 3 * 24000
            assert "first_audio" in turn.end.latency_ms

    run(scenario)


@pytest.mark.parametrize("fps", [60, 30])
def test_face_frames_cover_the_audio_exactly(tmp_path: Path, piper_tts: Tts, fps: int) -> None:
    brain = speaking(FakeLlm(said(LINE)), tmp_path, piper_tts, fps=fps)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", audio_out_rate=48000)
            await s.say("How is my mech?")
            turn = await s.turn()
            headers = turn.of(FaceHeader)
            assert len(headers) == 1
            assert turn.messages.index(headers[0]) < turn.messages.index(turn.of(FaceFrames)[0])
            assert turn.channels[:52] == list(ARKIT_BLENDSHAPES) and turn.fps == fps
            n = len(turn.audio) // 2
            times = turn.face_times
            k = np.arange(len(times))
            assert np.array_equal(times, np.round(k * 48000 / fps).astype(np.int64))
            assert times[-1] >= n > times[-2]  # through the end of the audio, no further
            w = turn.face_weights
            assert w.shape == (len(times), len(turn.channels))
            jaw = w[:, ARKIT_BLENDSHAPES.index("jawOpen")]
            assert jaw.max() > 0.3 and jaw[-1] < 0.05  # it talked; it ends closed

    run(scenario)


def test_the_lines_emotion_goes_out_and_shows_on_the_face(tmp_path: Path, piper_tts: Tts) -> None:
    llm = FakeSceneLlm(said("Ha! Now that is a fine mech. I love it.", emotion="happy"),
                  said("Sure.", emotion="sad"), said("Fine.", emotion="alarm"),
                  said("Four fifty.", emotion="neutral"))
    brain = speaking(llm, tmp_path, piper_tts)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.say("Look what I did!")
            turn = await s.turn()
            assert [(e.emotion, e.start_sample) for e in turn.emotions] == [("joy", 0)]
            assert isinstance(turn.emotions[0], Emotion) and 0 < turn.emotions[0].intensity <= 1
            assert turn.messages.index(turn.emotions[0]) < turn.messages.index(
                turn.of(NpcAudio)[0]
            )
            w = turn.face_weights
            smile = w[:, ARKIT_BLENDSHAPES.index("mouthSmileLeft")]
            assert smile[len(smile) // 2 :].mean() > 0.1
            schema = llm.requests[0].schema
            assert schema is not None and "happy" in schema["properties"]["emotion"]["enum"]
            # The NPC's usual emotion of late is the decoder's first guess for the next
            # ("happy" before any: what the model shows most on a first reply).
            for line in ("Do it again.", "And again."):
                await s.say(line)
                assert (await s.turn()).emotions
            lines = [r for r in llm.requests if "say" in (r.schema or {}).get("properties", {})]
            assert [r.guesses for r in lines] == [("happy",), ("happy",), ("sad",)]
            # An answer from lore is guessed neutral, whatever the NPC showed before.
            await s.say("How much for a new actuator?")
            assert (await s.turn()).emotions
            asked = [r for r in llm.requests if "say" in (r.schema or {}).get("properties", {})]
            assert "450 credits" in asked[-1].messages[-1].content
            assert asked[-1].guesses == ("neutral",)

    run(scenario)


def test_a_cancelled_turn_stops_its_voice(tmp_path: Path, piper_tts: Tts) -> None:
    brain = speaking(SlowLlm(said(LINE), piece_s=0.05), tmp_path, piper_tts)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.say("How is my mech?")
            while not isinstance(await s.next(10), NpcAudio):
                pass
            await s.cancel()
            turn = await s.turn()
            assert turn.end is not None and turn.end.reason == "cancelled"
            assert turn.interrupted is not None
            # Nothing of the turn arrives after its end.
            await s.say("Never mind.")
            nxt = await s.turn()
            assert all(getattr(m, "turn", nxt.number) == nxt.number for m in nxt.messages)

    run(scenario)


def test_a_failing_voice_is_an_error_and_the_line_still_arrives(tmp_path: Path) -> None:
    brain = speaking(FakeLlm(said(LINE)), tmp_path, BrokenTts())

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.say("How is my mech?")
            turn = await s.turn()
            assert [(e.code, e.stage) for e in turn.errors] == [("backend-failed", "tts")]
            assert turn.text == LINE and not turn.of(NpcAudio)
            assert turn.end is not None and turn.end.reason == "done"

    run(scenario)


def test_without_a_voice_the_brain_sends_text_only(tmp_path: Path) -> None:
    llm = FakeLlm(said("Hold still, kid."))
    brain = mind(llm, tmp_path)
    assert "audio" not in brain.capabilities()

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.say("Hi.")
            turn = await s.turn()
            assert turn.text == "Hold still, kid." and not turn.of(NpcAudio)
            schema = llm.requests[0].schema
            assert schema is not None and "emotion" not in schema["properties"]

    run(scenario)




def test_an_npc_file_naming_an_unknown_voice_stops_the_start_with_its_line(
    tmp_path: Path, piper_tts: Tts
) -> None:
    game = copy_game(tmp_path / "game")
    path = game / "npcs" / "brakka.toml"
    path.write_text(path.read_text().replace('voice = "joe-us"', 'voice = "joe-uk"'))
    brain = speaking(FakeLlm(said("Hi.")), tmp_path, piper_tts, game=game)
    with pytest.raises(DesignerError) as e:
        run(brain.start)
    assert str(path) in str(e.value) and "joe-uk" in str(e.value) and "joe-us" in str(e.value)
    line = path.read_text().splitlines().index('voice = "joe-uk"') + 1
    assert f":{line}:" in str(e.value)
