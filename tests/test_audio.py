"""Audio through the echo brain, and the engine-side Turn / Playback helpers on its reply."""

from __future__ import annotations

import numpy as np
from helpers import engine, interleave, pcm16, run, running, sine

from bridge.messages import FaceFrames, FaceHeader, NpcAudio
from npc.face.arkit import ARKIT_BLENDSHAPES, INDEX
from plugin_stubs.playback import Playback, Turn
from plugin_stubs.wav import Pcm

JAW = INDEX["jawOpen"]


async def echo(audio: Pcm, out_rate: int) -> Turn:
    async with running() as server, engine(server) as client:
        s = await client.open_session(audio_out_rate=out_rate)
        await s.stream(audio)
        return await s.turn()


def test_stereo_48k_is_downmixed_and_echoed_at_the_requested_rate() -> None:
    left = sine(0.5, 48000, freq=440, amp=0.5)
    silent = [0] * len(left)
    audio = Pcm(pcm16(interleave(left, silent)), 48000, channels=2)

    turn = run(lambda: echo(audio, 24000))

    assert turn.end is not None and turn.end.reason == "done"
    assert turn.sample_rate == 24000
    assert all(m.sample_rate == 24000 for m in turn.of(NpcAudio))  # type: ignore[attr-defined]
    out = np.frombuffer(turn.audio, "<i2").astype(np.float64)
    assert len(out) == 12000 == turn.end.audio_samples  # 0.5 s at 24 kHz
    # Left at half scale, right silent: the mono downmix is a quarter-scale sine.
    peak = np.abs(out[1000:-1000]).max() / 32767
    assert 0.22 < peak < 0.28
    assert turn.text == "(echo of 0.50 s of your audio)"


def test_npc_audio_chunks_sit_end_to_end_on_the_timeline() -> None:
    audio = Pcm(pcm16(sine(0.3, 16000)), 16000)
    turn = run(lambda: echo(audio, 22050))
    chunks = turn.of(NpcAudio)
    position = 0
    for c in chunks:
        assert c.start_sample == position  # type: ignore[attr-defined]
        position += len(c.pcm) // 2  # type: ignore[attr-defined]
    assert position == len(turn.audio) // 2 == round(0.3 * 22050)


def test_face_frames_cover_the_audio_and_follow_its_loudness() -> None:
    rate = 24000
    quiet, loud = [0] * (rate // 2), sine(0.5, rate, amp=0.8)  # 0.5 s silence, 0.5 s tone
    audio = Pcm(pcm16(quiet + loud), rate)

    turn = run(lambda: echo(audio, rate))

    header = turn.of(FaceHeader)
    assert len(header) == 1
    assert turn.messages.index(header[0]) < turn.messages.index(turn.of(FaceFrames)[0])
    assert turn.channels == list(ARKIT_BLENDSHAPES) and turn.fps == 60
    times, weights = turn.face_times, turn.face_weights
    samples = len(turn.audio) // 2
    assert samples == rate
    assert times[0] == 0
    assert np.all(np.diff(times) > 0)
    assert times[-1] < samples <= times[-1] + rate / turn.fps  # frames cover all the audio
    assert len(times) == 60  # 1 s at 60 fps
    assert weights.shape == (len(times), len(ARKIT_BLENDSHAPES))
    assert np.all((weights >= 0) & (weights <= 1))
    assert turn.face_at(rate // 4)[JAW] == 0.0  # in the silence
    assert turn.face_at(3 * rate // 4)[JAW] > 0.5  # in the tone
    # Between frames the last frame before the position holds.
    assert np.array_equal(turn.face_at(int(times[10]) + 1), weights[10])


def test_playback_on_a_virtual_clock_samples_the_face_at_the_audio_position() -> None:
    rate = 24000
    audio = Pcm(pcm16([0] * (rate // 2) + sine(0.5, rate, amp=0.8)), rate)
    turn = run(lambda: echo(audio, rate))

    now = [100.0]
    play = Playback(turn, clock=lambda: now[0])
    assert play.position() == 0 and not play.finished()
    assert play.face()[JAW] == 0.0
    now[0] += 0.25
    assert play.position() == rate // 4
    assert play.face()[JAW] == 0.0
    now[0] += 0.5
    assert play.position() == 3 * rate // 4
    assert play.face()[JAW] > 0.5
    assert np.array_equal(play.face(), turn.face_at(3 * rate // 4))
    now[0] += 10.0
    assert play.position() == rate  # never past the audio received
    assert play.finished()


def test_turn_assembles_out_of_order_and_gapped_chunks_by_position() -> None:
    turn = Turn(number=1)
    a, b = pcm16([1, 2, 3]), pcm16([7, 8])
    turn.add(NpcAudio(session="s", turn=1, sample_rate=16000, start_sample=5, pcm=b))
    turn.add(NpcAudio(session="s", turn=1, sample_rate=16000, start_sample=0, pcm=a))
    assert list(np.frombuffer(turn.audio, "<i2")) == [1, 2, 3, 0, 0, 7, 8]
