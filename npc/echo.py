"""EchoBrain: the wire-test brain. It says back what it hears, so every output kind flows.

Typed text comes back as dialogue deltas and a final line; "call NAME {json}" calls an
engine-declared action and reports its result; player audio comes back, at the session's
output rate, as NPC audio with loudness-driven jaw frames. No models: this is what sits
behind the seam until the real pipeline replaces it, and what the bridge tests run against.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from bridge import errors
from bridge.errors import BridgeError, ProtocolError
from bridge.messages import (
    ActionCall,
    ActionResult,
    AudioChunk,
    AudioEnd,
    Cancel,
    DialogueDelta,
    DialogueFinal,
    Error,
    FaceFrames,
    FaceHeader,
    GameEvent,
    Interrupted,
    NpcAudio,
    SessionMessage,
    Steer,
    TextInput,
    TurnEnd,
)
from bridge.seam import Brain, Conversation, Opened, Outbox, SessionInfo
from npc.face.arkit import ARKIT_BLENDSHAPES, INDEX
from npc.roster import NpcEntry

ACTION_TIMEOUT_S = 10.0
CHUNK_MS = 20
FACE_FPS = 60
FACE_BATCH = 30


class EchoBrain(Brain):
    """Opens an EchoConversation for any NPC on its roster."""

    name = "echo"

    def __init__(self, roster: list[NpcEntry]) -> None:
        self.roster = {e.id: e for e in roster}
        self._order = [e.id for e in roster]

    def npcs(self) -> list[str]:
        return list(self._order)

    def capabilities(self) -> list[str]:
        return ["text", "audio", "actions", "face"]

    def open(self, info: SessionInfo, out: Outbox) -> Opened:
        npc_id = info.npc or self._order[0]
        entry = self.roster.get(npc_id)
        if entry is None:
            raise ProtocolError(
                f"no NPC '{npc_id[:64]}'; this server has {', '.join(self._order)}",
                code=errors.UNKNOWN_NPC,
            )
        names = [a["function"]["name"] for a in info.actions]
        return Opened(EchoConversation(info, out, names), entry.id, entry.name, names)


class EchoConversation(Conversation):
    """One session of the echo brain; one turn runs at a time, a new one cancels the old."""

    def __init__(self, info: SessionInfo, out: Outbox, actions: list[str]) -> None:
        self.info = info
        self.out = out
        self.actions = set(actions)
        self.steer = dict(info.steer)
        self.turn = 0
        self.task: asyncio.Task[None] | None = None
        self.sent_samples = 0
        self.audio: list[np.ndarray] = []
        self.audio_rate = 16000
        self.pending: dict[str, asyncio.Future[ActionResult]] = {}
        self._ids = itertools.count(1)

    def receive(self, msg: SessionMessage | GameEvent) -> None:
        if isinstance(msg, AudioChunk):
            pcm = np.frombuffer(msg.pcm, dtype="<i2")
            if msg.channels == 2:
                pcm = pcm.reshape(-1, 2).mean(axis=1).astype(np.int16)
            self.audio.append(pcm)
            self.audio_rate = msg.sample_rate
        elif isinstance(msg, AudioEnd):
            audio, self.audio = self.audio, []
            rate = self.audio_rate
            self._start(lambda: self._echo_audio(audio, rate))
        elif isinstance(msg, TextInput):
            text = msg.text
            self._start(lambda: self._echo_text(text))
        elif isinstance(msg, ActionResult):
            fut = self.pending.pop(msg.call_id, None)
            if fut is None:
                raise ProtocolError(
                    f"no pending action call '{msg.call_id[:64]}'", code=errors.UNKNOWN_ACTION
                )
            fut.set_result(msg)
        elif isinstance(msg, Cancel):
            self._interrupt("cancel")
        elif isinstance(msg, Steer):
            self.steer.update(msg.attributes)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    # -- turns --------------------------------------------------------------------------

    def _start(self, reply: Callable[[], Coroutine[Any, Any, None]]) -> None:
        # A factory, not a coroutine: a turn cancelled before it starts leaves nothing
        # un-awaited behind.
        self._interrupt("barge-in")
        self.turn += 1
        self.sent_samples = 0
        self.task = asyncio.ensure_future(self._run(self.turn, reply))

    def _interrupt(self, reason: str) -> None:
        if self.task is None or self.task.done():
            return
        self.task.cancel()
        s, t = self.info.session, self.turn
        self.out.send(Interrupted(session=s, turn=t, stop_sample=self.sent_samples, reason=reason))
        end = "cancelled" if reason == "cancel" else "interrupted"
        self.out.send(TurnEnd(session=s, turn=t, reason=end, audio_samples=self.sent_samples))

    async def _run(self, turn: int, reply: Callable[[], Coroutine[Any, Any, None]]) -> None:
        started = time.perf_counter()
        try:
            await reply()
        except BridgeError as e:
            self.out.send(Error.of(e, session=self.info.session, stage="echo"))
            reason = "error"
        else:
            reason = "done"
        ms = (time.perf_counter() - started) * 1000
        self.out.send(
            TurnEnd(
                session=self.info.session,
                turn=turn,
                reason=reason,
                audio_samples=self.sent_samples,
                latency_ms={"reply": round(ms, 3)},
            )
        )

    async def _echo_text(self, text: str) -> None:
        s, t = self.info.session, self.turn
        if text.startswith("call "):
            text = await self._call(text[5:])
        for word in text.split(" "):
            self.out.send(DialogueDelta(session=s, turn=t, text=word + " "))
            await asyncio.sleep(0)
        self.out.send(DialogueFinal(session=s, turn=t, text=text))

    async def _call(self, spec: str) -> str:
        name, _, raw = spec.partition(" ")
        if name not in self.actions:
            raise ProtocolError(
                f"action '{name}' was not declared at session-open", code=errors.BAD_ACTION
            )
        try:
            args = json.loads(raw or "{}")
        except json.JSONDecodeError as e:
            raise ProtocolError(f"arguments are not JSON: {e}", code=errors.BAD_ACTION) from e
        call_id = f"c{next(self._ids)}"
        fut: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self.pending[call_id] = fut
        self.out.send(
            ActionCall(
                session=self.info.session,
                turn=self.turn,
                call_id=call_id,
                name=name,
                arguments=args,
            )
        )
        try:
            result = await asyncio.wait_for(fut, ACTION_TIMEOUT_S)
        except TimeoutError:
            return f"{name} got no answer in {ACTION_TIMEOUT_S:.0f} seconds"
        finally:
            self.pending.pop(call_id, None)
        if result.ok:
            return f"{name} done: {json.dumps(result.result)}"
        return f"{name} failed: {result.error}"

    async def _echo_audio(self, parts: list[np.ndarray], rate: int) -> None:
        s, t, out_rate = self.info.session, self.turn, self.info.audio_out_rate
        pcm = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        if rate != out_rate:
            g = np.gcd(rate, out_rate)
            y = resample_poly(pcm.astype(np.float32), out_rate // g, rate // g)
            pcm = np.clip(np.round(y), -32768, 32767).astype(np.int16)
        self.out.send(
            FaceHeader(
                session=s,
                turn=t,
                channels=list(ARKIT_BLENDSHAPES),
                fps=FACE_FPS,
                sample_rate=out_rate,
            )
        )
        times, weights = _jaw_frames(pcm, out_rate)
        for i in range(0, len(times), FACE_BATCH):
            tb, wb = times[i : i + FACE_BATCH], weights[i : i + FACE_BATCH]
            self.out.send(
                FaceFrames(
                    session=s, turn=t, count=len(tb), times=tb.tobytes(), weights=wb.tobytes()
                )
            )
        step = out_rate * CHUNK_MS // 1000
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step]
            self.out.send(
                NpcAudio(
                    session=s, turn=t, sample_rate=out_rate, start_sample=start, pcm=chunk.tobytes()
                )
            )
            self.sent_samples = start + len(chunk)
            await asyncio.sleep(0)
        secs = len(pcm) / out_rate
        self.out.send(
            DialogueFinal(session=s, turn=t, text=f"(echo of {secs:.2f} s of your audio)")
        )


def _jaw_frames(pcm: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """60 fps frames whose jawOpen follows the loudness (RMS) around each frame time."""
    n = int(np.ceil(len(pcm) * FACE_FPS / rate)) if len(pcm) else 0
    times = np.round(np.arange(n) * rate / FACE_FPS).astype("<i8")
    weights = np.zeros((n, len(ARKIT_BLENDSHAPES)), dtype="<f4")
    half = rate // (2 * FACE_FPS)
    x = pcm.astype(np.float32) / 32768.0
    for i, pos in enumerate(times):
        win = x[max(0, pos - half) : pos + half]
        rms = float(np.sqrt(np.mean(win * win))) if len(win) else 0.0
        weights[i, INDEX["jawOpen"]] = min(1.0, rms * 4.0)
    return times, weights
