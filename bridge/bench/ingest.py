"""Audio ingest: sender processes stream 20 ms chunks for many sessions at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import zmq

from bridge import PROTOCOL_VERSION
from bridge.bench.procs import CTX, START_TIMEOUT_S, BenchError, server_process
from bridge.bench.roundtrip import RATE, dealer, expect_reply, pcm_chunk
from bridge.codec import encode
from bridge.messages import AudioChunk, AudioEnd, Hello, SessionOpen

REAL_TIME_CHUNKS_PER_S = 50  # one microphone sends a 20 ms chunk 50 times a second
DONE_TIMEOUT_S = 300.0


def send_audio(conn: Connection, endpoint: str, sessions: list[str], chunks: int) -> None:
    """Sender process: open `sessions` on one DEALER, wait for "go", then stream every
    session's chunks interleaved, end each session and wait for all the answers."""
    try:
        _send_audio(conn, endpoint, sessions, chunks)
    except Exception as e:  # the parent is waiting on the pipe: tell it, do not hang it
        conn.send(f"sender failed: {type(e).__name__}: {e}")
        raise


def _send_audio(conn: Connection, endpoint: str, sessions: list[str], chunks: int) -> None:
    pcm = pcm_chunk()
    seq = iter(range(1, 1 << 62))
    hello = encode(Hello(protocol=PROTOCOL_VERSION, client="npc-bridge-bench"), next(seq))
    opens = [encode(SessionOpen(session=s, npc="", player=s), next(seq)) for s in sessions]
    stream = [
        encode(AudioChunk(session=s, sample_rate=RATE, pcm=pcm), next(seq))
        for _ in range(chunks)
        for s in sessions
    ]
    ends = [encode(AudioEnd(session=s), next(seq)) for s in sessions]
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = dealer(ctx, endpoint)
    # No send limit: a sender may run ahead of the server; what it measures is the server.
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.send_multipart(hello)
    expect_reply(sock, "welcome")
    for frames in opens:
        sock.send_multipart(frames)
    for _ in opens:
        expect_reply(sock, "session-opened")
    conn.send("ready")
    conn.recv()  # "go": every sender starts at once
    send = sock.send_multipart
    t0 = time.perf_counter_ns()
    for frames in stream:
        send(frames)
    for frames in ends:
        send(frames)
    t1 = time.perf_counter_ns()
    for _ in ends:
        expect_reply(sock, "transcript")
    conn.send({"send_ns": t1 - t0, "chunks": len(stream)})
    sock.close()
    ctx.term()


@dataclass(frozen=True, slots=True)
class Ingest:
    """Server-side ingest rate: chunks over the time from the first chunk to the last end."""

    sessions: int
    chunks: int  # counted by the server
    server_s: float
    chunks_per_s: float
    send_chunks_per_s: float  # what the senders managed to hand to ZeroMQ (their ceiling)
    stats: dict[str, Any]

    @property
    def microphones(self) -> float:
        """How many real-time microphones (50 chunks/s each) this rate would carry."""
        return self.chunks_per_s / REAL_TIME_CHUNKS_PER_S


def run_ingest(
    serve: Callable[..., None],
    serve_args: tuple[Any, ...],
    sessions: int,
    chunks: int,
    senders: int,
) -> Ingest:
    """Stream `sessions` x `chunks` through the server `serve` from `senders` processes."""
    senders = max(1, min(senders, sessions))
    names = [f"s{i}" for i in range(sessions)]
    with server_process(serve, *serve_args) as server:
        pipes: list[Connection] = []
        procs = []
        for k in range(senders):
            parent, child = CTX.Pipe()
            share = names[k::senders]
            p = CTX.Process(
                target=send_audio, args=(child, server.endpoint, share, chunks), daemon=True
            )
            p.start()
            child.close()
            pipes.append(parent)
            procs.append(p)
        try:
            for pipe in pipes:
                if not pipe.poll(START_TIMEOUT_S):
                    raise BenchError("an ingest sender did not get its sessions open")
                if (ready := pipe.recv()) != "ready":
                    raise BenchError(str(ready))
            for pipe in pipes:
                pipe.send("go")
            results = []
            for pipe in pipes:
                if not pipe.poll(DONE_TIMEOUT_S):
                    raise BenchError("an ingest sender did not finish")
                result = pipe.recv()
                if not isinstance(result, dict):
                    raise BenchError(str(result))
                results.append(result)
            stats = server.stats()
        finally:
            for p in procs:
                p.join(START_TIMEOUT_S)
                if p.is_alive():
                    p.terminate()
            for pipe in pipes:
                pipe.close()
    total = sessions * chunks
    if stats["chunks"] != total:
        raise BenchError(f"the server counted {stats['chunks']} chunks of {total}: {stats}")
    server_s = (stats["last_ns"] - stats["first_ns"]) / 1e9
    send_s = max(r["send_ns"] for r in results) / 1e9
    return Ingest(
        sessions=sessions,
        chunks=total,
        server_s=server_s,
        chunks_per_s=total / server_s,
        send_chunks_per_s=total / send_s,
        stats=stats,
    )
