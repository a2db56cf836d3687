"""Player audio in any engine format to the 16 kHz float32 the hearing stages take."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import resample_poly

TARGET_RATE = 16000


def pcm16_to_float(pcm: bytes, channels: int = 1) -> np.ndarray:
    """PCM16 little-endian (interleaved when stereo) to mono float32 in -1..1."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    if channels == 2:
        x = x.reshape(-1, 2).mean(axis=1, dtype=np.float32)
    return x


def float_to_pcm16(x: np.ndarray) -> bytes:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2").tobytes()


class StreamResampler:
    """Polyphase resampling (scipy) of a stream that arrives in chunks.

    Each chunk is resampled with enough of the previous input around it that the output
    equals resampling the whole stream at once: nothing clicks at chunk edges. The cost is
    a look-ahead of about 1 ms of input, released by `flush` at the end of the stream.
    """

    def __init__(self, src_rate: int, dst_rate: int = TARGET_RATE) -> None:
        g = math.gcd(src_rate, dst_rate)
        self.up, self.down = dst_rate // g, src_rate // g
        # resample_poly's default filter reaches 10 * max(up, down) upsampled samples each
        # side: this many input samples, plus a margin.
        self.reach = math.ceil(10 * max(self.up, self.down) / self.up) + 2
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # absolute input index of _buf[0], a multiple of `down`
        self._out_next = 0  # absolute index of the next output sample

    def push(self, x: np.ndarray) -> np.ndarray:
        """Resample the next chunk; returns the output samples now final."""
        if self.up == self.down:
            return x
        self._buf = np.concatenate([self._buf, x.astype(np.float32, copy=False)])
        end = self._buf_start + len(self._buf)
        last = math.floor((end - self.reach) * self.up / self.down)  # outputs with full context
        return self._emit(last)

    def flush(self) -> np.ndarray:
        """Everything left, the stream's end padded with zeros as a one-shot resample does."""
        if self.up == self.down:
            return np.zeros(0, np.float32)
        end = self._buf_start + len(self._buf)
        return self._emit(math.ceil(end * self.up / self.down) - 1)

    def _emit(self, last: int) -> np.ndarray:
        if last < self._out_next or not len(self._buf):
            return np.zeros(0, np.float32)
        y: np.ndarray = resample_poly(self._buf, self.up, self.down).astype(np.float32)
        first_out = self._buf_start * self.up // self.down
        out: np.ndarray = y[self._out_next - first_out : last - first_out + 1]
        self._out_next = last + 1
        # Keep the input the next outputs still reach back to, aligned to `down`.
        keep_from = self._out_next * self.down // self.up - self.reach
        keep_from = max(self._buf_start, keep_from - keep_from % self.down)
        self._buf = self._buf[keep_from - self._buf_start :]
        self._buf_start = keep_from
        return out
