"""RouterSocket: a ZeroMQ ROUTER read and written on the asyncio loop, through its ZMQ_FD."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import Enum
from typing import cast

import zmq

from bridge.config import Limits

# Messages read per wake-up before other callbacks get a turn (fairness under floods).
BATCH = 256
# Plain int flags: pyzmq's flag enums cost more than a small send or receive itself.
_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_LAST = int(zmq.NOBLOCK)
_POLLIN = int(zmq.POLLIN)
_RCVMORE = int(zmq.RCVMORE)


class Sent(Enum):
    OK = "ok"
    FULL = "full"  # the peer's queue is full: it is not reading
    GONE = "gone"  # no such peer (disconnected)


class RouterSocket:
    """One ROUTER socket owned by one event loop; `on_message` gets [identity, *frames].

    ZMQ_FD is edge-triggered: it signals only when the socket goes from "nothing to read"
    to "something to read". So each wake-up reads until the queue is empty (or yields
    after BATCH and comes back), and after a send, which can swallow a wake-up, input
    already waiting is looked for at once.
    """

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        limits: Limits,
        on_message: Callable[[list[bytes]], None],
    ) -> None:
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # unknown peer: an error, not a silent drop
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        # A hard cap far above the soft limits: past it ZeroMQ drops the peer outright,
        # below it an oversize frame gets a "too-large" error reply.
        sock.setsockopt(zmq.MAXMSGSIZE, 4 * max(limits.max_frame_bytes, limits.max_header_bytes))
        self.sock = sock
        self.on_message = on_message
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = False

    def bind(self, address: str) -> str:
        """Bind and return the real endpoint (with the port chosen for `:*`)."""
        self.sock.bind(address)
        return self.sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        loop.add_reader(self.sock.FD, self._drain)
        self._schedule()  # messages may be queued already

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.sock.FD)
            self._loop = None
        self.sock.close(linger=0)

    def send(self, identity: bytes, frames: list[bytes]) -> Sent:
        """Send without blocking. A multipart message is atomic: only its first frame fails."""
        sock = self.sock
        try:
            sock.send(identity, _MORE)
            for frame in frames[:-1]:
                sock.send(frame, _MORE)
            sock.send(frames[-1], _LAST)
            result = Sent.OK
        except zmq.Again:
            result = Sent.FULL
        except zmq.ZMQError as e:
            if e.errno != zmq.EHOSTUNREACH:
                raise
            result = Sent.GONE
        if not self._pending and cast(int, sock.getsockopt(zmq.EVENTS)) & _POLLIN:
            self._schedule()
        return result

    def _schedule(self) -> None:
        if not self._pending and self._loop is not None:
            self._pending = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        self._pending = False
        if self._loop is None:
            return
        recv, more = self.sock.recv, self.sock.getsockopt
        for _ in range(BATCH):
            try:
                frames = [recv(_LAST)]
            except zmq.Again:
                return
            while more(_RCVMORE):
                frames.append(recv(0))
            self.on_message(frames)
        self._schedule()  # more waiting: continue after other callbacks had a turn
