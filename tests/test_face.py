"""FaceAnimator on a scripted line: channels, frame times, mouth shapes, emotion and life."""
# ruff: noqa: RUF001  (IPA symbols are meant)

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from npc.face.animator import EMOTIONS, HEAD_CHANNELS, FaceAnimator
from npc.face.arkit import ARKIT_BLENDSHAPES, INDEX
from npc.face.visemes import VISEMES, to_track, viseme_of

RATE = 22050
# Unreal's EARFaceBlendShape (which Live Link Face sends) and Apple's BlendShapeLocation list.
EPIC_ORDER = (  # noqa: SIM905
    "EyeBlinkLeft EyeLookDownLeft EyeLookInLeft EyeLookOutLeft EyeLookUpLeft EyeSquintLeft "
    "EyeWideLeft EyeBlinkRight EyeLookDownRight EyeLookInRight EyeLookOutRight EyeLookUpRight "
    "EyeSquintRight EyeWideRight JawForward JawLeft JawRight JawOpen MouthClose MouthFunnel "
    "MouthPucker MouthLeft MouthRight MouthSmileLeft MouthSmileRight MouthFrownLeft "
    "MouthFrownRight MouthDimpleLeft MouthDimpleRight MouthStretchLeft MouthStretchRight "
    "MouthRollLower MouthRollUpper MouthShrugLower MouthShrugUpper MouthPressLeft "
    "MouthPressRight MouthLowerDownLeft MouthLowerDownRight MouthUpperUpLeft MouthUpperUpRight "
    "BrowDownLeft BrowDownRight BrowInnerUp BrowOuterUpLeft BrowOuterUpRight CheekPuff "
    "CheekSquintLeft CheekSquintRight NoseSneerLeft NoseSneerRight TongueOut"
).split()
MOUTH = [i for i, n in enumerate(ARKIT_BLENDSHAPES) if n.startswith(("jaw", "mouth", "tongue"))]


@dataclass(frozen=True)
class Ph:
    symbol: str
    start: int
    end: int


def scripted() -> tuple[np.ndarray, list[Ph]]:
    """A made-up line with known phones: loud vowels, silent stop closures, a hummed /m/."""
    plan = [(" ", 0.25, 0.0), ("b", 0.06, 0.01), ("ˈ", 0.03, 0.3), ("ɑ", 0.15, 0.3),
            ("p", 0.08, 0.0), ("a", 0.14, 0.3), ("m", 0.08, 0.05), ("u", 0.15, 0.2),
            (" ", 0.3, 0.0), ("s", 0.1, 0.05), ("oʊ", 0.2, 0.25), (".", 0.3, 0.0)]  # fmt: skip
    rng = np.random.default_rng(3)
    pcm, phones, at = [], [], 0
    for symbol, secs, amp in plan:
        n = round(secs * RATE)
        t = np.arange(n) / RATE
        tone = np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 420 * t)
        x = amp * (tone if symbol not in "sp" else rng.standard_normal(n))
        pcm.append(np.round(x * 0.6 * 32767).astype(np.int16))
        phones.append(Ph(symbol, at, at + n))
        at += n
    return np.concatenate(pcm), phones


