"""The ZeroMQ servers under test, each a process entry point: bridge, raw echo, raw ingest."""

from __future__ import annotations

import asyncio
from multiprocessing.connection import Connection
from typing import Any

import msgpack
import zmq

from bridge.bench.brain import BenchBrain, IngestStats
from bridge.bench.procs import control_thread
from bridge.config import Limits, ServerConfig

BIND = "tcp://127.0.0.1:*"  # loopback, a free port; the real one is sent to the parent
HWM = 100_000  # the bridge's own ROUTER queue sizes, used for the raw servers too

# Raised for the bench only (the defaults are 20,000/s with a burst of 5,000 and 64
# sessions per connection): one bench client sends faster and carries more sessions than
# one engine should. The limiter still runs on every message; it just never refuses.
BENCH_LIMITS = Limits(rate_per_s=10_000_000, burst=1_000_000, max_sessions=1024)
# Ingest senders are silent while the others start: no heartbeat-timeout closes meanwhile.
BENCH_TIMEOUT_MS = 600_000


def serve_bridge(conn: Connection, mode: str) -> None:
    """A real BridgeServer with a BenchBrain in `mode` ("echo" or "count")."""
    asyncio.run(_serve_bridge(conn, mode))


async def _serve_bridge(conn: Connection, mode: str) -> None:
    from bridge.server import BridgeServer

    brain = BenchBrain(mode)
    config = ServerConfig(bind=BIND, timeout_ms=BENCH_TIMEOUT_MS, limits=BENCH_LIMITS)
    server = BridgeServer(brain, config)
    await server.start()
    conn.send(server.endpoint)
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()

    def on_command() -> None:
        try:
            commands.put_nowait(conn.recv())
        except (EOFError, OSError):
            commands.put_nowait("stop")

    loop.add_reader(conn.fileno(), on_command)
    while await commands.get() == "stats":
        stats: dict[str, Any] = dict(brain.stats.as_dict())
        stats["dropped_out"] = server.dropped_out
        stats["rate_dropped"] = sum(c.dropped for c in server.connections.values())
        conn.send(stats)
    loop.remove_reader(conn.fileno())
    await server.stop()


def _router(ctx: zmq.Context[zmq.Socket[bytes]]) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)
    sock.bind(BIND)
    return sock


def serve_raw_echo(conn: Connection) -> None:
    """The floor: a plain blocking ROUTER that sends every message straight back."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = _router(ctx)
    control_thread(conn, dict)
    conn.send(sock.getsockopt_string(zmq.LAST_ENDPOINT))
    recv, send = sock.recv_multipart, sock.send_multipart
    while True:
        send(recv())


def serve_raw_ingest(conn: Connection) -> None:
    """The ingest floor: decode each msgpack header and count chunks; answer what a
    client waits for (hello, session-open, audio-end) with a header of the reply's type."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = _router(ctx)
    stats = IngestStats()
    control_thread(conn, stats.as_dict)
    conn.send(sock.getsockopt_string(zmq.LAST_ENDPOINT))
    packb, unpackb = msgpack.packb, msgpack.unpackb
    welcome = packb({"type": "welcome", "seq": 0})
    while True:
        frames = sock.recv_multipart()
        header = unpackb(frames[1])
        kind = header["type"]
        if kind == "audio-chunk":
            stats.chunk()
        elif kind == "audio-end":
            stats.end()
            reply = {"type": "transcript", "seq": 0, "session": header["session"]}
            sock.send_multipart([frames[0], packb(reply)])
        elif kind == "session-open":
            reply = {"type": "session-opened", "seq": 0, "session": header["session"]}
            sock.send_multipart([frames[0], packb(reply)])
        elif kind == "hello":
            sock.send_multipart([frames[0], welcome])
