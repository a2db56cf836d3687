"""A real Riva ASR gRPC server for tests, backed by the project's embedded recogniser.

It serves Riva's own `RivaSpeechRecognition` service from the protos shipped in
nvidia-riva-client, so RivaAsr is tested over real gRPC against the real wire protocol;
the speech itself is recognised by any `npc.asr.base.Asr` (the tests use WhisperAsr).
It is no Riva model: only the protocol and its checks are Riva's.
"""

from __future__ import annotations

import string
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import numpy as np
from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc
from riva.client.proto import riva_audio_pb2 as raudio
from scipy.signal import resample_poly

from npc.asr.base import Asr, AsrStream, Hints

RATE = 16000  # Hz the embedded recogniser takes; other rates are resampled to it
INTERIM_EVERY_S = 0.4  # seconds of new audio between interim results, as Riva's chunking


def _words(text: str) -> str:
    """What Riva gives with automatic punctuation off: lowercase words, no punctuation."""
    return " ".join(text.lower().translate(str.maketrans("", "", string.punctuation)).split())


class _Utterance:
    """Audio of one call decoded to float32 at RATE and fed to a recogniser stream."""

    def __init__(self, config: Any, stream: AsrStream) -> None:
        self.rate = config.sample_rate_hertz
        self.channels = max(1, config.audio_channel_count)
        self.stream = stream
        self.seconds = 0.0  # audio received, in seconds
        self.ended = False  # the client closed its side, or sent something wrong
        self.problem = ""  # why the request stream is invalid, for INVALID_ARGUMENT
        self.arrived = threading.Condition()

    def feed(self, pcm: bytes) -> str:
        """Feed one audio_content; the reason it is not valid audio, or ""."""
        frame = 2 * self.channels
        if len(pcm) % frame:
            return (
                f"audio_content of {len(pcm)} bytes is not whole {self.channels}-channel "
                "16-bit LINEAR_PCM frames"
            )
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        samples = samples.reshape(-1, self.channels).mean(axis=1)
        if self.rate != RATE:
            samples = resample_poly(samples, RATE, self.rate).astype(np.float32)
        self.stream.feed(samples)
        with self.arrived:
            self.seconds += len(pcm) / frame / self.rate
            self.arrived.notify_all()
        return ""

    def pump(self, requests: Iterator[Any]) -> None:
        """Read the client's requests as they come, so decoding never holds them up."""
        problem = ""
        try:
            for request in requests:
                if request.HasField("streaming_config"):
                    problem = "streaming_config is allowed only in the first request"
                else:
                    problem = self.feed(request.audio_content)
                if problem:
                    break
        except Exception as e:  # the client went away; the handler sees it inactive
            problem = f"request stream failed: {e}"
        with self.arrived:
            self.ended, self.problem = True, problem
            self.arrived.notify_all()

    def wait(self, after: float) -> bool:
        """Block until audio past `after` + INTERIM_EVERY_S arrives (True) or it ends."""
        with self.arrived:
            while not self.ended and self.seconds - after < INTERIM_EVERY_S:
                self.arrived.wait()
            return not self.ended


class WhisperRivaServicer(rasr_grpc.RivaSpeechRecognitionServicer):  # type: ignore[misc]
    """Riva's ASR service: config checked as Riva does, speech recognised by `asr`."""

    def __init__(self, asr: Asr, model_name: str = "whisper-embedded") -> None:
        self.asr = asr
        self.model_name = model_name
        self.calls: list[Any] = []  # each call's RecognitionConfig, for tests to inspect

    def _check(self, config: Any, context: grpc.ServicerContext) -> None:
        problems = []
        if config.encoding != raudio.AudioEncoding.LINEAR_PCM:
            name = raudio.AudioEncoding.Name(config.encoding)
            problems.append(f"encoding {name} is not supported; use LINEAR_PCM")
        if not 8000 <= config.sample_rate_hertz <= 48000:
            problems.append(f"sample_rate_hertz {config.sample_rate_hertz} is not in 8000..48000")
        if config.audio_channel_count not in (0, 1, 2):
            problems.append(f"audio_channel_count {config.audio_channel_count} is not 1 or 2")
        if config.language_code and not config.language_code.lower().startswith("en"):
            problems.append(f"no model for language_code {config.language_code}")
        if config.model and config.model != self.model_name:
            problems.append(f"model {config.model} is not available; have {self.model_name}")
        if problems:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(problems))
        self.calls.append(config)

    def _open(self, config: Any) -> AsrStream:
        phrases = [p for ctx in config.speech_contexts for p in ctx.phrases]
        return self.asr.open_stream(Hints(vocabulary=phrases))

    @staticmethod
    def _result(text: str, config: Any, seconds: float, final: bool) -> Any:
        if not config.enable_automatic_punctuation:
            text = _words(text)
        alternative = rasr.SpeechRecognitionAlternative(
            transcript=text, confidence=1.0 if final else 0.0
        )
        return rasr.StreamingRecognitionResult(
            alternatives=[alternative],
            is_final=final,
            stability=1.0 if final else 0.5,
            audio_processed=seconds,
        )

    def StreamingRecognize(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        first = next(request_iterator, None)
        if first is None or not first.HasField("streaming_config"):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "the first StreamingRecognizeRequest must carry streaming_config",
            )
        streaming = first.streaming_config
        config = streaming.config
        self._check(config, context)
        utterance = _Utterance(config, self._open(config))
        pump = threading.Thread(target=utterance.pump, args=(request_iterator,), daemon=True)
        pump.start()
        try:
            heard = 0.0
            # Like Riva, interim results follow the audio as decoding keeps up; audio that
            # arrives while a decode runs is taken by the next one, not queued behind it.
            while utterance.wait(heard) and streaming.interim_results:
                heard = utterance.seconds
                text = utterance.stream.partial()
                yield rasr.StreamingRecognizeResponse(
                    results=[self._result(text, config, heard, final=False)]
                )
            while utterance.wait(heard):  # interim results not asked for: just listen
                heard = utterance.seconds
            if utterance.problem:
                if not context.is_active():
                    return
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, utterance.problem)
            text = utterance.stream.final()
            yield rasr.StreamingRecognizeResponse(
                results=[self._result(text, config, utterance.seconds, final=True)]
            )
        finally:
            utterance.stream.close()

    def Recognize(self, request: Any, context: grpc.ServicerContext) -> Any:
        config = request.config
        self._check(config, context)
        utterance = _Utterance(config, self._open(config))
        try:
            problem = utterance.feed(request.audio)
            if problem:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            text = utterance.stream.final()
        finally:
            utterance.stream.close()
        if not config.enable_automatic_punctuation:
            text = _words(text)
        alternative = rasr.SpeechRecognitionAlternative(transcript=text, confidence=1.0)
        result = rasr.SpeechRecognitionResult(
            alternatives=[alternative], audio_processed=utterance.seconds
        )
        return rasr.RecognizeResponse(results=[result])


class RivaTestServer:
    """The servicer on a free 127.0.0.1 port; `uri` is what RivaAsr connects to."""

    def __init__(self, asr: Asr, workers: int = 4) -> None:
        self.servicer = WhisperRivaServicer(asr)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        rasr_grpc.add_RivaSpeechRecognitionServicer_to_server(self.servicer, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.uri = f"127.0.0.1:{self.port}"

    def __enter__(self) -> RivaTestServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None).wait(5.0)
