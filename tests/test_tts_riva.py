"""RivaTts over real gRPC against Riva's own TTS service, spoken by the embedded piper voice."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator

import pytest
from riva_tts_server import RivaTtsTestServer
from test_tts import THREE, voices_dir

from bridge.errors import BackendError, ConfigError
from npc.tts import Voice, build_tts, speak
from npc.tts.riva import RivaTts

VOICE = "Piper.joe-us"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RivaTtsTestServer]:
    try:
        piper = build_tts("piper", {"cache_dir": str(voices_dir(tmp_path_factory))})
        piper.warm(Voice())
    except ConfigError as e:
        pytest.skip(f"piper or its joe-us voice is not installed: {e.reason}")
    with RivaTtsTestServer(piper) as srv:
        yield srv
    piper.close()


@pytest.fixture
def riva(server: RivaTtsTestServer) -> RivaTts:
    return RivaTts(uri=server.uri, timeout_s=30.0)


def test_round_trip_streams_sentences_at_the_asked_rate(riva: RivaTts) -> None:
    assert riva.voices() == [VOICE]
    started = time.monotonic()
    clips, arrivals = [], []
    for clip in speak(riva, THREE, Voice(VOICE), 48000):
        clips.append(clip)
        arrivals.append(time.monotonic() - started)
    assert len(clips) == 3  # the server streams a response per sentence, as it makes them
    assert arrivals[0] < 0.6 * arrivals[-1], arrivals
    assert all(c.rate == 48000 and c.phones == [] for c in clips)
    seconds = sum(len(c.pcm) for c in clips) / 48000
    assert 2.0 < seconds < 6.0, seconds


def test_speed_pitch_and_text_reach_the_server(riva: RivaTts, server: RivaTtsTestServer) -> None:
    text = "Tom & Jerry <3 said: fine."
    clips = list(riva.synthesize(text, Voice("", speed=1.5, pitch=4.0)))
    assert clips and len(clips[0].pcm) > 0
    heard = server.servicer.heard[-1]
    assert heard.text == text  # escaped into SSML and back
    assert heard.voice.speed == 1.5
    assert heard.voice.pitch == pytest.approx(4.0, abs=0.05)
    assert heard.rate == riva.sample_rate == 22050


def test_a_bad_voice_name_lists_the_servers_voices(riva: RivaTts) -> None:
    with pytest.raises(ConfigError, match=f"no voice 'English-US.Female-1' .* known: {VOICE}"):
        riva.check(Voice("English-US.Female-1"))


def test_a_rejected_request_is_not_worth_retrying(server: RivaTtsTestServer) -> None:
    german = RivaTts(uri=server.uri, language="de-DE")
    with pytest.raises(BackendError) as caught:
        list(german.synthesize("Hallo.", Voice()))
    assert not caught.value.retryable and caught.value.stage == "tts"
    assert "INVALID_ARGUMENT" in caught.value.reason and "de-DE" in caught.value.reason


def test_server_down_is_retryable_and_quick() -> None:
    with socket.socket() as closed:  # bound but never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        riva = RivaTts(uri=f"127.0.0.1:{closed.getsockname()[1]}", timeout_s=2.0)
        started = time.monotonic()
        with pytest.raises(BackendError) as caught:
            list(riva.synthesize("Hello.", Voice()))
    assert time.monotonic() - started < 2.5
    assert caught.value.retryable and "UNAVAILABLE" in caught.value.reason


def test_missing_riva_client_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "riva.client", None)  # import now raises ImportError
    with pytest.raises(ConfigError) as caught:
        build_tts("riva", {"uri": "127.0.0.1:1"})
    assert "nvidia-riva-client" in caught.value.reason
    assert "npc-bridge[riva]" in caught.value.reason
