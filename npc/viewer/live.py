"""Live viewing: the viewer as an engine client, talking to one NPC from a worker thread."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from bridge.errors import BridgeError
from bridge.messages import ActionCall, DialogueDelta, Emotion, Error, Message
from npc.viewer.server import Events, Library
from plugin_stubs.client import ClientCurve, EngineClient, Session
from plugin_stubs.record import save_turn

log = logging.getLogger("npc_bridge.viewer")

CONNECT_S = 10.0  # connect and open the session within this
TURN_S = 180.0  # the longest a reply may take (a cold model on a small CPU)


class LiveNpc:
    """Typed lines go to one NPC; each reply is saved under `folder` (live-001, ...), added
    to `library` and announced on `events` (said, delta, emotion, action, reply, error)."""

    def __init__(
        self,
        endpoint: str,
        npc: str,
        folder: Path,
        library: Library,
        events: Events,
        *,
        player: str = "viewer",
        rate: int = 24000,
        curve: ClientCurve | None = None,
    ) -> None:
        self.endpoint, self.npc, self.player, self.rate = endpoint, npc, player, rate
        self.folder, self.library, self.events, self.curve = folder, library, events, curve
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lines: asyncio.Queue[str | None] | None = None
        self._thread = threading.Thread(target=self._run, name="viewer-live", daemon=True)

    def start(self) -> LiveNpc:
        """Connect and open the session; a server that does not answer is a BridgeError."""
        self._thread.start()
        if not self._ready.wait(CONNECT_S + 5.0):
            raise BridgeError(f"no answer from {self.endpoint} in {CONNECT_S:.0f} s")
        if self._failure is not None:
            raise BridgeError(f"cannot talk to {self.endpoint}: {self._failure}") from (
                self._failure
            )
        return self

    def say(self, text: str) -> None:
        """Send a typed line (from any thread)."""
        if self._loop is not None and self._lines is not None:
            self._loop.call_soon_threadsafe(self._lines.put_nowait, text)

    def close(self) -> None:
        if self._loop is not None and self._lines is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._lines.put_nowait, None)
            self._thread.join(5.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as e:  # reported by start() or as an event
            self._failure = e
            self.events.push(type="error", text=f"live connection ended: {e}")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._lines = asyncio.Queue()
        client = EngineClient(self.endpoint, name="npc-bridge-view", curve=self.curve)
        try:
            try:
                await client.connect(CONNECT_S)
                session = await client.open_session(
                    self.npc, self.player, audio_out_rate=self.rate, timeout=CONNECT_S
                )
            except TimeoutError as e:
                raise BridgeError("no NPC Bridge server answered") from e
            if session.opened is not None:
                self.npc = session.opened.npc
            self._ready.set()
            self.events.push(type="status", text=f"talking to {self.npc} at {self.endpoint}")
            number = 0
            while (text := await self._lines.get()) is not None:
                number += 1
                await self._turn(session, text, number)
        finally:
            await client.close()

    async def _turn(self, session: Session, text: str, number: int) -> None:
        self.events.push(type="said", text=text)
        await session.say(text)
        try:
            turn = await session.turn(TURN_S, on_message=self._show)
        except TimeoutError:
            self.events.push(type="error", text=f"no reply within {TURN_S:.0f} s")
            return
        folder = self.folder / f"live-{number:03d}"
        save_turn(folder, turn)
        name = self.library.add(folder)
        self.events.push(type="reply", name=name, text=turn.text)

    def _show(self, msg: Message) -> None:
        if isinstance(msg, DialogueDelta):
            self.events.push(type="delta", text=msg.text)
        elif isinstance(msg, Emotion):
            self.events.push(type="emotion", emotion=msg.emotion, intensity=msg.intensity)
        elif isinstance(msg, ActionCall):
            self.events.push(type="action", name=msg.name, arguments=msg.arguments)
        elif isinstance(msg, Error):
            self.events.push(type="error", text=f"{msg.code}: {msg.reason}")
