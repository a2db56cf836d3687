"""NVIDIA Riva speech synthesis over streaming gRPC (nvidia-riva-client); no phoneme timings."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from bridge.errors import BackendError, ConfigError
from npc.registry import require
from npc.riva import auth, rpc_error
from npc.tts.base import Clip, Tts, TtsCapabilities, Voice, check_settings

RIVA_PITCH_LIMIT = 3.0  # Riva's SSML pitch: speaker pitch standard deviations, -3..3


def ssml(text: str, speed: float, pitch: float, f0_hz: float, f0_std_hz: float) -> str:
    """`text` as Riva SSML with a prosody rate (percent) and pitch; plain text when both
    are neutral. Riva's pitch is additive in the voice's F0 standard deviations, so a
    shift in semitones becomes Hz at the voice's mean F0, divided by its deviation."""
    if speed == 1.0 and pitch == 0.0:
        return text
    shift_hz = f0_hz * (2.0 ** (pitch / 12.0) - 1.0)
    level = max(-RIVA_PITCH_LIMIT, min(RIVA_PITCH_LIMIT, shift_hz / f0_std_hz))
    return (
        f'<speak><prosody rate="{round(speed * 100)}%" pitch="{level:+.2f}">'
        f"{escape(text)}</prosody></speak>"
    )


def semitones(level: float, f0_hz: float, f0_std_hz: float) -> float:
    """The inverse of ssml()'s pitch: a Riva pitch level back to semitones."""
    return 12.0 * math.log2(max(1e-3, 1.0 + level * f0_std_hz / f0_hz))


class RivaTts(Tts):
    """Riva TTS service client; one gRPC channel, one SynthesizeOnline call per text."""

    name = "riva"

    def __init__(
        self,
        uri: str = "localhost:50051",
        language: str = "en-US",
        voice: str = "",
        sample_rate: int = 22050,
        use_ssl: bool = False,
        ssl_cert: str | None = None,
        timeout_s: float = 30.0,
        f0_hz: float = 120.0,
        f0_std_hz: float = 52.185,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """`voice`: Riva's voice name ("English-US.Female-1"; "" lets the server pick);
        `sample_rate`: Hz asked of the server; `timeout_s`: longest one text may take;
        `f0_hz` / `f0_std_hz`: the voice's mean F0 and its deviation, which turn a pitch
        in semitones into Riva's pitch level; `metadata`: gRPC headers (an API key)."""
        self._riva = require("riva.client", "riva", "nvidia-riva-client")
        self.uri = uri
        self.language = language
        self.default = voice
        self.sample_rate = sample_rate
        self.timeout_s = timeout_s
        self.f0_hz, self.f0_std_hz = f0_hz, f0_std_hz
        self.capabilities = TtsCapabilities(sample_rate=sample_rate, phones=False)
        self._auth = auth(self._riva, uri, use_ssl, ssl_cert, metadata, "tts")
        self._service = self._riva.SpeechSynthesisService(self._auth)
        self._voices: list[str] | None = None
        self._lock = threading.Lock()

    def _error(self, e: Exception) -> BackendError:
        return rpc_error(e, self.uri, "tts")

    def voices(self) -> list[str]:
        """The server's voices ("<voice_name>.<subvoice>"), asked once."""
        with self._lock:
            if self._voices is None:
                proto = self._riva.proto.riva_tts_pb2
                try:
                    reply = self._service.stub.GetRivaSynthesisConfig(
                        proto.RivaSynthesisConfigRequest(),
                        metadata=self._auth.get_auth_metadata(),
                        timeout=self.timeout_s,
                    )
                except Exception as e:  # grpc.RpcError, and anything odd from the channel
                    raise self._error(e) from e
                self._voices = sorted(_voice_names(reply))
            return list(self._voices)

    def check(self, voice: Voice) -> None:
        check_settings(voice)
        name = voice.name or self.default
        known = self.voices()
        if name and known and name not in known:
            raise ConfigError(
                f"tts riva: no voice '{name}' at {self.uri}; known: {', '.join(known)}"
            )

    def synthesize(self, text: str, voice: Voice) -> Iterator[Clip]:
        self.check(voice)
        proto = self._riva.proto.riva_tts_pb2
        request = proto.SynthesizeSpeechRequest(
            text=ssml(text, voice.speed, voice.pitch, self.f0_hz, self.f0_std_hz),
            language_code=self.language,
            encoding=self._riva.AudioEncoding.LINEAR_PCM,
            sample_rate_hz=self.sample_rate,
            voice_name=voice.name or self.default,
        )
        # The stub directly, as SpeechSynthesisService.synthesize_online does, to set a deadline.
        responses = self._service.stub.SynthesizeOnline(
            iter([request]), metadata=self._auth.get_auth_metadata(), timeout=self.timeout_s
        )
        try:
            for response in responses:  # audio chunks, streamed as the server makes them
                if response.audio:
                    pcm = np.frombuffer(response.audio, dtype="<i2").astype(np.int16)
                    yield Clip(pcm, self.sample_rate, [])
        except Exception as e:  # grpc.RpcError, and anything odd from the channel
            raise self._error(e) from e
        finally:
            responses.cancel()


def _voice_names(reply: Any) -> set[str]:
    names: set[str] = set()
    for model in reply.model_config:
        params = model.parameters
        base = params.get("voice_name", "") or model.model_name
        subvoices = [s.split(":")[0] for s in params.get("subvoices", "").split(",") if s]
        if subvoices:
            names.update(f"{base}.{sub}" for sub in subvoices)
        else:
            names.add(base)
    return names
