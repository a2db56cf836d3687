"""Shared test helpers: a real BridgeServer on loopback, bare engines, error expectations."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import struct
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import msgpack

from bridge.codec import decode, encode
from bridge.config import ServerConfig
from bridge.messages import Error, Message
from bridge.seam import Brain, Conversation, Opened, Outbox, SessionInfo
from bridge.server import BridgeServer
from npc.echo import EchoBrain
from npc.roster import load_roster
from plugin_stubs.client import EngineClient, Session
from plugin_stubs.playback import Turn
from sample_game import NPCS_DIR

LOOPBACK = "tcp://127.0.0.1:*"
WAIT = 5.0  # seconds any single expected message may take; far above what it needs
SCENARIO_LIMIT = 60.0  # seconds a whole scenario may take before it counts as hung

T = TypeVar("T")


def run(scenario: Callable[[], Coroutine[Any, Any, T]], limit: float = SCENARIO_LIMIT) -> T:
    """Run one async scenario to completion on a fresh event loop.

    A scenario that hangs fails after `limit` seconds, printing where every task was
    stuck, rather than hanging the test run.
    """

    async def guarded() -> T:
        task = asyncio.ensure_future(scenario())
        done, _ = await asyncio.wait({task}, timeout=limit)
        if done:
            return task.result()
        for t in asyncio.all_tasks():
            if t is not asyncio.current_task():
                t.print_stack(file=sys.stderr)
        task.cancel()
        await asyncio.wait({task}, timeout=5.0)
        raise AssertionError(f"scenario still running after {limit} s; task stacks on stderr")

    return asyncio.run(guarded())


def echo_brain() -> EchoBrain:
    return EchoBrain(load_roster(NPCS_DIR))


@asynccontextmanager
async def running(brain: Brain | None = None, **config: Any) -> AsyncIterator[BridgeServer]:
    """A BridgeServer (the echo brain on the sample game's NPCs by default) on a free port."""
    config.setdefault("bind", LOOPBACK)
    server = BridgeServer(brain or echo_brain(), ServerConfig(**config))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def engine(server: BridgeServer, **kwargs: Any) -> AsyncIterator[EngineClient]:
    """A connected, handshaken reference client (no heartbeats unless asked for)."""
    kwargs.setdefault("heartbeat", False)
    client = EngineClient(server.endpoint, **kwargs)
    await client.connect(WAIT)
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def bare(server: BridgeServer) -> AsyncIterator[EngineClient]:
    """A reference client whose socket is connected but that has not said hello.

    Nothing reads for it: use `recv` to take the server's replies off the socket.
    """
    client = EngineClient(server.endpoint, heartbeat=False)
    client.sock.connect(server.endpoint)
    try:
        yield client
    finally:
        await client.close(bye=False)


async def recv(client: EngineClient, timeout: float = WAIT) -> Message:
    """Next message straight off a bare client's socket."""
    frames = await asyncio.wait_for(client.sock.recv_multipart(), timeout)
    return decode(frames)[1]


async def send_raw(client: EngineClient, header: dict[str, Any], *frames: bytes) -> int:
    """Send a hand-built header map (seq added if missing) and frames; returns the seq."""
    header = dict(header)
    if "seq" not in header:
        header["seq"] = client.next_seq()
    await client.send_frames([msgpack.packb(header, use_bin_type=True), *frames])
    return int(header["seq"])


async def send_with_seq(client: EngineClient, msg: Message, seq: int) -> None:
    await client.send_frames(encode(msg, seq))


async def next_error(
    client: EngineClient, session: Session | None = None, timeout: float = WAIT
) -> Error:
    """The next message of a session (or of no session), which must be an `error`."""
    msg = await (session.next(timeout) if session is not None else client.next_event(timeout))
    assert isinstance(msg, Error), f"expected an error, got {msg}"
    assert msg.reason and msg.reason.strip(), "an error must give a plain reason"
    return msg


async def talk(session: Session, text: str, timeout: float = WAIT, player: str = "") -> Turn:
    """One typed turn (of `player` in a group session): say `text`, collect up to turn-end."""
    await session.say(text, player)
    return await session.turn(timeout)


async def assert_serves(
    server: BridgeServer, client: EngineClient, text: str = "still here"
) -> None:
    """The server still serves: a text turn on `client` and on a fresh second connection."""
    async with engine(server) as fresh:
        for c in (client, fresh):
            s = await c.open_session("quartermaster", session=f"check-{c.next_seq()}", timeout=WAIT)
            turn = await talk(s, text)
            assert turn.text == text, turn.messages
            assert turn.end is not None and turn.end.reason == "done"


def sine(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> list[int]:
    n = round(seconds * rate)
    return [round(amp * 32767 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)]


def pcm16(samples: list[int]) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def interleave(left: list[int], right: list[int]) -> list[int]:
    out: list[int] = []
    for a, b in zip(left, right, strict=True):
        out += (a, b)
    return out


class RecordingConversation(Conversation):
    """Wraps a real conversation and records when its close() has run."""

    def __init__(self, inner: Conversation, session: str, brain: RecordingBrain) -> None:
        self.inner = inner
        self.session = session
        self.brain = brain

    def receive(self, msg: Any) -> None:
        self.inner.receive(msg)

    async def close(self) -> None:
        await self.inner.close()
        self.brain.closed.append(self.session)
        self.brain.changed.set()


class RecordingBrain(EchoBrain):
    """The echo brain, recording which sessions' conversations were closed."""

    def __init__(self) -> None:
        super().__init__(load_roster(NPCS_DIR))
        self.closed: list[str] = []
        self.changed = asyncio.Event()

    def open(self, info: SessionInfo, out: Outbox) -> Opened:
        opened = super().open(info, out)
        conv = RecordingConversation(opened.conversation, info.session, self)
        return dataclasses.replace(opened, conversation=conv)

    async def wait_closed(self, session: str, timeout: float = WAIT) -> None:
        async def until() -> None:
            while session not in self.closed:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout)

