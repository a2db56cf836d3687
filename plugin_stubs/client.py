"""EngineClient: the reference engine plugin in Python (DEALER socket, asyncio)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from bridge import PROTOCOL_VERSION
from bridge.codec import decode, encode
from bridge.errors import BridgeError, ProtocolError
from bridge.messages import (
    ActionCall,
    ActionResult,
    AudioChunk,
    AudioEnd,
    Bye,
    Cancel,
    Error,
    Heartbeat,
    Hello,
    Message,
    SessionClose,
    SessionClosed,
    SessionOpen,
    SessionOpened,
    Steer,
    TextInput,
    TurnEnd,
    Welcome,
)
from bridge.security import secure_client
from plugin_stubs.playback import Turn
from plugin_stubs.wav import Pcm

log = logging.getLogger("npc_bridge.client")

BYE_TIMEOUT_S = 1.0  # how long close() tries to hand `bye` to the socket

# (call) -> (ok, result, error); may be async. What the engine does when the NPC acts.
ActionHandler = Callable[[ActionCall], "tuple[bool, Any, str] | Awaitable[tuple[bool, Any, str]]"]


@dataclass(frozen=True, slots=True)
class ClientCurve:
    """CURVE keys for an engine: its own certificate and the server's public key file."""

    client_secret_file: Path
    server_public_file: Path


