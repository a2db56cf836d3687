"""The brain's ZeroMQ ROUTER: reads engine messages, checks them, routes them to the brain."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator

from bridge import PROTOCOL_VERSION, errors
from bridge.codec import decode, encode
from bridge.config import ServerConfig
from bridge.connection import Connection
from bridge.errors import BridgeError, ProtocolError
from bridge.messages import (
    SAMPLE_RATES,
    Bye,
    Error,
    GameEvent,
    Heartbeat,
    Hello,
    Message,
    SessionClose,
    SessionClosed,
    SessionMessage,
    SessionOpen,
    SessionOpened,
    Welcome,
)
from bridge.router import RouterSocket, Sent
from bridge.seam import Brain, SessionInfo
from bridge.security import secure_server

log = logging.getLogger("npc_bridge.server")


class SessionOutbox:
    """The Outbox a conversation gets: sends to its own engine connection."""

    __slots__ = ("_conn", "_server")

    def __init__(self, server: BridgeServer, conn: Connection) -> None:
        self._server = server
        self._conn = conn

    def send(self, msg: Message) -> None:
        self._server.send(self._conn, msg)

    def send_threadsafe(self, msg: Message) -> None:
        self._server.loop.call_soon_threadsafe(self._server.send, self._conn, msg)


class BridgeServer:
    """Serves one Brain on one ROUTER socket; all socket work happens on one event loop."""

    def __init__(self, brain: Brain, config: ServerConfig) -> None:
        config.check()
        self.brain = brain
        self.config = config
        self.endpoint = ""  # the bound address, with the real port when bound to :0/*
        self.connections: dict[bytes, Connection] = {}
        self.dropped_out = 0  # messages the engine was too slow to take (send queue full)
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._router: RouterSocket | None = None
        self._auth: ThreadAuthenticator | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[Any] | None = None
        self._stopped = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop that owns the socket (set by `start`)."""
        if self._loop is None:
            raise RuntimeError("BridgeServer.start() has not run")
        return self._loop

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Let the brain load, then bind and start reading."""
        self._loop = asyncio.get_running_loop()
        await self.brain.start()
        router = RouterSocket(self._ctx, self.config.limits, self._handle)
        if self.config.curve is not None:
            self._auth = secure_server(self._ctx, router.sock, self.config.curve)
        self.endpoint = router.bind(self.config.bind)
        self._router = router
        router.start(self.loop)
        self._sweeper = self._spawn(self._sweep())
        log.info("serving %s on %s", self.brain.name, self.endpoint)

    async def serve_forever(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        """Close every session (engines are told), stop reading, free the socket."""
        if self._router is None:
            return
        for conn in list(self.connections.values()):
            self._drop_connection(conn, "shutdown")
        router, self._router = self._router, None
        if self._sweeper is not None:
            self._sweeper.cancel()
        # What is left are conversations closing: let them finish freeing their resources.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.brain.stop()
        router.close()
        if self._auth is not None:
            self._auth.stop()
        self._ctx.term()
        self._stopped.set()

    # -- sending ----------------------------------------------------------------------

    def send(self, conn: Connection, msg: Message) -> None:
        """Encode and send to one engine; a full or vanished peer loses the message."""
        if self._router is None:
            return
        sent = self._router.send(conn.identity, encode(msg, conn.next_out_seq()))
        if sent is Sent.FULL:
            self.dropped_out += 1
            if self.dropped_out % 1000 == 1:
                log.warning(
                    "engine %s is not reading; dropped %d messages", conn.peer, self.dropped_out
                )
        elif sent is Sent.GONE:
            log.debug("engine %s is gone; %s not delivered", conn.peer, msg.TYPE)

    def send_error(self, conn: Connection, e: BridgeError) -> None:
        log.debug("error to %s: %s %s", conn.peer, e.code, e.reason)
        self.send(conn, Error.of(e))

    # -- reading ----------------------------------------------------------------------

    def _handle(self, frames: list[bytes]) -> None:
        identity = frames[0]
        now = time.monotonic()
        conn = self.connections.get(identity)
        if conn is None:
            conn = Connection(identity, self.config.limits)
            if len(self.connections) >= self.config.limits.max_connections:
                self.send_error(
                    conn,
                    ProtocolError(
                        "server has too many engines connected", code=errors.TOO_MANY_CONNECTIONS
                    ),
                )
                return
            self.connections[identity] = conn
        conn.last_seen = now
        if not conn.take_token(now):
            if now - conn.rate_warned >= 1.0:
                conn.rate_warned = now
                err = ProtocolError(
                    f"over {self.config.limits.rate_per_s} messages/s; "
                    f"{conn.dropped} dropped so far",
                    code=errors.RATE_LIMITED,
                )
                err.retryable = True
                self.send_error(conn, err)
            return
        try:
            conn.check_sizes(frames)
            seq, msg = decode(frames[1:])
        except BridgeError as e:
            self.send_error(conn, e)
            return
        try:
            if msg.DIRECTION == "out":
                raise ProtocolError(
                    f"'{msg.TYPE}' is sent by the brain, not the engine",
                    code=errors.WRONG_DIRECTION,
                )
            conn.check_seq(seq)
            self._dispatch(conn, msg)
        except Exception as e:
            if not isinstance(e, BridgeError):  # a bug in a stage must not take us down
                log.exception("unexpected failure handling %s from %s", msg.TYPE, conn.peer)
                e = BridgeError(f"{type(e).__name__}: {e}", code=errors.INTERNAL)
            e.ref_seq = seq if e.ref_seq is None else e.ref_seq
            e.session = e.session or getattr(msg, "session", None)
            self.send_error(conn, e)
            if e.fatal and e.session is not None:
                self._close_session(conn, e.session, "error")

    def _dispatch(self, conn: Connection, msg: Message) -> None:
        if isinstance(msg, SessionMessage):
            if not conn.handshaken:
                raise _no_handshake()
            if isinstance(msg, SessionOpen):
                self._open(conn, msg)
            elif isinstance(msg, SessionClose):
                conn.conversation(msg.session)
                self._close_session(conn, msg.session, "closed")
            else:
                conn.conversation(msg.session).receive(msg)
        elif isinstance(msg, Hello):
            if msg.protocol != PROTOCOL_VERSION:
                raise ProtocolError(
                    f"protocol {msg.protocol} is not supported; this server speaks "
                    f"{PROTOCOL_VERSION}",
                    code=errors.UNSUPPORTED_VERSION,
                )
            conn.handshaken = True
            self.send(conn, self._welcome())
        elif not conn.handshaken:
            raise _no_handshake()
        elif isinstance(msg, Heartbeat):
            self.send(conn, Heartbeat(time=msg.time))
        elif isinstance(msg, Bye):
            self._drop_connection(conn, "bye")
        elif isinstance(msg, GameEvent):
            if msg.session is not None:
                conn.conversation(msg.session).receive(msg)
            else:
                self.brain.event(msg)

    def _welcome(self) -> Welcome:
        return Welcome(
            protocol=PROTOCOL_VERSION,
            server=f"npc-bridge/{PROTOCOL_VERSION} {self.brain.name}",
            capabilities=self.brain.capabilities(),
            npcs=self.brain.npcs(),
            sample_rates=list(SAMPLE_RATES),
            heartbeat_ms=self.config.heartbeat_ms,
            timeout_ms=self.config.timeout_ms,
            limits=self.config.limits.as_wire(),
        )

    # -- sessions -----------------------------------------------------------------------

    def _open(self, conn: Connection, msg: SessionOpen) -> None:
        if msg.session in conn.sessions:
            raise ProtocolError(
                f"session '{msg.session}' is already open", code=errors.SESSION_EXISTS
            )
        if len(conn.sessions) >= self.config.limits.max_sessions:
            raise ProtocolError(
                f"this connection already has {len(conn.sessions)} sessions open",
                code=errors.TOO_MANY_SESSIONS,
            )
        info = SessionInfo(
            session=msg.session,
            npc=msg.npc,
            player=msg.player,
            audio_out_rate=msg.audio_out_rate,
            actions=msg.actions,
            steer=msg.steer,
            peer=conn.peer,
            npcs=msg.npcs,
            players=msg.players,
        )
        opened = self.brain.open(info, SessionOutbox(self, conn))
        if msg.session in conn.closed:
            conn.closed.remove(msg.session)
        conn.sessions[msg.session] = opened.conversation
        self.send(
            conn,
            SessionOpened(
                session=msg.session,
                npc=opened.npc,
                npc_name=opened.npc_name,
                player=msg.player,
                audio_out_rate=msg.audio_out_rate,
                actions=opened.actions,
                npcs=opened.npcs or [opened.npc],
                players=info.all_players,
            ),
        )

    def _close_session(self, conn: Connection, session: str, reason: str) -> None:
        conv = conn.forget(session)
        if conv is None:
            return
        self._spawn(conv.close())
        self.send(conn, SessionClosed(session=session, reason=reason))

    def _drop_connection(self, conn: Connection, reason: str) -> None:
        for session in list(conn.sessions):
            self._close_session(conn, session, reason)
        self.connections.pop(conn.identity, None)

    async def _sweep(self) -> None:
        """Close the sessions of engines that went silent past the heartbeat timeout."""
        period = self.config.heartbeat_ms / 2000
        timeout = self.config.timeout_ms / 1000
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for conn in list(self.connections.values()):
                if now - conn.last_seen > timeout:
                    log.info(
                        "engine %s silent for %.1f s: closing its %d session(s)",
                        conn.peer,
                        now - conn.last_seen,
                        len(conn.sessions),
                    )
                    self._drop_connection(conn, "heartbeat-timeout")

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())


def _no_handshake() -> ProtocolError:
    return ProtocolError("send 'hello' before anything else", code=errors.NO_HANDSHAKE)
