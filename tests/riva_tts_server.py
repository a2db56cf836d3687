"""A real Riva TTS gRPC server for tests, backed by the project's embedded synthesiser.

It serves Riva's own `RivaSpeechSynthesis` service from the protos shipped in
nvidia-riva-client, so RivaTts is tested over real gRPC against the real wire protocol;
the speech itself comes from any `npc.tts.base.Tts` (the tests use PiperTts). It is no
Riva model: only the protocol, its SSML prosody and its checks are Riva's.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from riva.client.proto import riva_audio_pb2 as raudio
from riva.client.proto import riva_tts_pb2 as rtts
from riva.client.proto import riva_tts_pb2_grpc as rtts_grpc

from bridge.errors import BridgeError
from npc.tts.base import Tts, Voice, resample_clip
from npc.tts.riva import semitones

VOICE_NAME = "Piper"  # Riva names voices "<voice_name>.<subvoice>": here "Piper.joe-us"
F0_HZ, F0_STD_HZ = 120.0, 52.185  # what RivaTts assumes by default
_RATE = re.compile(r"^\+?(\d+(?:\.\d+)?)%$")
_NAMED_RATES = {
    "x-low": 0.5,
    "low": 0.75,
    "medium": 1.0,
    "default": 1.0,
    "high": 1.25,
    "x-high": 1.5,
}


@dataclass(frozen=True, slots=True)
class Heard:
    """What the server made of one request, for tests to inspect."""

    text: str  # the words, SSML removed
    voice: Voice
    rate: int


class PiperRivaServicer(rtts_grpc.RivaSpeechSynthesisServicer):  # type: ignore[misc]
    """Riva's TTS service: requests checked as Riva does, speech made by `tts`."""

    def __init__(self, tts: Tts) -> None:
        self.tts = tts
        self.heard: list[Heard] = []

    def _voices(self) -> dict[str, str]:
        return {f"{VOICE_NAME}.{name}": name for name in self.tts.voices()}

    def _read(self, request: Any, context: grpc.ServicerContext) -> Heard:
        problems = []
        if request.encoding != raudio.AudioEncoding.LINEAR_PCM:
            name = raudio.AudioEncoding.Name(request.encoding)
            problems.append(f"encoding {name} is not supported; use LINEAR_PCM")
        if not 8000 <= request.sample_rate_hz <= 48000:
            problems.append(f"sample_rate_hz {request.sample_rate_hz} is not in 8000..48000")
        if request.language_code and not request.language_code.lower().startswith("en"):
            problems.append(f"no voice for language_code {request.language_code}")
        voices = self._voices()
        if request.voice_name and request.voice_name not in voices:
            problems.append(
                f"voice {request.voice_name} is not available; have {', '.join(voices)}"
            )
        text, speed, pitch = request.text, 1.0, 0.0
        try:
            text, speed, pitch = _prosody(request.text)
        except ValueError as e:
            problems.append(str(e))
        if problems:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(problems))
        voice = Voice(voices.get(request.voice_name, ""), speed, pitch)
        heard = Heard(text, voice, request.sample_rate_hz)
        self.heard.append(heard)
        return heard

    def _audio(self, heard: Heard, context: grpc.ServicerContext) -> Iterator[bytes]:
        try:
            for clip in self.tts.synthesize(heard.text, heard.voice):
                yield resample_clip(clip, heard.rate).pcm.astype("<i2").tobytes()
        except BridgeError as e:
            context.abort(grpc.StatusCode.INTERNAL, e.reason)

    def Synthesize(self, request: Any, context: grpc.ServicerContext) -> Any:
        heard = self._read(request, context)
        audio = b"".join(self._audio(heard, context))
        meta = rtts.SynthesizeSpeechResponseMetadata(text=request.text, processed_text=heard.text)
        return rtts.SynthesizeSpeechResponse(audio=audio, meta=meta)

    def SynthesizeOnline(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        for request in request_iterator:  # the 2.x client may stream several texts
            heard = self._read(request, context)
            for audio in self._audio(heard, context):  # a sentence as soon as it is made
                yield rtts.SynthesizeSpeechResponse(audio=audio)

    def GetRivaSynthesisConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        subvoices = ",".join(f"{name}:{i}" for i, name in enumerate(self.tts.voices()))
        config = rtts.RivaSynthesisConfigResponse.Config(
            model_name="piper-embedded",
            parameters={"voice_name": VOICE_NAME, "subvoices": subvoices, "language_code": "en-US"},
        )
        return rtts.RivaSynthesisConfigResponse(model_config=[config])


def _prosody(text: str) -> tuple[str, float, float]:
    """(words, speed, semitones) of plain text or `<speak><prosody ...>` SSML. As Riva, a
    document that is not valid XML with a <speak> root is read as plain text."""
    if not text.lstrip().startswith("<speak"):
        return text, 1.0, 0.0
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return text, 1.0, 0.0
    if root.tag != "speak":
        return text, 1.0, 0.0
    prosody = root.find("prosody")
    words = "".join(root.itertext())
    if prosody is None:
        return words, 1.0, 0.0
    speed = _rate(prosody.get("rate", "default"))
    level = float(prosody.get("pitch", "0"))
    if not -3.0 <= level <= 3.0:
        raise ValueError(f"prosody pitch {level} is outside [-3, 3]")
    pitch = semitones(level, F0_HZ, F0_STD_HZ)
    return words, speed, max(-12.0, min(12.0, pitch))


def _rate(value: str) -> float:
    if value in _NAMED_RATES:
        return _NAMED_RATES[value]
    match = _RATE.match(value)
    if not match or not 25.0 <= float(match.group(1)) <= 250.0:
        raise ValueError(f"prosody rate {value!r} is not a percentage in [25%, 250%]")
    return max(0.5, min(2.0, float(match.group(1)) / 100.0))


class RivaTtsTestServer:
    """The servicer on a free 127.0.0.1 port; `uri` is what RivaTts connects to."""

    def __init__(self, tts: Tts, workers: int = 4) -> None:
        self.servicer = PiperRivaServicer(tts)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        rtts_grpc.add_RivaSpeechSynthesisServicer_to_server(self.servicer, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.uri = f"127.0.0.1:{self.port}"

    def __enter__(self) -> RivaTtsTestServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None).wait(5.0)
