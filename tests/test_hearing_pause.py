"""The pause's transcript and a partial still decoding (npc/hearing.py `_pause_decode`):
a partial that heard all the speech is the pause's transcript; one asked for before the
last speech is stopped, and the pause decodes at once. Scripted VAD and recogniser."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from npc.asr.base import Asr, AsrStream, Hints
from npc.hearing import Hearing, HearingConfig
from npc.vad.base import Vad, VadCapabilities
from tests.helpers import run

FRAME = 512  # 32 ms at 16 kHz
SPEECH_FRAMES = 30  # 960 ms of speech, then silence


class LoudVad(Vad):
    """Speech wherever the frame is loud: the test's audio says exactly where that is."""

    capabilities = VadCapabilities(sample_rate=16000, frame_samples=FRAME)

    def probability(self, frame: np.ndarray) -> float:
        return 1.0 if float(np.abs(frame).max()) > 0.1 else 0.0

    def reset(self) -> None: ...


class SlowPartials(Asr):
    """Partials that take until the test lets them go; finals at once."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []  # (what, samples fed when it started)
        self.release = threading.Event()
        self.partial_started = threading.Event()

    def open_stream(self, hints: Hints) -> AsrStream:
        asr = self

        class Stream(AsrStream):
            fed = 0
            stopped = False

            def feed(self, audio: np.ndarray) -> None:
                self.fed += len(audio)

            def partial(self) -> str:
                asr.calls.append(("partial", self.fed))
                asr.partial_started.set()
                asr.release.wait(5)
                return "what was heard" if not self.stopped else ""

            def final(self) -> str:
                asr.calls.append(("final", self.fed))
                return "what was heard, final"

            def stop_partial(self) -> None:
                asr.calls.append(("stop", self.fed))
                self.stopped = True
                asr.release.set()

        return Stream()


class Heard:
    def __init__(self) -> None:
        self.partials: list[str] = []
        self.tentatives: list[str] = []
        self.finals: list[str] = []

    def speech_started(self) -> None: ...
    def npc_speaking(self) -> bool:
        return False

    def partial(self, text: str, speech_ms: float) -> None:
        self.partials.append(text)

    def tentative(self, text: str) -> None:
        self.tentatives.append(text)

    def failed(self, error: object) -> None:
        raise AssertionError(error)

    def final(self, text: str, trace: object) -> None:
        self.finals.append(text)


async def _final(heard: Heard) -> None:
    """On a loaded machine the hearing may lag the audio: wait for the final a while."""
    for _ in range(100):
        if heard.finals:
            return
        await asyncio.sleep(0.05)


def _hear(asr: SlowPartials, partial_at_frame: int, release_at_pause: bool) -> Heard:
    """960 ms of 'speech' then silence, in 32 ms chunks in real time; the one partial
    is asked for at `partial_at_frame` of speech."""
    heard = Heard()
    # The VAD's utterance starts after min_speech_ms (96 ms, 3 frames) and counts from there.
    config = HearingConfig(partial_ms=60_000, barge_in_ms=partial_at_frame * 32)

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as vad_pool, ThreadPoolExecutor(1) as asr_pool:
            hearing = Hearing(LoudVad(), asr, config, heard, vad_pool, asr_pool)
            loud = np.full(FRAME, 0.5 * 32767, np.int16).tobytes()
            quiet = bytes(2 * FRAME)
            for i in range(SPEECH_FRAMES + 40):
                hearing.feed(loud if i < SPEECH_FRAMES else quiet, 16000, 1)
                await asyncio.sleep(0.032)
                if release_at_pause and i == SPEECH_FRAMES + 3:
                    asr.release.set()
                if heard.finals:
                    break
            await _final(heard)
            asr.release.set()
            await hearing.close()

    run(scenario)
    return heard


def test_a_partial_that_heard_all_the_speech_is_the_pause_s_transcript() -> None:
    asr = SlowPartials()
    heard = _hear(asr, partial_at_frame=SPEECH_FRAMES, release_at_pause=True)
    assert [what for what, _ in asr.calls] == ["partial"]  # no decode at the pause
    assert asr.calls[0][1] == SPEECH_FRAMES * FRAME  # it had every speech sample
    assert heard.tentatives == ["what was heard"] and heard.finals == ["what was heard"]
    assert heard.partials == []  # the pause's transcript, not a partial


@pytest.mark.parametrize("frame", [SPEECH_FRAMES - 2, SPEECH_FRAMES - 10])
def test_a_partial_asked_for_before_the_last_speech_is_stopped_at_the_pause(frame: int) -> None:
    asr = SlowPartials()
    heard = _hear(asr, partial_at_frame=frame, release_at_pause=False)
    assert [what for what, _ in asr.calls] == ["partial", "stop", "final"]
    assert asr.calls[0][1] < SPEECH_FRAMES * FRAME <= asr.calls[2][1]
    assert heard.finals == ["what was heard, final"] and heard.partials == []


def test_while_the_npc_speaks_the_partial_goes_on_to_decide_the_barge_in() -> None:
    asr = SlowPartials()
    heard = Heard()
    heard.npc_speaking = lambda: True  # type: ignore[method-assign]
    config = HearingConfig(partial_ms=60_000, barge_in_ms=(SPEECH_FRAMES - 2) * 32)

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as vad_pool, ThreadPoolExecutor(1) as asr_pool:
            hearing = Hearing(LoudVad(), asr, config, heard, vad_pool, asr_pool)
            loud = np.full(FRAME, 0.5 * 32767, np.int16).tobytes()
            for i in range(SPEECH_FRAMES + 40):
                hearing.feed(loud if i < SPEECH_FRAMES else bytes(2 * FRAME), 16000, 1)
                await asyncio.sleep(0.032)
                if i == SPEECH_FRAMES + 3:
                    asr.release.set()
                if heard.finals:
                    break
            await _final(heard)
            await hearing.close()

    run(scenario)
    assert [what for what, _ in asr.calls] == ["partial", "final"]  # never stopped
    assert heard.partials == ["what was heard"] and heard.finals == ["what was heard, final"]
