"""SileroVad: Silero VAD v6 (the ONNX file inside faster-whisper) on onnxruntime, streaming."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import ConfigError
from npc.registry import require
from npc.vad.base import Vad, VadCapabilities

log = logging.getLogger("npc_bridge.vad")

FRAME = 512  # samples per frame at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous frame the model sees before each frame
_sessions: dict[Path, Any] = {}  # one onnxruntime session per model file, shared by streams


def default_model() -> Path:
    """The Silero VAD v6 export that ships in faster-whisper's package assets."""
    fw = require("faster_whisper", "embedded", "faster-whisper")
    path = Path(fw.__file__).parent / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: faster-whisper without its VAD asset?")
    return path


def _session(path: Path) -> Any:
    session = _sessions.get(path)
    if session is None:
        ort = require("onnxruntime", "embedded", "onnxruntime")
        started = time.perf_counter()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a 32 ms frame takes ~0.2 ms: threads cost more
        opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own untyped errors for bad files
            raise ConfigError(f"{path}: not a loadable ONNX model ({e})") from e
        names = {i.name for i in session.get_inputs()}
        if names != {"input", "h", "c"}:
            raise ConfigError(
                f"{path}: inputs {sorted(names)}; expected faster-whisper's Silero export "
                "(input, h, c)"
            )
        ms = (time.perf_counter() - started) * 1e3
        log.info("loaded Silero VAD %s in %.0f ms", path.name, ms)
        _sessions[path] = session
    return session


class SileroVad(Vad):
    """One stream's Silero VAD: 512-sample frames at 16 kHz, LSTM state carried across."""

    capabilities = VadCapabilities(sample_rate=16000, frame_samples=FRAME)

    def __init__(self, model: str | None = None) -> None:
        self.path = Path(model) if model else default_model()
        self.session = _session(self.path)
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)

    def probability(self, frame: np.ndarray) -> float:
        if len(frame) != FRAME:
            raise ValueError(f"Silero VAD takes {FRAME}-sample frames, got {len(frame)}")
        x = np.concatenate([self._context, frame.astype(np.float32, copy=False)])[None, :]
        prob, self._h, self._c = self.session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = x[0, -CONTEXT:]
        return float(prob[0])
