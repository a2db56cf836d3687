"""NVIDIA Riva speech recognition over streaming gRPC (nvidia-riva-client)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from bridge.errors import BackendError
from npc.asr.base import Asr, AsrCapabilities, AsrStream, Hints
from npc.registry import require
from npc.riva import auth, rpc_error

SAMPLE_RATE = 16000  # Hz; what the stage feeds and what we declare to Riva
_END = b""  # queued to end the request stream; Riva never gets an empty audio chunk
# Riva decodes in fixed chunks, so its results may trail the audio sent by up to a chunk.
_LAG_S = 0.5


def _to_pcm16(audio: np.ndarray) -> bytes:
    """float32 -1..1 to little-endian signed 16-bit PCM, as LINEAR_PCM wants."""
    clipped = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


class _Call:
    """One Riva StreamingRecognize call: audio queued in, results collected by a thread."""

    def __init__(self, owner: RivaAsr, config: Any) -> None:
        self._owner = owner
        self.chunks: queue.Queue[bytes] = queue.Queue()
        self.fed_s = 0.0  # seconds of audio queued
        self.processed_s = 0.0  # seconds of audio the server says it has heard
        self.finals: list[str] = []
        self.interim = ""
        self.error: BackendError | None = None
        self.ended = False  # end of audio queued
        self.done = threading.Event()
        self.changed = threading.Condition()
        self._cancelled = False
        requests = owner._riva.asr.streaming_request_generator(self._audio(), config)
        # The stub directly, not ASRService.streaming_response_generator: its generator
        # cannot be cancelled from another thread, the gRPC call object can.
        self._responses = owner._service.stub.StreamingRecognize(
            requests, metadata=owner._auth.get_auth_metadata()
        )
        self._thread = threading.Thread(target=self._read, name="riva-asr", daemon=True)
        self._thread.start()

    def _audio(self) -> Iterator[bytes]:
        while (chunk := self.chunks.get()) != _END:
            yield chunk

    def feed(self, pcm: bytes) -> None:
        self.fed_s += len(pcm) / 2 / SAMPLE_RATE
        self.chunks.put(pcm)

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.chunks.put(_END)

    def cancel(self) -> None:
        self._cancelled = True
        self.end()
        self._responses.cancel()

    def _read(self) -> None:
        try:
            for response in self._responses:
                with self.changed:
                    for result in response.results:
                        self._take(result)
                    self.changed.notify_all()
        except Exception as e:  # grpc.RpcError, and anything odd from the channel
            if not self._cancelled:
                self.error = rpc_error(e, self._owner.uri, "asr")
        finally:
            with self.changed:
                self.done.set()
                self.changed.notify_all()

    def _take(self, result: Any) -> None:
        self.processed_s = max(self.processed_s, float(result.audio_processed))
        text = result.alternatives[0].transcript.strip() if result.alternatives else ""
        if result.is_final:
            if text:
                self.finals.append(text)
            self.interim = ""
        else:
            self.interim = text

    def text(self) -> str:
        return " ".join([*self.finals, self.interim]).strip()

    def wait_heard(self, limit_s: float) -> None:
        """Wait until results catch up with the audio fed, the call ends, or `limit_s`."""
        deadline = time.monotonic() + limit_s
        with self.changed:
            while not self.done.is_set() and self.processed_s + _LAG_S < self.fed_s:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.changed.wait(left)

    def join(self, timeout_s: float) -> None:
        self.end()
        if not self.done.wait(timeout_s):
            self.cancel()
            raise BackendError(
                f"riva asr at {self._owner.uri}: no final result within {timeout_s} s",
                retryable=True,
                stage="asr",
            )


class RivaStream(AsrStream):
    """One utterance; a new Riva call starts when audio arrives after final()."""

    def __init__(self, owner: RivaAsr, hints: Hints) -> None:
        self._owner = owner
        self._config = owner._streaming_config(hints)
        self._lock = threading.Lock()
        self._done: list[str] = []  # text of calls already ended by final()
        self._call: _Call | None = None
        self._closed = False

    def feed(self, audio: np.ndarray) -> None:
        pcm = _to_pcm16(audio)
        if not pcm:
            return
        with self._lock:
            if self._closed:
                raise BackendError("riva asr stream is closed", stage="asr")
            if self._call is None:
                self._call = _Call(self._owner, self._config)
            self._call.feed(pcm)

    def partial(self) -> str:
        with self._lock:
            call = self._call
        if call is None:
            return self._joined("")
        call.wait_heard(self._owner.partial_wait_s)
        if call.error is not None:
            raise call.error
        with call.changed:
            return self._joined(call.text())

    def final(self) -> str:
        with self._lock:
            call, self._call = self._call, None
        if call is None:
            return self._joined("")
        call.join(self._owner.timeout_s)
        if call.error is not None:
            raise call.error
        text = call.text()
        with self._lock:
            if text:
                self._done.append(text)
        return self._joined("")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            call, self._call = self._call, None
        if call is not None:
            call.cancel()

    def _joined(self, current: str) -> str:
        with self._lock:
            return " ".join([*self._done, current]).strip()


class RivaAsr(Asr):
    """Riva ASR service client; one gRPC channel shared by every stream."""

    name = "riva"
    capabilities = AsrCapabilities(sample_rate=SAMPLE_RATE, streaming=True, hints=True)

    def __init__(
        self,
        uri: str = "localhost:50051",
        language: str = "en-US",
        use_ssl: bool = False,
        ssl_cert: str | None = None,
        model: str = "",
        timeout_s: float = 10.0,
        boost: float = 20.0,
        partial_wait_s: float = 0.5,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """`timeout_s`: longest wait for final results after end of audio; `boost`: the
        Riva word-boosting score for hint vocabulary (NVIDIA suggests 20 to 100);
        `partial_wait_s`: how long partial() waits for results to catch up with audio fed;
        `metadata`: gRPC headers, e.g. an API key for a hosted endpoint."""
        self._riva = require("riva.client", "riva", "nvidia-riva-client")
        self.uri = uri
        self.language = language
        self.model = model
        self.timeout_s = timeout_s
        self.boost = boost
        self.partial_wait_s = partial_wait_s
        self._auth = auth(self._riva, uri, use_ssl, ssl_cert, metadata, "asr")
        self._service = self._riva.ASRService(self._auth)

    def _streaming_config(self, hints: Hints) -> Any:
        riva = self._riva
        config = riva.RecognitionConfig(
            encoding=riva.AudioEncoding.LINEAR_PCM,
            sample_rate_hertz=SAMPLE_RATE,
            language_code=self.language,
            max_alternatives=1,
            enable_automatic_punctuation=True,
            audio_channel_count=1,
            model=self.model,
        )
        phrases = [w for w in hints.vocabulary if w.strip()]
        if phrases:
            config.speech_contexts.append(
                riva.proto.riva_asr_pb2.SpeechContext(phrases=phrases, boost=self.boost)
            )
        return riva.StreamingRecognitionConfig(config=config, interim_results=True)

    def open_stream(self, hints: Hints) -> AsrStream:
        return RivaStream(self, hints)
