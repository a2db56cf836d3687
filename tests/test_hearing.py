"""Hearing through the bridge: real speech, Silero VAD, Whisper, turn-taking, barge-in."""

from __future__ import annotations

import asyncio
import json
import tomllib
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from bridge.messages import Error, Interrupted, Message, NpcAudio, Transcript, TurnEnd
from npc import hearing as hearing_module
from npc.asr.base import Asr, AsrStream, Hints
from npc.bench.speech import wer, words
from npc.ears import Ears
from npc.echo import EchoBrain
from npc.hearing import HearingConfig
from npc.registry import ASR
from npc.roster import NpcEntry, load_roster
from plugin_stubs.client import Session
from plugin_stubs.wav import Pcm
from sample_game import CONFIG, NPCS_DIR
from tests.helpers import engine, run, running

SPEECH = Path(__file__).parent / "data" / "speech"
TEXTS = {k: v["text"] for k, v in json.loads((SPEECH / "manifest.json").read_text()).items()}


def load(name: str, rate: int = 16000, silence_s: float = 0.8) -> Pcm:
    """A shipped line, resampled to `rate`, with trailing silence for the VAD's hangover."""
    with wave.open(str(SPEECH / f"{name}.wav")) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32)
    x = np.concatenate([x, np.zeros(int(16000 * silence_s), np.float32)])
    if rate != 16000:
        g = np.gcd(rate, 16000)
        x = resample_poly(x, rate // g, 16000 // g)
    return Pcm(np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes(), rate)






@pytest.fixture(scope="module")
def ears() -> Iterator[Ears]:
    # The sample game's words, as its config gives them (sample_game/hangar.toml).
    hearing = tomllib.loads(CONFIG.read_text())["hearing"]
    config = HearingConfig(vocabulary=tuple(hearing["vocabulary"]))
    e = Ears(ASR.create("whisper", **hearing["asr_options"]), config=config)
    yield e
    e.shutdown()


def brain(ears: Ears) -> EchoBrain:
    return EchoBrain(load_roster(NPCS_DIR), ears, own_ears=False)


async def until(session: Session, kind: type[Message], timeout: float = 20.0) -> list[Message]:
    """Messages up to and including the first of `kind`."""
    got: list[Message] = []
    while not got or not isinstance(got[-1], kind):
        got.append(await session.next(timeout))
    return got


def finals(msgs: list[Message]) -> list[Transcript]:
    return [m for m in msgs if isinstance(m, Transcript) and m.final]


def test_partials_come_before_the_final_and_the_final_matches(ears: Ears) -> None:
    async def scenario() -> None:
        async with running(brain(ears)) as server, engine(server) as client:
            s = await client.open_session("brakka")
            # A microphone's real time (a partial still decoding at the pause is stopped)
            # and no push-to-talk: the VAD decides.
            await s.stream(load("power_cells"), end=False, realtime=True)
            msgs = await until(s, TurnEnd)
            ts = [m for m in msgs if isinstance(m, Transcript)]
            assert ts and not ts[0].final and ts[-1].final
            final = finals(msgs)[0]
            assert wer(TEXTS["power_cells"], final.text) <= 0.2, final.text
            end = msgs[-1]
            assert isinstance(end, TurnEnd) and end.reason == "done"
            # The trace's clock starts at the last speech sample's arrival: then the end of
            # the turn, then the final transcript (decoded in the hangover or after it).
            marks = end.latency_ms
            assert 0 <= marks["end_of_turn"] <= marks["transcript"], marks

    run(scenario)


def test_push_to_talk_ends_the_turn_at_once(ears: Ears) -> None:
    async def scenario() -> None:
        async with running(brain(ears)) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.stream(load("paint_red", silence_s=0.0))  # audio-end right after speech
            msgs = await until(s, TurnEnd)
            assert wer(TEXTS["paint_red"], finals(msgs)[0].text) <= 0.25

    run(scenario)


def test_48_khz_is_heard_as_well_as_16_khz(ears: Ears) -> None:
    lines = ["quartermaster", "power_cells", "reactor"]

    async def scenario() -> dict[int, int]:
        wrong = {16000: 0, 48000: 0}
        async with running(brain(ears)) as server, engine(server) as client:
            for rate in wrong:
                for line in lines:
                    s = await client.open_session("brakka")
                    await s.stream(load(line, rate), end=False)
                    heard = finals(await until(s, TurnEnd))[0].text
                    wrong[rate] += round(wer(TEXTS[line], heard) * len(words(TEXTS[line])))
        return wrong

    wrong = run(scenario)
    total = sum(len(words(TEXTS[x])) for x in lines)
    assert wrong[16000] / total <= 0.15, wrong
    # As well as: resampling may flip a single word of the lot, no more.
    assert wrong[48000] <= wrong[16000] + 1, wrong


def test_the_npc_name_is_heard_with_the_vocabulary_hint(ears: Ears) -> None:
    async def scenario() -> None:
        async with running(brain(ears)) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.stream(load("brakka_price"), end=False)
            text = finals(await until(s, TurnEnd))[0].text
            assert "brakka" in words(text), text

    run(scenario)


def test_barge_in_stops_the_npc_and_reports_the_stop_sample(ears: Ears) -> None:
    async def scenario() -> None:
        async with running(brain(ears)) as server, engine(server) as client:
            s = await client.open_session("brakka", audio_out_rate=24000)
            await s.stream(load("power_cells"), end=False)
            reply = await until(s, TurnEnd)  # the echo reply: 2.6 s of NPC voice, playing now
            sent = sum(len(m.pcm) // 2 for m in reply if isinstance(m, NpcAudio))
            assert sent > 24000
            await s.stream(load("stop"), end=False)  # the player talks over it
            msgs = await until(s, Interrupted)
            stop = msgs[-1]
            assert isinstance(stop, Interrupted) and stop.reason == "barge-in"
            assert 0 < stop.stop_sample < sent  # it stopped mid-line, where the engine was

    run(scenario)


@pytest.mark.parametrize("line", ["mhm", "okay", "uh_huh"])
def test_backchannels_do_not_interrupt(ears: Ears, line: str) -> None:
    async def scenario() -> None:
        async with running(brain(ears)) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.stream(load("reactor"), end=False)
            await until(s, TurnEnd)  # 2.4 s of NPC voice now playing
            await s.stream(load(line, silence_s=0.6), end=False)
            msgs = await until(s, Transcript)
            while not finals(msgs):
                msgs += await until(s, Transcript)
            # Whatever the recogniser made of it, it neither interrupts nor takes a turn.
            assert not [m for m in msgs if isinstance(m, Interrupted | TurnEnd)]

    run(scenario)


def test_bad_audio_is_refused_and_the_session_still_hears(ears: Ears) -> None:
    async def scenario() -> None:
        async with running(brain(ears)) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.send_audio(b"\x00" * 641, 16000)
            err = await s.next()
            assert isinstance(err, Error) and err.code == "bad-audio"
            await s.send_audio(b"\x00" * 640, 8000)
            err = await s.next()
            assert isinstance(err, Error) and err.code == "unsupported-rate"
            await s.stream(load("paint_red"), end=False)
            assert wer(TEXTS["paint_red"], finals(await until(s, TurnEnd))[0].text) <= 0.25

    run(scenario)


def test_an_uninterruptible_npc_talks_on(ears: Ears) -> None:
    async def scenario() -> None:
        guard = NpcEntry("guard", "Gate Guard", NPCS_DIR, interruptible=False)
        stubborn = EchoBrain([guard], ears, own_ears=False)
        async with running(stubborn) as server, engine(server) as client:
            s = await client.open_session("guard")
            await s.stream(load("power_cells"), end=False)
            await until(s, TurnEnd)  # 2.6 s of NPC voice playing
            await s.stream(load("stop"), end=False)
            # Speech over it: no interruption; the turn it makes waits for the line to end.
            msgs = await until(s, TurnEnd)
            assert not [m for m in msgs if isinstance(m, Interrupted)]
            assert finals(msgs) and msgs[-1].turn == 2  # type: ignore[attr-defined]

    run(scenario)


class FakeFlakyAsr(Asr):
    """The real recogniser, except that its first utterance's final decode crashes."""

    def __init__(self, real: Asr) -> None:
        self.real = real
        self.crashes = 1

    def open_stream(self, hints: Hints) -> AsrStream:
        stream = self.real.open_stream(hints)
        if self.crashes:
            self.crashes -= 1

            def crash() -> str:
                raise RuntimeError("CUDA out of memory (simulated)")

            stream.final = crash  # type: ignore[method-assign]
        return stream


def test_a_failing_recogniser_is_reported_and_the_session_still_hears(ears: Ears) -> None:
    async def scenario() -> None:
        flaky = Ears(FakeFlakyAsr(ears.asr), config=ears.config)  # the brain shuts it down
        brain = EchoBrain(load_roster(NPCS_DIR), flaky)
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka")
            await s.stream(load("paint_red"), end=False)
            err = (await until(s, Error))[-1]
            assert isinstance(err, Error) and err.stage == "asr"
            assert "RuntimeError" in err.reason and "simulated" in err.reason
            await s.stream(load("quartermaster"), end=False)
            heard = finals(await until(s, TurnEnd))[0].text
            assert wer(TEXTS["quartermaster"], heard) <= 0.2, heard

    run(scenario)


def test_a_hearing_session_opens_with_its_declared_actions(ears: Ears) -> None:
    tool = {"type": "function", "function": {"name": "paint", "parameters": {"type": "object"}}}

    async def scenario() -> None:
        async with running(brain(ears)) as server, engine(server) as client:
            s = await client.open_session("brakka", actions=[tool])
            assert s.opened is not None and s.opened.actions == ["paint"]

    run(scenario)


class _Finals:
    """A Listener that keeps the finals (text and trace) and ignores the rest."""

    def __init__(self) -> None:
        self.finals: list[tuple[str, dict[str, float]]] = []

    def speech_started(self) -> None: ...
    def npc_speaking(self) -> bool:
        return False

    def partial(self, text: str, speech_ms: float) -> None: ...
    def tentative(self, text: str) -> None: ...
    def failed(self, error: object) -> None:
        raise AssertionError(error)

    def final(self, text: str, trace: dict[str, float]) -> None:
        self.finals.append((text, dict(trace)))


def test_an_utterance_heard_in_one_batch_is_traced_from_its_last_speech_sample(
    ears: Ears, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Audio that arrives all at once (an engine sending faster than real time, or a
    # hearing stage that fell behind) goes to the VAD in batches of many frames; each
    # frame's own speech state must set the trace's origin, not the batch's last.
    monkeypatch.setattr(hearing_module, "BATCH_S", 5.0)  # the whole line in one batch

    async def scenario() -> list[tuple[str, dict[str, float]]]:
        listener = _Finals()
        hearing = ears.listen(listener, vocabulary=[])  # type: ignore[arg-type]
        pcm = load("stop", silence_s=0.9)
        step = 640 * 2  # 40 ms chunks of 16 kHz PCM16
        for i in range(0, len(pcm.data), step):
            hearing.feed(pcm.data[i : i + step], 16000, 1)
        for _ in range(200):
            if listener.finals:
                break
            await asyncio.sleep(0.05)
        await hearing.close()
        return listener.finals

    finals = run(scenario)
    assert len(finals) == 1 and "stop" in finals[0][0].lower(), finals
    marks = finals[0][1]
    assert 0 <= marks["end_of_turn"] <= marks["transcript"] < 5000, marks
