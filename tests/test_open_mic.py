"""An open microphone: silence streamed through the NPC's reply, and audio faster than real time.

The bug these keep fixed: an engine that kept its microphone open through the NPC's reply
(one-chunk `stream` calls back to back) sent about 25,000 chunks a second, and a typed
line on another session of the same engine waited behind them, unanswered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from bridge.messages import Error, Transcript, TurnEnd
from npc.ears import Ears
from npc.hearing import BACKLOG_S
from plugin_stubs.client import Session
from plugin_stubs.wav import Pcm
from tests import test_hearing
from tests.helpers import WAIT, engine, run, running, talk
from tests.test_hearing import brain, finals, load, until

ears = test_hearing.ears  # Silero VAD and Whisper, shared with the hearing tests

CHUNK_MS = 20


def quiet(ms: int, rate: int = 16000) -> Pcm:
    return Pcm(bytes(2 * rate * ms // 1000), rate)


async def open_mic(session: Session, line: Pcm) -> int:
    """Say `line`, then keep the microphone open (silence) until cancelled; chunks sent."""
    await session.stream(line, chunk_ms=CHUNK_MS, realtime=True, end=False)
    sent = 0
    try:
        while True:
            await session.stream(quiet(CHUNK_MS), chunk_ms=CHUNK_MS, realtime=True, end=False)
            sent += 1
    finally:
        session.sent_silence = sent  # type: ignore[attr-defined]


def test_back_to_back_realtime_chunks_are_paced_like_a_microphone() -> None:
    async def scenario() -> float:
        async with running() as server, engine(server) as client:
            s = await client.open_session("brakka")
            began = time.monotonic()
            for _ in range(10):
                await s.stream(quiet(CHUNK_MS), chunk_ms=CHUNK_MS, realtime=True, end=False)
            return time.monotonic() - began

    # Ten 20 ms chunks from a microphone cannot all be out before 200 ms of it passed.
    assert run(scenario) >= 10 * CHUNK_MS / 1000


def test_an_open_mic_through_the_reply_leaves_another_session_answered(ears: Ears) -> None:
    async def scenario() -> None:
        async with running(brain(ears)) as server, engine(server) as client:
            a = await client.open_session("brakka", session="mic")
            b = await client.open_session("quartermaster", session="typed")
            for _ in range(2):
                mic = asyncio.ensure_future(open_mic(a, load("paint_red", silence_s=0)))
                heard = await a.turn(20.0)
                assert heard.end is not None and heard.end.reason == "done"
                assert "paint" in heard.transcript.lower()
                await asyncio.sleep(2.0)  # the mic stays open while the NPC's voice plays
                mic.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await mic
                sent = a.sent_silence  # type: ignore[attr-defined]
                assert sent < 4 * (2.0 + 10.0) * 1000 / CHUNK_MS  # real time, not a flood
                typed = await talk(b, "still there?", timeout=WAIT)
                assert typed.text == "still there?"

    run(scenario)


def test_audio_far_faster_than_real_time_is_dropped_and_the_session_hears_again(
    ears: Ears,
) -> None:
    async def scenario() -> None:
        async with running(brain(ears)) as server, engine(server) as client:
            s = await client.open_session("brakka")
            flood = 4 * BACKLOG_S  # seconds of silence, sent in 5 s chunks at once
            await s.stream(quiet(int(flood * 1000)), chunk_ms=5000, end=False)
            err = await s.next(WAIT)
            assert isinstance(err, Error) and err.code == "rate-limited" and err.stage == "asr"
            await asyncio.sleep(1.0)  # what was kept is heard in a moment
            await s.stream(load("paint_red"), end=False)
            msgs = await until(s, TurnEnd)
            assert not [m for m in msgs if isinstance(m, Error)], msgs
            said = finals(msgs)
            assert said and "paint" in said[0].text.lower(), [
                m for m in msgs if isinstance(m, Transcript)
            ]

    run(scenario)
