"""RivaAsr over real gRPC against Riva's own ASR service, recognised by embedded Whisper."""

from __future__ import annotations

import json
import socket
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from riva_server import RivaTestServer

from bridge.errors import BackendError, ConfigError
from npc.asr.base import Hints
from npc.asr.riva import RivaAsr
from npc.bench.speech import wer, words
from npc.registry import ASR

SPEECH = Path(__file__).parent / "data" / "speech"
MANIFEST = json.loads((SPEECH / "manifest.json").read_text())
CHUNK = 1600  # samples per feed(): 100 ms at 16 kHz, as the ASR stage sends
VOCABULARY = ["Brakka", "quartermaster", "mech"]


def speech(name: str) -> np.ndarray:
    with wave.open(str(SPEECH / f"{name}.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        pcm = w.readframes(w.getnframes())
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0






def feed(stream: object, audio: np.ndarray) -> None:
    for start in range(0, len(audio), CHUNK):
        stream.feed(audio[start : start + CHUNK])  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def server() -> Iterator[RivaTestServer]:
    from npc.asr.whisper import WhisperAsr

    try:
        recogniser = WhisperAsr(model="tiny.en")
    except ConfigError as e:
        pytest.skip(f"embedded Whisper model not available: {e.reason}")
    with RivaTestServer(recogniser) as srv:
        yield srv


@pytest.fixture
def riva(server: RivaTestServer) -> RivaAsr:
    return RivaAsr(uri=server.uri, timeout_s=10.0, partial_wait_s=5.0)


@pytest.mark.parametrize("name", ["paint_red", "quartermaster"])
def test_speech_files_come_back_with_a_partial_first(riva: RivaAsr, name: str) -> None:
    audio, text = speech(name), MANIFEST[name]["text"]
    stream = riva.open_stream(Hints(vocabulary=VOCABULARY))
    try:
        feed(stream, audio[: len(audio) * 3 // 4])
        partial = stream.partial()
        assert words(partial), "no interim result before the end of audio"
        feed(stream, audio[len(audio) * 3 // 4 :])
        final = stream.final()
    finally:
        stream.close()
    assert wer(text, final) <= 0.25, (text, final)


def test_hints_and_config_reach_the_server(riva: RivaAsr, server: RivaTestServer) -> None:
    stream = riva.open_stream(Hints(vocabulary=VOCABULARY))
    feed(stream, speech("paint_red"))
    stream.final()
    stream.close()
    config = server.servicer.calls[-1]
    assert list(config.speech_contexts[0].phrases) == VOCABULARY
    assert config.speech_contexts[0].boost > 0
    assert (config.sample_rate_hertz, config.language_code) == (16000, "en-US")
    assert config.enable_automatic_punctuation


def test_feeding_after_final_continues_the_utterance(riva: RivaAsr) -> None:
    stream = riva.open_stream(Hints(vocabulary=VOCABULARY))
    try:
        feed(stream, speech("paint_red"))
        first = stream.final()
        feed(stream, speech("quartermaster"))
        both = stream.final()
    finally:
        stream.close()
    assert wer(MANIFEST["paint_red"]["text"], first) <= 0.25, first
    expected = f"{MANIFEST['paint_red']['text']} {MANIFEST['quartermaster']['text']}"
    assert wer(expected, both) <= 0.25, both
    assert both.startswith(first)


def test_offline_recognize_at_another_rate(server: RivaTestServer) -> None:
    import riva.client
    from scipy.signal import resample_poly

    audio = resample_poly(speech("quartermaster"), 3, 1)  # 48 kHz
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    service = riva.client.ASRService(riva.client.Auth(uri=server.uri))
    config = riva.client.RecognitionConfig(
        encoding=riva.client.AudioEncoding.LINEAR_PCM, sample_rate_hertz=48000
    )
    riva.client.add_word_boosting_to_config(config, VOCABULARY, 20.0)  # the game's words
    response = service.offline_recognize(pcm, config)
    got = response.results[0].alternatives[0].transcript
    assert wer(MANIFEST["quartermaster"]["text"], got) <= 0.25, got
    assert got == got.lower() and "?" not in got  # punctuation was not asked for


def test_server_rejects_a_config_riva_would(server: RivaTestServer) -> None:
    import riva.client

    service = riva.client.ASRService(riva.client.Auth(uri=server.uri))
    config = riva.client.RecognitionConfig(
        encoding=riva.client.AudioEncoding.MULAW, sample_rate_hertz=16000
    )
    with pytest.raises(grpc.RpcError) as caught:
        service.offline_recognize(b"\0" * 3200, config)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "LINEAR_PCM" in caught.value.details()


def test_rejected_request_is_a_backend_error_not_worth_retrying(server: RivaTestServer) -> None:
    stream = RivaAsr(uri=server.uri, language="de-DE").open_stream(Hints())
    stream.feed(np.zeros(CHUNK, dtype=np.float32))
    with pytest.raises(BackendError) as caught:
        stream.final()
    assert not caught.value.retryable
    assert caught.value.stage == "asr"
    assert "INVALID_ARGUMENT" in caught.value.reason and "de-DE" in caught.value.reason


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_down_is_retryable_and_quick() -> None:
    stream = RivaAsr(uri=f"127.0.0.1:{free_port()}", timeout_s=2.0).open_stream(Hints())
    stream.feed(np.zeros(CHUNK, dtype=np.float32))
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        stream.final()
    assert time.monotonic() - started < 2.0
    assert caught.value.retryable and caught.value.stage == "asr"
    assert "UNAVAILABLE" in caught.value.reason


def test_silent_server_times_out_as_retryable() -> None:
    with socket.socket() as listener:  # accepts TCP, never speaks HTTP/2
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        uri = f"127.0.0.1:{listener.getsockname()[1]}"
        stream = RivaAsr(uri=uri, timeout_s=0.5).open_stream(Hints())
        stream.feed(np.zeros(CHUNK, dtype=np.float32))
        started = time.monotonic()
        with pytest.raises(BackendError) as caught:
            stream.final()
        stream.close()
    assert time.monotonic() - started < 2.0
    assert caught.value.retryable


def test_missing_riva_client_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "riva.client", None)  # import now raises ImportError
    with pytest.raises(ConfigError) as caught:
        ASR.create("riva", uri="127.0.0.1:1")
    assert "nvidia-riva-client" in caught.value.reason
    assert "npc-bridge[riva]" in caught.value.reason