class EngineClient:
    """One engine connection: handshake, heartbeats, many sessions, every message routed."""

    def __init__(
        self,
        endpoint: str,
        *,
        name: str = "npc-bridge-python",
        curve: ClientCurve | None = None,
        heartbeat: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.name = name
        self.heartbeat = heartbeat
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            secure_client(self.sock, curve.client_secret_file, curve.server_public_file)
        self.welcome: Welcome | None = None
        self.events: asyncio.Queue[Message] = asyncio.Queue()  # messages of no open session
        self.sessions: dict[str, Session] = {}
        self.received = 0
        self.gaps = 0  # server messages missing by their seq numbers
        self._seq = itertools.count(1)
        self._last_in = 0
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> EngineClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, timeout: float = 5.0) -> Welcome:
        """Connect, say hello, wait for welcome; start reading and heartbeating."""
        self.sock.connect(self.endpoint)
        self._spawn(self._read())
        deadline = time.monotonic() + timeout
        # The send is inside the timeout too: a server that rejects the ZeroMQ handshake
        # (CURVE keys, mechanism) leaves the DEALER no pipe, and sending would wait forever.
        hello = Hello(protocol=PROTOCOL_VERSION, client=self.name)
        await asyncio.wait_for(self.send(hello), timeout)
        msg = await self.next_event(max(0.0, deadline - time.monotonic()))
        if isinstance(msg, Error):
            raise ProtocolError(f"server refused hello: {msg.code}: {msg.reason}", code=msg.code)
        if not isinstance(msg, Welcome):
            raise ProtocolError(f"expected welcome, got {msg.TYPE}")
        self.welcome = msg
        if self.heartbeat:
            self._spawn(self._beat(msg.heartbeat_ms / 1000))
        return msg

    async def close(self, bye: bool = True) -> None:
        if bye and not self.sock.closed:
            # A courtesy: with no peer left to take it, do not wait forever.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.send(Bye()), BYE_TIMEOUT_S)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.sock.close(linger=0)
        self.ctx.term()

    async def send(self, msg: Message) -> int:
        """Send one message with the next sequence number; returns that number."""
        seq = next(self._seq)
        await self.sock.send_multipart(encode(msg, seq))
        return seq

    async def send_frames(self, frames: list[bytes]) -> None:
        """Send raw frames as they are (tests use this to send malformed input)."""
        await self.sock.send_multipart(frames)

    def next_seq(self) -> int:
        """Reserve a sequence number, for hand-built frames."""
        return next(self._seq)

    async def next_event(self, timeout: float = 5.0) -> Message:
        """The next message that belongs to no open session (welcome, errors, ...)."""
        return await asyncio.wait_for(self.events.get(), timeout)

    async def open_session(
        self,
        npc: str = "",
        player: str = "player-1",
        *,
        session: str | None = None,
        audio_out_rate: int = 24000,
        actions: list[dict[str, Any]] | None = None,
        steer: dict[str, int] | None = None,
        on_action: ActionHandler | None = None,
        timeout: float = 10.0,
        npcs: list[str] | None = None,
        players: list[str] | None = None,
    ) -> Session:
        """Open a conversation and wait until the brain confirms it. A group session: the
        other NPCs (`npcs`) and players (`players`) in it."""
        sid = session or f"s{next(self._ids)}"
        s = Session(self, sid, on_action)
        self.sessions[sid] = s
        await self.send(
            SessionOpen(
                session=sid,
                npc=npc,
                player=player,
                audio_out_rate=audio_out_rate,
                actions=actions or [],
                steer=steer or {},
                npcs=npcs or [],
                players=players or [],
            )
        )
        msg = await s.next(timeout)
        if isinstance(msg, Error):
            del self.sessions[sid]
            raise ProtocolError(f"{msg.code}: {msg.reason}", code=msg.code)
        if not isinstance(msg, SessionOpened):
            raise ProtocolError(f"expected session-opened, got {msg.TYPE}")
        s.opened = msg
        return s

    async def _read(self) -> None:
        while True:
            frames = await self.sock.recv_multipart()
            try:
                seq, msg = decode(frames)
            except BridgeError as e:
                log.error("undecodable message from the server: %s", e)
                continue
            self.received += 1
            if seq != self._last_in + 1:
                self.gaps += seq - self._last_in - 1
            self._last_in = seq
            if isinstance(msg, Heartbeat):
                continue
            sid = getattr(msg, "session", None)
            session = self.sessions.get(sid) if sid is not None else None
            if session is None:
                self.events.put_nowait(msg)
                continue
            session.inbox.put_nowait(msg)
            if isinstance(msg, ActionCall) and session.on_action is not None:
                self._spawn(session.answer(msg))
            elif isinstance(msg, SessionClosed):
                self.sessions.pop(msg.session, None)

    async def _beat(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            await self.send(Heartbeat(time=time.time()))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class Session:
    """One conversation with one NPC, as the engine sees it."""

    def __init__(self, client: EngineClient, sid: str, on_action: ActionHandler | None) -> None:
        self.client = client
        self.id = sid
        self.on_action = on_action
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.opened: SessionOpened | None = None

    async def next(self, timeout: float = 10.0) -> Message:
        """The next message for this session. Cancel-safe: nothing is lost on a timeout."""
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def send_audio(
        self, pcm: bytes, sample_rate: int, channels: int = 1, player: str = ""
    ) -> None:
        await self.client.send(
            AudioChunk(
                session=self.id, sample_rate=sample_rate, channels=channels, pcm=pcm,
                player=player,
            )
        )

    async def stream(
        self,
        audio: Pcm,
        *,
        chunk_ms: int = 20,
        realtime: bool = False,
        end: bool = True,
        player: str = "",
    ) -> None:
        """Stream audio in `chunk_ms` chunks, paced in real time or as fast as possible.

        In real time each chunk goes when a microphone would have recorded all of it, so
        calls made back to back (an open microphone) stay in real time too."""
        step = 2 * audio.channels * audio.sample_rate * chunk_ms // 1000
        started = time.monotonic()
        for i, start in enumerate(range(0, len(audio.data), step)):
            if realtime:
                delay = started + (i + 1) * chunk_ms / 1000 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await self.send_audio(
                audio.data[start : start + step], audio.sample_rate, audio.channels, player
            )
        if end:
            await self.end_audio(player)

    async def end_audio(self, player: str = "") -> None:
        await self.client.send(AudioEnd(session=self.id, player=player))

    async def say(self, text: str, player: str = "") -> None:
        """A player types a line (`player` in a group session; "" = the session's)."""
        await self.client.send(TextInput(session=self.id, text=text, player=player))

    async def steer(self, **attributes: int) -> None:
        await self.client.send(Steer(session=self.id, attributes=attributes))

    async def cancel(self) -> None:
        await self.client.send(Cancel(session=self.id))

    async def action_result(
        self, call_id: str, ok: bool, result: Any = None, error: str = ""
    ) -> None:
        await self.client.send(
            ActionResult(session=self.id, call_id=call_id, ok=ok, result=result, error=error)
        )

    async def answer(self, call: ActionCall) -> None:
        """Run the engine's action handler for a call and send its result."""
        assert self.on_action is not None
        try:
            outcome = self.on_action(call)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            ok, result, error = outcome
        except Exception as e:  # the engine's handler failed: the NPC hears why
            ok, result, error = False, None, f"{type(e).__name__}: {e}"
        await self.action_result(call.call_id, ok, result, error)

    async def turn(
        self, timeout: float = 30.0, on_message: Callable[[Message], None] | None = None
    ) -> Turn:
        """Collect messages until the next turn-end; returns the assembled turn.

        `on_message` sees each message as it arrives (to show a reply as it streams).
        """
        turn = Turn(number=0)
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.next(max(0.0, deadline - time.monotonic()))
            turn.number = getattr(msg, "turn", turn.number)
            turn.add(msg)
            if on_message is not None:
                on_message(msg)
            if isinstance(msg, TurnEnd):
                return turn

    async def close(self, timeout: float = 5.0) -> None:
        await self.client.send(SessionClose(session=self.id))
        while True:
            msg = await self.next(timeout)
            if isinstance(msg, SessionClosed):
                return
