"""The turn machinery every talking brain shares: one turn at a time, barge-in, actions.

A TalkingConversation runs each NPC turn as a task, interrupts it when the player talks
over the NPC (or the engine cancels), tracks where the engine's playback of the NPC's
audio is, listens to the hearing stage (it is the stage's Listener), and sends engine
actions and awaits their results. Subclasses say what a turn does.
"""

from __future__ import annotations

import abc
import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from bridge import errors
from bridge.errors import BridgeError, ProtocolError
from bridge.messages import (
    ActionCall,
    ActionResult,
    AudioChunk,
    AudioEnd,
    Cancel,
    Error,
    GameEvent,
    Interrupted,
    SessionMessage,
    TextInput,
    Transcript,
    TurnEnd,
)
from bridge.seam import Conversation, Outbox, SessionInfo
from npc.hearing import Hearing, is_backchannel

if TYPE_CHECKING:
    from npc.speaking import Speaker

Reply = Callable[[], Coroutine[Any, Any, None]]


class TalkingConversation(Conversation):
    """One session; a new turn interrupts the one in flight unless the NPC may not be."""

    stage = "brain"  # names the stage in `error` messages

    def __init__(self, info: SessionInfo, out: Outbox, interruptible: bool = True) -> None:
        self.info = info
        self.out = out
        self.interruptible = interruptible
        self.hearing: Hearing | None = None
        self.play_start: float | None = None  # when this turn's NPC audio began playing
        self.trace: dict[str, float] = {}  # latency of the turn in flight, for turn-end
        self.turn = 0
        self.task: asyncio.Task[None] | None = None
        self.sent_samples = 0  # NPC audio samples sent in this turn
        self.pending: dict[str, asyncio.Future[ActionResult]] = {}
        self.speaker: Speaker | None = None  # the voice of the turn in flight, if it speaks
        self._ids = itertools.count(1)

    # -- what a subclass provides ------------------------------------------------------------

    @abc.abstractmethod
    def on_text(self, text: str) -> Reply:
        """The turn for a typed line."""

    @abc.abstractmethod
    def on_heard(self, text: str) -> Reply:
        """The turn for a heard utterance (its final transcript is `text`, never empty)."""

    def on_audio(self, msg: AudioChunk) -> None:
        """A chunk of the player's audio (the hearing stage gets it too, after this)."""

    def on_other(self, msg: SessionMessage | GameEvent) -> None:
        """Any other engine message (steer, game events...)."""

    def on_audio_end(self) -> None:
        """Push-to-talk released, with no ears to hear it."""

    # -- engine messages -------------------------------------------------------------------

    def receive(self, msg: SessionMessage | GameEvent) -> None:
        if isinstance(msg, AudioChunk):
            self.on_audio(msg)
            if self.hearing is not None:
                self.hearing.feed(msg.pcm, msg.sample_rate, msg.channels)
        elif isinstance(msg, AudioEnd) and self.hearing is not None:
            self.hearing.end_audio()
        elif isinstance(msg, AudioEnd):
            self.on_audio_end()
        elif isinstance(msg, TextInput):
            self.start(self.on_text(msg.text))
        elif isinstance(msg, ActionResult):
            fut = self.pending.pop(msg.call_id, None)
            if fut is None or fut.done():
                raise ProtocolError(
                    f"no pending action call '{msg.call_id[:64]}'", code=errors.UNKNOWN_ACTION
                )
            fut.set_result(msg)
        elif isinstance(msg, Cancel):
            self.interrupt("cancel")
        else:
            self.on_other(msg)

    async def close(self) -> None:
        if self.hearing is not None:
            await self.hearing.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    # -- turns --------------------------------------------------------------------------

    def start(self, reply: Reply) -> None:
        """Begin the next turn. A factory, not a coroutine: a turn cancelled before it
        starts leaves nothing un-awaited behind."""
        previous = self.task
        if self.interruptible:
            self.interrupt("barge-in")
            previous = None
            self.sent_samples = 0
        self.turn += 1
        self.task = asyncio.ensure_future(self._run(self.turn, reply, previous))

    def interrupt(self, reason: str) -> None:
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

    async def _run(self, turn: int, reply: Reply, after: asyncio.Task[None] | None) -> None:
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
            self.out.send(Error.of(e, session=self.info.session, stage=self.stage))
            reason = "error"
        else:
            reason = "done"
        finally:
            if self.speaker is not None:  # a turn cancelled or failed stops its voice too
                self.speaker.cancel()
                self.speaker = None
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

    # -- engine actions --------------------------------------------------------------------

    async def call_engine(
        self, name: str, arguments: dict[str, Any], timeout_s: float
    ) -> ActionResult | None:
        """Send an `action-call` and wait for its result; None when none came in time."""
        call_id = f"c{next(self._ids)}"
        fut: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self.pending[call_id] = fut
        self.out.send(
            ActionCall(
                session=self.info.session,
                turn=self.turn,
                call_id=call_id,
                name=name,
                arguments=arguments,
            )
        )
        try:
            return await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            return None
        finally:
            self.pending.pop(call_id, None)

    # -- hearing (the Listener the hearing stage calls) ------------------------------------

    def speech_started(self) -> None:
        """The player started talking; barge-in waits for words (see `partial`)."""

    def failed(self, error: BridgeError) -> None:
        """Hearing failed on an utterance: tell the engine; the session keeps listening."""
        self.out.send(Error.of(error, session=self.info.session, stage="asr"))

    def npc_speaking(self) -> bool:
        return (self.task is not None and not self.task.done()) or self._playing()

    def partial(self, text: str, speech_ms: float) -> None:
        s = self.info.session
        self.out.send(Transcript(session=s, turn=self.turn + 1, text=text, final=False))
        speaking = self.npc_speaking()
        long_enough = speech_ms >= self._barge_in_ms()
        if speaking and self.interruptible and long_enough and not is_backchannel(text):
            self.interrupt("barge-in")

    def _barge_in_ms(self) -> int:
        return self.hearing.config.barge_in_ms if self.hearing is not None else 0

    def final(self, text: str, trace: dict[str, float]) -> None:
        s = self.info.session
        self.out.send(Transcript(session=s, turn=self.turn + 1, text=text, final=True))
        speaking = self.npc_speaking()
        short = trace.get("speech_ms", 0.0) < self._barge_in_ms()
        if speaking and (short or is_backchannel(text)):
            return  # "mhm" while the NPC talks is not a turn
        if not text:
            self.start(_no_speech)
            return
        self.trace = {k: round(v, 3) for k, v in trace.items()}
        self.start(self.on_heard(text))


async def _no_speech() -> None:
    """Push-to-talk with nothing said: the turn ends with no reply."""
