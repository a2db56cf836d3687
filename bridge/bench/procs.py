"""Start a benchmark server in its own process and talk to it over a pipe."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

# Spawn, not fork: the parent holds ZeroMQ contexts and grpc channels, neither fork-safe.
CTX = multiprocessing.get_context("spawn")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class BenchError(RuntimeError):
    """A benchmark could not run (a server did not start, a reply was wrong or late)."""


class ServerHandle:
    """The parent's end of a server process: its endpoint, its stats, stopping it."""

    def __init__(self, endpoint: str, conn: Connection) -> None:
        self.endpoint = endpoint
        self._conn = conn

    def stats(self) -> dict[str, Any]:
        self._conn.send("stats")
        if not self._conn.poll(STOP_TIMEOUT_S):
            raise BenchError("the server did not report its stats")
        stats: dict[str, Any] = self._conn.recv()
        return stats


@contextmanager
def server_process(target: Callable[..., None], *args: Any) -> Iterator[ServerHandle]:
    """Run `target(conn, *args)` in a fresh process; it sends its endpoint once bound.

    The child answers "stats" with a dict and ends on "stop" (or when the pipe closes).
    """
    parent, child = CTX.Pipe()
    proc = CTX.Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(START_TIMEOUT_S):
            raise BenchError(f"{target.__name__} did not start in {START_TIMEOUT_S:.0f} s")
        endpoint = parent.recv()
        if not isinstance(endpoint, str):
            raise BenchError(f"{target.__name__} failed to start: {endpoint!r}")
        yield ServerHandle(endpoint, parent)
    finally:
        with contextlib.suppress(OSError):  # the child may be gone already
            parent.send("stop")
        proc.join(STOP_TIMEOUT_S)
        if proc.is_alive():
            proc.terminate()
            proc.join()
        parent.close()


def control_thread(conn: Connection, stats: Callable[[], dict[str, Any]]) -> None:
    """For blocking servers: answer "stats" from a thread; exit the process on "stop".

    The serving thread sits in a blocking recv that nothing else can interrupt, and a raw
    server has nothing to flush, so ending the process here is the clean way out.
    """

    def run() -> None:
        while True:
            try:
                cmd = conn.recv()
            except (EOFError, OSError):
                cmd = "stop"
            if cmd == "stats":
                conn.send(stats())
            else:
                os._exit(0)

    threading.Thread(target=run, name="bench-control", daemon=True).start()
