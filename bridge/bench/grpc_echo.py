"""The gRPC baseline: a bidirectional-streaming echo of raw bytes (no protoc), two servers."""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import msgpack

from bridge.bench.procs import BenchError

SERVICE, METHOD = "bench.Echo", "Echo"
PATH = f"/{SERVICE}/{METHOD}"
THREAD, AIO = "thread", "aio"
READY_TIMEOUT_S = 10.0


def _handler(fn: Any) -> Any:
    import grpc

    # No (de)serializers: grpc hands the handler the request bytes as they came.
    return grpc.method_handlers_generic_handler(
        SERVICE, {METHOD: grpc.stream_stream_rpc_method_handler(fn)}
    )


def serve_grpc(conn: Connection, kind: str) -> None:
    """A grpcio echo server: `kind` "thread" (grpc.server on a thread pool) or "aio"."""
    if kind == AIO:
        asyncio.run(_serve_aio(conn))
        return
    import grpc

    def echo(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
        yield from requests

    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((_handler(echo),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    conn.send(f"127.0.0.1:{port}")
    _wait_stop(conn)
    server.stop(0).wait()


async def _serve_aio(conn: Connection) -> None:
    import grpc

    async def echo(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(echo),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    conn.send(f"127.0.0.1:{port}")
    await asyncio.to_thread(_wait_stop, conn)
    await server.stop(0)


def _wait_stop(conn: Connection) -> None:
    while True:
        try:
            cmd = conn.recv()
        except (EOFError, OSError):
            return
        if cmd != "stats":
            return
        conn.send({})


class GrpcClient:
    """A blocking stub on one bidirectional stream: one request in, then next(responses)."""

    def __init__(self, target: str, blobs: list[bytes], header_lens: list[int], expect: str):
        import grpc

        self._channel = grpc.insecure_channel(target)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=READY_TIMEOUT_S)
        except grpc.FutureTimeoutError as e:
            self._channel.close()
            raise BenchError(f"grpc server at {target} is not ready") from e
        self._requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._responses = self._channel.stream_stream(PATH)(iter(self._requests.get, None))
        self._blobs, self._header_lens, self._expect = blobs, header_lens, expect

    def run(self, lo: int, hi: int) -> list[int]:
        """Round trips (ns) of requests lo..hi-1."""
        put, responses = self._requests.put, self._responses
        clock, unpackb = time.perf_counter_ns, msgpack.unpackb
        times = [0] * (hi - lo)
        for i in range(lo, hi):
            blob = self._blobs[i]
            t0 = clock()
            put(blob)
            reply = next(responses)
            times[i - lo] = clock() - t0
            # Outside the timed span, as for the ZeroMQ clients: the reply is what we sent.
            if unpackb(reply[: self._header_lens[i]])["type"] != self._expect:
                raise BenchError(f"grpc echo {i} came back changed")
        return times

    def close(self) -> None:
        self._requests.put(None)
        self._responses.cancel()
        self._channel.close()
