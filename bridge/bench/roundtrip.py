"""Round trips: the pre-encoded requests, the synchronous DEALER client, the latency summary."""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgpack
import zmq

from bridge import PROTOCOL_VERSION
from bridge.bench.procs import BenchError
from bridge.codec import encode
from bridge.messages import AudioChunk, Hello, SessionOpen

RATE = 16000  # Hz
CHUNK_BYTES = 640  # 20 ms of 16 kHz mono PCM16
SESSION = "bench-0"
RECV_TIMEOUT_MS = 10_000


def pcm_chunk() -> bytes:
    """20 ms of a quiet sawtooth: real-looking samples, no zero-page tricks."""
    return b"".join(((i * 37) % 2000 - 1000).to_bytes(2, "little", signed=True) for i in range(320))


@dataclass(frozen=True, slots=True)
class Requests:
    """Everything a round-trip client sends, encoded before any timing starts."""

    setup: list[list[bytes]]  # hello, session-open: seq 1 and 2
    chunks: list[list[bytes]]  # one audio-chunk per round trip, seq 3 on, warm-up first

    def blobs(self) -> tuple[list[bytes], list[int]]:
        """The same requests as single byte strings (for grpc) and each header's length."""
        return [b"".join(f) for f in self.chunks], [len(f[0]) for f in self.chunks]


def build_requests(count: int) -> Requests:
    pcm = pcm_chunk()
    setup = [
        encode(Hello(protocol=PROTOCOL_VERSION, client="npc-bridge-bench"), 1),
        encode(SessionOpen(session=SESSION, npc="", player="bench"), 2),
    ]
    chunks = [
        encode(AudioChunk(session=SESSION, sample_rate=RATE, pcm=pcm), seq)
        for seq in range(3, 3 + count)
    ]
    return Requests(setup, chunks)


def dealer(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, RECV_TIMEOUT_MS)
    sock.connect(endpoint)
    return sock


def expect_reply(sock: zmq.Socket[bytes], kind: str) -> dict[str, object]:
    """The next reply's header, which must be of type `kind`."""
    try:
        frames = sock.recv_multipart()
    except zmq.Again as e:
        raise BenchError(f"no reply in {RECV_TIMEOUT_MS} ms (waiting for '{kind}')") from e
    header: dict[str, object] = msgpack.unpackb(frames[0])
    if header.get("type") != kind:
        raise BenchError(f"expected '{kind}', got {header!r}")
    return header


class ZmqClient:
    """A synchronous DEALER that times one request in flight at a time."""

    def __init__(self, endpoint: str, requests: Requests, expect: str, handshake: bool) -> None:
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._sock = dealer(self._ctx, endpoint)
        self._chunks = requests.chunks
        self._expect = expect
        if handshake:
            self._sock.send_multipart(requests.setup[0])
            expect_reply(self._sock, "welcome")
            self._sock.send_multipart(requests.setup[1])
            expect_reply(self._sock, "session-opened")

    def run(self, lo: int, hi: int) -> list[int]:
        """Round trips (ns) of requests lo..hi-1."""
        send, recv = self._sock.send_multipart, self._sock.recv_multipart
        clock, unpackb, expect = time.perf_counter_ns, msgpack.unpackb, self._expect
        times = [0] * (hi - lo)
        for i in range(lo, hi):
            frames = self._chunks[i]
            t0 = clock()
            send(frames)
            try:
                reply = recv()
            except zmq.Again as e:
                raise BenchError(f"no reply to round trip {i} in {RECV_TIMEOUT_MS} ms") from e
            times[i - lo] = clock() - t0
            header = unpackb(reply[0])
            if header["type"] != expect:
                raise BenchError(f"round trip {i}: expected '{expect}', got {header!r}")
        return times

    def close(self) -> None:
        self._sock.close()
        self._ctx.term()


@dataclass(frozen=True, slots=True)
class Latency:
    """A latency distribution in microseconds, and the one-in-flight message rate."""

    rounds: int
    p50_us: float
    p99_us: float
    mean_us: float
    msgs_per_s: float  # 1 / mean round trip: one message in flight at a time

    @classmethod
    def of(cls, times_ns: list[int]) -> Latency:
        if not times_ns:
            raise BenchError("no timed round trips")
        ordered = sorted(times_ns)
        n = len(ordered)
        mean = sum(ordered) / n
        return cls(
            rounds=n,
            p50_us=ordered[n // 2] / 1000,
            p99_us=ordered[min(n - 1, (n * 99) // 100)] / 1000,
            mean_us=mean / 1000,
            msgs_per_s=1e9 / mean,
        )