def animate(pcm: np.ndarray, phones: list[Ph], cuts: list[int] | None = None,
            **kw: object) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Feed the line in pieces cut at `cuts` (samples), phones going with their piece."""
    face = FaceAnimator(RATE, **kw)  # type: ignore[arg-type]
    bounds = [0, *(cuts or []), len(pcm)]
    times, weights = [], []
    for lo, hi in itertools.pairwise(bounds):
        mine = [Ph(p.symbol, p.start - lo, p.end - lo) for p in phones if lo <= p.start < hi]
        t, w = face.feed(pcm[lo:hi], mine)
        times.append(t)
        weights.append(w)
    t, w = face.finish()
    return np.concatenate([*times, t]), np.concatenate([*weights, w])


def at_centre(times: np.ndarray, p: Ph) -> int:
    return int(np.argmin(np.abs(times - (p.start + p.end) // 2)))


def test_channels_are_arkit_52_in_canonical_order_then_head() -> None:
    assert [n[0].upper() + n[1:] for n in ARKIT_BLENDSHAPES] == EPIC_ORDER
    face = FaceAnimator(RATE)
    assert face.channels == [*ARKIT_BLENDSHAPES, *HEAD_CHANNELS]
    assert FaceAnimator(RATE, head=False).channels == list(ARKIT_BLENDSHAPES)
    assert EMOTIONS[0] == "neutral" and len(VISEMES) == 15


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
@pytest.mark.parametrize("fps", [30, 60])
def test_frame_times_cover_the_audio_exactly_across_feeds(rate: int, fps: int) -> None:
    face = FaceAnimator(rate, fps)
    sizes = [rate // 3, 0, 1, 777, rate]  # a third of a second, nothing, one sample...
    got = [face.feed(np.zeros(n, np.int16), [])[0] for n in sizes]
    got.append(face.idle(rate // 7)[0])
    got.append(face.finish()[0])
    times = np.concatenate(got)
    total = sum(sizes) + rate // 7
    k = np.arange(len(times))
    assert np.array_equal(times, [round(i * rate / fps) for i in k])  # no gap, no repeat
    assert times[-1] >= total > times[-2]  # through the first frame at or after the end
    assert face.finish()[0].size == 0


def test_empty_turn_is_one_neutral_frame() -> None:
    times, weights = FaceAnimator(RATE).finish()
    assert times.tolist() == [0] and weights.shape == (1, 55) and weights.dtype == np.float32


def test_output_does_not_depend_on_how_the_audio_is_split() -> None:
    pcm, phones = scripted()
    whole = animate(pcm, phones)
    cut_at = [p.start for p in phones[2::3]]  # at phone boundaries, phones with their clip
    split = animate(pcm, phones, cut_at)
    assert np.array_equal(whole[0], split[0])
    np.testing.assert_allclose(whole[1], split[1], atol=1e-5)
    odd = animate(pcm, [], [1000, 1001, 9000, 20000])
    np.testing.assert_allclose(animate(pcm, [])[1], odd[1], atol=1e-5)


def test_mouth_shut_in_silence_and_on_p_b_m_open_on_open_vowels() -> None:
    pcm, phones = scripted()
    times, w = animate(pcm, phones)
    jaw, close = w[:, INDEX["jawOpen"]], w[:, INDEX["mouthClose"]]
    for p in phones:
        k = at_centre(times, p)
        if p.symbol in "pbm":
            assert jaw[k] < 0.15 and jaw[k] - close[k] < 0.02, p  # lips sealed
        elif p.symbol in ("ɑ", "a"):
            assert jaw[k] > 0.4, p
    quiet = (times < phones[0].end - RATE // 6) | (times > phones[-1].start + RATE // 6)
    assert quiet.sum() > 10 and w[quiet][:, MOUTH].max() < 0.02
    # Lip shapes follow the phones: /u/ puckers, /s/ stretches.
    u = next(p for p in phones if p.symbol == "u")
    assert w[at_centre(times, u), INDEX["mouthPucker"]] > 0.4


def test_audio_alone_drives_the_jaw() -> None:
    pcm, phones = scripted()
    times, w = animate(pcm, [])
    jaw = w[:, INDEX["jawOpen"]]
    vowel = next(p for p in phones if p.symbol == "ɑ")
    assert jaw[at_centre(times, vowel)] > 0.3
    assert jaw[times < phones[0].end - RATE // 10].max() < 0.01


def test_no_popping() -> None:
    pcm, phones = scripted()
    _, w = animate(pcm, phones)
    step = np.abs(np.diff(w, axis=0))
    assert step[:, MOUTH].max() < 0.35  # per 60 fps frame
    assert step.max() < 0.5  # blinks are the fastest thing on a face


def test_emotion_blends_in_over_time_and_speech_keeps_the_lips() -> None:
    face = FaceAnimator(RATE, head=False)
    face.set_emotion("joy", 1.0)
    t, w = face.idle(RATE)
    smile = w[:, INDEX["mouthSmileLeft"]]
    assert smile[0] < 0.05 and smile[-1] > 0.6
    assert np.all(np.diff(smile) >= -1e-6)  # eases in, no jump
    k = int(np.argmax(smile > 0.6))
    assert 0.15 * RATE < t[k] < 0.35 * RATE
    face.set_emotion("anger", 0.8)
    t, w = face.idle(RATE)
    assert w[-1, INDEX["browDownLeft"]] > 0.5 and w[-1, INDEX["mouthSmileLeft"]] < 0.05
    assert w[0, INDEX["mouthSmileLeft"]] > 0.5  # the change starts from the face it was
    with pytest.raises(ValueError, match="unknown emotion"):
        face.set_emotion("rage", 0.5)
    with pytest.raises(ValueError, match="outside"):
        face.set_emotion("joy", 1.5)


def test_emotion_set_mid_turn_starts_where_the_next_clip_starts() -> None:
    face = FaceAnimator(RATE, head=False)
    t1, w1 = face.idle(RATE)  # frames up to ~0.8 s come back; the rest wait for more audio
    face.set_emotion("sadness", 1.0)
    t2, w2 = face.idle(RATE)
    t, w = np.concatenate([t1, t2]), np.concatenate([w1, w2])
    frown = w[:, INDEX["mouthFrownLeft"]]
    assert t1[-1] < RATE and frown[t < RATE].max() == 0.0
    assert frown[t >= RATE + 0.3 * RATE].min() > 0.5


def test_blinks_at_plausible_intervals_and_seeded() -> None:
    times, w = FaceAnimator(RATE, seed=5).idle(60 * RATE)
    blink = w[:, INDEX["eyeBlinkLeft"]]
    assert np.array_equal(blink, w[:, INDEX["eyeBlinkRight"]])
    shut = np.flatnonzero((blink[1:] > 0.5) & (blink[:-1] <= 0.5)) + 1
    gaps = np.diff(times[shut]) / RATE
    assert 10 <= len(shut) <= 30 and gaps.min() > 1.9 and gaps.max() < 6.2
    lengths = [np.sum(blink[s - 5 : s + 10] > 0.05) / 60 for s in shut]
    assert min(lengths) > 0.08 and max(lengths) < 0.2  # about 150 ms each
    # Eyes look about and the head moves, gently; all from the seed.
    gaze = w[:, [INDEX["eyeLookOutLeft"], INDEX["eyeLookInLeft"], INDEX["eyeLookUpLeft"]]]
    assert gaze.max() > 0.05 and gaze.max() < 0.5
    head = w[:, 52:]
    assert 0.005 < np.abs(head).max() < 0.2
    again = FaceAnimator(RATE, seed=5).idle(60 * RATE)[1]
    other = FaceAnimator(RATE, seed=6).idle(60 * RATE)[1]
    assert np.array_equal(w, again) and not np.array_equal(w, other)


def test_head_moves_more_while_speaking() -> None:
    loud = np.tile(scripted()[0], 8)
    speaking = FaceAnimator(RATE).feed(loud, [])[1][:, 52:]
    idle = FaceAnimator(RATE).feed(np.zeros_like(loud), [])[1][:, 52:]
    assert np.abs(speaking).mean() > 1.2 * np.abs(idle).mean()


def test_phonemes_map_to_visemes() -> None:
    assert [viseme_of(s) for s in ("p", "b", "m", "f", "ð", "ʃ", "ɑː", "ˈa", "u", "x")] == [
        "PP", "PP", "PP", "FF", "TH", "CH", "aa", "aa", "ou", "kk"
    ]  # fmt: skip
    assert viseme_of(" ") == "sil" and viseme_of("_") == "sil" and viseme_of("ʘ") is None
    # piper's letters: the stress mark's time goes to the vowel, the length mark's to it too.
    track = to_track([Ph("b", 0, 10), Ph("ˈ", 10, 20), Ph("ɑ", 20, 40), Ph("ː", 40, 60)], RATE)
    assert track.viseme.tolist() == [VISEMES.index("PP"), VISEMES.index("aa")]
    assert track.start.tolist() == [0, 10] and track.end.tolist() == [10, 60]
    diph = to_track([Ph("aɪ", 0, 100)], RATE)
    assert [VISEMES[v] for v in diph.viseme] == ["aa", "ih"]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="mono"):
        FaceAnimator(RATE).feed(np.zeros((10, 2), np.int16), [])
    with pytest.raises(ValueError, match="fps"):
        FaceAnimator(RATE, fps=0)
