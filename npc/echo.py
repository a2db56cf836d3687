"""EchoBrain: the wire-test brain. It says back what it hears, so every output kind flows.

Typed text comes back as dialogue deltas and a final line; "call NAME {json}" calls an
engine-declared action and reports its result; player audio comes back, at the session's
output rate, as NPC audio with loudness-driven jaw frames. With ears (VAD + ASR) it hears:
transcripts while the player speaks, a turn at the end of each utterance ("You said: ..."
with the utterance's audio echoed as the NPC's voice), and barge-in. It stands behind the
seam until the thinking and speaking stages replace it; the bridge tests run against it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
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
    Transcript,
    TurnEnd,
)
from bridge.seam import Brain, Conversation, Opened, Outbox, SessionInfo
from npc.ears import Ears
from npc.face.arkit import ARKIT_BLENDSHAPES
from npc.face.loudness import jaw_frames
from npc.hearing import Hearing, is_backchannel
from npc.roster import NpcEntry

ACTION_TIMEOUT_S = 10.0
MAX_ECHO_S = 30  # player audio kept for the echo reply, seconds
CHUNK_MS = 20
FACE_FPS = 60
FACE_BATCH = 30


class EchoBrain(Brain):
    """Opens an EchoConversation for any NPC on its roster."""

    name = "echo"

    def __init__(
        self, roster: list[NpcEntry], ears: Ears | None = None, own_ears: bool = True
    ) -> None:
        self.roster = {e.id: e for e in roster}
        self.ears = ears
        self.own_ears = own_ears  # False: the ears outlive this brain (tests share them)
        self._order = [e.id for e in roster]

    def npcs(self) -> list[str]:
        return list(self._order)

    def capabilities(self) -> list[str]:
        return ["text", "audio", "actions", "face", *(["asr", "vad"] if self.ears else [])]

    def open(self, info: SessionInfo, out: Outbox) -> Opened:
        npc_id = info.npc or self._order[0]
        entry = self.roster.get(npc_id)
        if entry is None:
            raise ProtocolError(
                f"no NPC '{npc_id[:64]}'; this server has {', '.join(self._order)}",
                code=errors.UNKNOWN_NPC,
            )
        names = [a["function"]["name"] for a in info.actions]
        conv = EchoConversation(info, out, names, interruptible=entry.interruptible)
        if self.ears is not None:
            # Every NPC's name: players talk about the others too. Lore terms join with
            # the NPC files' knowledge (issue 4).
            vocabulary = [entry.name, *(e.name for e in self.roster.values() if e is not entry)]
            conv.hearing = self.ears.listen(conv, vocabulary=vocabulary)
        return Opened(conv, entry.id, entry.name, names)

    async def stop(self) -> None:
        if self.ears is not None and self.own_ears:
            self.ears.shutdown()


class EchoConversation(Conversation):
    """One session of the echo brain; one turn runs at a time, a new one cancels the old."""

    def __init__(
        self, info: SessionInfo, out: Outbox, actions: list[str], interruptible: bool = True
    ) -> None:
        self.info = info
        self.interruptible = interruptible
        self.hearing: Hearing | None = None
        self.play_start: float | None = None  # when this turn's NPC audio began playing
        self.trace: dict[str, float] = {}
        self.out = out
        self.actions = set(actions)
        self.steer = dict(info.steer)
        self.turn = 0
        self.task: asyncio.Task[None] | None = None
        self.sent_samples = 0
        self.audio: deque[np.ndarray] = deque()  # player audio since the last turn
        self.audio_samples = 0
        self.audio_rate = 16000
        self.pending: dict[str, asyncio.Future[ActionResult]] = {}
        self._ids = itertools.count(1)

    def receive(self, msg: SessionMessage | GameEvent) -> None:
        if isinstance(msg, AudioChunk):
            pcm = np.frombuffer(msg.pcm, dtype="<i2")
            if msg.channels == 2:
                pcm = pcm.reshape(-1, 2).mean(axis=1).astype(np.int16)
            self.audio.append(pcm)
            self.audio_samples += len(pcm)
            self.audio_rate = msg.sample_rate
            # With ears, silence between turns arrives too: keep only the recent past.
            while self.audio_samples > MAX_ECHO_S * msg.sample_rate:
                self.audio_samples -= len(self.audio.popleft())
            if self.hearing is not None:
                self.hearing.feed(msg.pcm, msg.sample_rate, msg.channels)
        elif isinstance(msg, AudioEnd) and self.hearing is not None:
            self.hearing.end_audio()
        elif isinstance(msg, AudioEnd):
            audio = self._take_audio()
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
        if self.hearing is not None:
            await self.hearing.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    # -- turns --------------------------------------------------------------------------

    def _start(self, reply: Callable[[], Coroutine[Any, Any, None]]) -> None:
        # A factory, not a coroutine: a turn cancelled before it starts leaves nothing
        # un-awaited behind.
        previous = self.task
        if self.interruptible:
            self._interrupt("barge-in")
            previous = None
            self.sent_samples = 0
        self.turn += 1
        self.task = asyncio.ensure_future(self._run(self.turn, reply, previous))

    def _interrupt(self, reason: str) -> None:
        """Stop the NPC: cancel the turn in flight and say where its audio stopped playing."""
        running = self.task is not None and not self.task.done()
        if not running and not self._playing():
            return
        s, t = self.info.session, self.turn
        stop = self._played()
        if running:
            assert self.task is not None
            self.task.cancel()
        self.play_start = None
        self.out.send(Interrupted(session=s, turn=t, stop_sample=stop, reason=reason))
        if running:
            end = "cancelled" if reason == "cancel" else "interrupted"
            self.out.send(TurnEnd(session=s, turn=t, reason=end, audio_samples=self.sent_samples))

    def _played(self) -> int:
        """NPC audio samples the engine has played by now (it plays on a real-time clock)."""
        if self.play_start is None:
            return 0
        elapsed = time.monotonic() - self.play_start
        return min(self.sent_samples, int(elapsed * self.info.audio_out_rate))

    def _playing(self) -> bool:
        return self.play_start is not None and self._played() < self.sent_samples

    # -- hearing (the Listener the hearing stage calls) ------------------------------------

    def speech_started(self) -> None:
        """The player started talking; barge-in waits for words (see `partial`)."""

    def failed(self, error: BridgeError) -> None:
        """Hearing failed on an utterance: tell the engine; the session keeps listening."""
        self._take_audio()
        self.out.send(Error.of(error, session=self.info.session, stage="asr"))

    def npc_speaking(self) -> bool:
        return (self.task is not None and not self.task.done()) or self._playing()

    def partial(self, text: str, speech_ms: float) -> None:
        s = self.info.session
        self.out.send(Transcript(session=s, turn=self.turn + 1, text=text, final=False))
        speaking = self.npc_speaking()
        long_enough = speech_ms >= self._barge_in_ms()
        if speaking and self.interruptible and long_enough and not is_backchannel(text):
            self._interrupt("barge-in")

    def _take_audio(self) -> list[np.ndarray]:
        audio, self.audio, self.audio_samples = list(self.audio), deque(), 0
        return audio

    def _barge_in_ms(self) -> int:
        return self.hearing.config.barge_in_ms if self.hearing is not None else 0

    def final(self, text: str, trace: dict[str, float]) -> None:
        s = self.info.session
        self.out.send(Transcript(session=s, turn=self.turn + 1, text=text, final=True))
        audio = self._take_audio()
        speaking = self.npc_speaking()
        short = trace.get("speech_ms", 0.0) < self._barge_in_ms()
        if speaking and (short or is_backchannel(text)):
            return  # "mhm" while the NPC talks is not a turn
        if not text:
            self._start(self._no_speech)
            return
        rate = self.audio_rate
        self.trace = {k: round(v, 3) for k, v in trace.items()}
        self._start(lambda: self._echo_heard(text, audio, rate))

    async def _no_speech(self) -> None:
        """Push-to-talk with nothing said: the turn ends with no reply."""

    async def _echo_heard(self, text: str, audio: list[np.ndarray], rate: int) -> None:
        await self._echo_text(f"You said: {text}")
        await self._echo_audio(audio, rate, caption=False)

    async def _run(
        self,
        turn: int,
        reply: Callable[[], Coroutine[Any, Any, None]],
        after: asyncio.Task[None] | None = None,
    ) -> None:
        if after is not None:  # an NPC that cannot be interrupted finishes its line first
            await asyncio.gather(after, return_exceptions=True)
            if self.play_start is not None:
                ends = self.play_start + self.sent_samples / self.info.audio_out_rate
                await asyncio.sleep(max(0.0, ends - time.monotonic()))
            self.sent_samples, self.play_start = 0, None
        started = time.perf_counter()
        try:
            await reply()
        except BridgeError as e:
            self.out.send(Error.of(e, session=self.info.session, stage="echo"))
            reason = "error"
        else:
            reason = "done"
        ms = (time.perf_counter() - started) * 1000
        trace, self.trace = self.trace, {}
        self.out.send(
            TurnEnd(
                session=self.info.session,
                turn=turn,
                reason=reason,
                audio_samples=self.sent_samples,
                latency_ms={**trace, "reply": round(ms, 3)},
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

    async def _echo_audio(self, parts: list[np.ndarray], rate: int, caption: bool = True) -> None:
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
        times, weights = jaw_frames(pcm, out_rate, FACE_FPS)
        for i in range(0, len(times), FACE_BATCH):
            tb, wb = times[i : i + FACE_BATCH], weights[i : i + FACE_BATCH]
            self.out.send(
                FaceFrames(
                    session=s, turn=t, count=len(tb), times=tb.tobytes(), weights=wb.tobytes()
                )
            )
        step = out_rate * CHUNK_MS // 1000
        self.play_start = time.monotonic()
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
        if caption:
            self.out.send(
                DialogueFinal(session=s, turn=t, text=f"(echo of {secs:.2f} s of your audio)")
            )
