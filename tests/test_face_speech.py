"""The face on real speech: piper lines through npc.tts, and recorded lines with no phonemes."""
# ruff: noqa: RUF001  (IPA symbols are meant)

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from scipy.io import wavfile

from bridge.errors import ConfigError
from npc.bench.speech import DEFAULT_SET
from npc.face.animator import FaceAnimator
from npc.face.arkit import ARKIT_BLENDSHAPES, INDEX
from npc.face.line import Line, animate_line
from npc.face.sync import loudness_envelope, sync_lag
from npc.tts.base import Tts, Voice, speak

LINES = (
    "Bob, stop! Paint my mech bright blue, please, father.",
    "Not a lot, pal. Park the car by the dock.",
)
MOUTH = [i for i, n in enumerate(ARKIT_BLENDSHAPES) if n.startswith(("jaw", "mouth", "tongue"))]


@pytest.fixture(scope="module")
def piper() -> Iterator[Tts]:
    try:
        from npc.tts.piper import PiperTts

        tts = PiperTts()
    except (ConfigError, ImportError) as e:
        pytest.skip(f"piper is not available here: {e}")
    yield tts
    tts.close()


def lag_of(line: Line, fps: int) -> int:
    env = loudness_envelope(line.pcm, line.rate, line.times, fps)
    return sync_lag(line.weights[:, INDEX["jawOpen"]], env)[0]


@pytest.mark.parametrize("rate", [22050, 48000])
def test_piper_line_lips_close_on_p_b_m_open_on_a_shut_in_silence(piper: Tts, rate: int) -> None:
    for text in LINES:
        line = animate_line(piper, text, Voice(), rate)
        assert line.phones, "the piper backend gave no phoneme timings"
        jaw = line.weights[:, INDEX["jawOpen"]]
        close = line.weights[:, INDEX["mouthClose"]]
        seen = {"closed": 0, "open": 0}
        for symbol, start, end in line.phones:
            if symbol in ("p", "b", "m"):
                k = int(np.argmin(np.abs(line.times - (start + end) // 2)))
                assert jaw[k] < 0.15 and jaw[k] - close[k] < 0.02, (symbol, start)
                seen["closed"] += 1
            if symbol.startswith("ɑ") and end - start > 0.1 * rate:
                near = (line.times >= start - 0.03 * rate) & (line.times < end)
                assert jaw[near].max() > 0.4, (symbol, start)
                seen["open"] += 1
        assert seen["closed"] >= 3 and seen["open"] >= 2
        assert np.abs(np.diff(line.weights[:, MOUTH], axis=0)).max() < 0.35  # no popping


def test_mouth_shuts_when_the_speech_stops(piper: Tts) -> None:
    face = FaceAnimator(22050)
    spoken = [
        face.feed(clip.pcm, clip.phones)[1] for clip in speak(piper, LINES[0], Voice(), 22050)
    ]
    times, weights = face.idle(22050)  # a second of silence after the line
    assert np.concatenate(spoken)[:, INDEX["jawOpen"]].max() > 0.5
    after = times > times[-1] - 0.7 * 22050
    assert weights[after][:, MOUTH].max() < 0.01


@pytest.mark.parametrize("fps", [60, 30])
def test_piper_line_jaw_in_sync_with_loudness(piper: Tts, fps: int) -> None:
    for text in LINES:
        line = animate_line(piper, text, Voice(), 22050, fps)
        assert abs(lag_of(line, fps)) <= 1, text


def test_recorded_lines_without_phonemes_in_sync() -> None:
    lags = []
    for wav in sorted(DEFAULT_SET.glob("*.wav")):
        rate, pcm = wavfile.read(wav)
        face = FaceAnimator(rate)
        t1, w1 = face.feed(pcm, [])
        t2, w2 = face.finish()
        line = Line(pcm, rate, [], np.concatenate([t1, t2]), np.concatenate([w1, w2]))
        lags.append(lag_of(line, 60))
    assert len(lags) >= 5 and max(abs(x) for x in lags) <= 1, lags
