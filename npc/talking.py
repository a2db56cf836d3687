"""The turn machinery every talking brain shares: one turn at a time, barge-in, actions.

A TalkingConversation runs each NPC turn as a task (announced by `turn-start`: which NPC,
for which player, why), interrupts it when a player talks over the NPC (or the engine
cancels), tracks where the engine's playback of the NPC's audio is, hears the session's
players (npc/listening.py: each player's own hearing, transcripts, spoken turns), and
sends engine actions and awaits their results. Subclasses say what a turn does.
"""

from __future__ import annotations

import abc
import asyncio
import itertools
import time
from collections.abc import Callable
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
    TurnEnd,
    TurnStart,
)
from bridge.seam import Conversation, Outbox, SessionInfo
from npc.hearing import Hearing, Listener
from npc.listening import Cause, Listening
from npc.listening import Reply as Reply  # re-exported: brains type their turns with it
from npc.trace import Trace, log_turn

if TYPE_CHECKING:
    from npc.speaking import Speaker



class TalkingConversation(Listening, Conversation):
    """One session; a new turn interrupts the one in flight unless the NPC may not be."""

    stage = "brain"  # names the stage in `error` messages

    def __init__(self, info: SessionInfo, out: Outbox, interruptible: bool = True) -> None:
        self.info = info
        self.out = out
        self.interruptible = interruptible
        self.hearing: Hearing | None = None  # the session player's
        self.hearings: dict[str, Hearing] = {}  # each other player's, made on their first audio
        # The brain's ears, to give another player of a group session hearing of their own.
        self.listen: Callable[[Listener], Hearing] | None = None
        self.npc_id = info.npc  # the default NPC; the brain sets the id it resolved
        self.players = info.all_players
        self.turn_npc = ""  # the NPC of the turn in flight
        self.play_start: float | None = None  # when this turn's NPC audio began playing
        self.trace = Trace()  # latency marks of the turn in flight, for turn-end
        self.turn = 0
        self.task: asyncio.Task[None] | None = None
        self.sent_samples = 0  # NPC audio samples sent in this turn
        self.pending: dict[str, asyncio.Future[ActionResult]] = {}
        self.speaker: Speaker | None = None  # the voice of the turn in flight, if it speaks
        self._ids = itertools.count(1)

    # -- what a subclass provides ------------------------------------------------------------

    @abc.abstractmethod
    def on_text(self, text: str, player: str, npc: str) -> Reply:
        """The turn in which `npc` answers the line `player` typed."""

    @abc.abstractmethod
    def on_heard(self, text: str, player: str, npc: str) -> Reply:
        """The turn for a heard utterance (its final transcript is `text`, never empty)."""

    def addressee(self, text: str, player: str) -> str:
        """The NPC a player's line is for; a group brain picks by name."""
        return self.npc_id

    def joined(self, player: str) -> None:
        """A player spoke over the NPCs or typed: whatever they did among themselves stops."""

    def on_audio(self, msg: AudioChunk) -> None:
        """A chunk of the player's audio (the hearing stage gets it too, after this)."""

    def on_partial(self, text: str, player: str) -> None:
        """A partial transcript of `player`, still talking (work may start on it early)."""

    def on_other(self, msg: SessionMessage | GameEvent) -> None:
        """Any other engine message (steer, game events...)."""

    def on_audio_end(self) -> None:
        """Push-to-talk released, with no ears to hear it."""

    # -- engine messages -------------------------------------------------------------------

    def receive(self, msg: SessionMessage | GameEvent) -> None:
        if isinstance(msg, AudioChunk):
            hearing = self.hearing_of(self.player_of(msg.player))
            self.on_audio(msg)
            if hearing is not None:
                hearing.feed(msg.pcm, msg.sample_rate, msg.channels)
        elif isinstance(msg, AudioEnd):
            hearing = self.hearing_of(self.player_of(msg.player))
            if hearing is not None:
                hearing.end_audio()
            else:
                self.on_audio_end()
        elif isinstance(msg, TextInput):
            player = self.player_of(msg.player)
            self.joined(player)
            npc = self.addressee(msg.text, player)
            typed = Trace(kind="typed")  # the clock starts as the line arrives
            self.start(self.on_text(msg.text, player, npc), npc=npc, player=player, trace=typed)
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
        for hearing in [self.hearing, *self.hearings.values()]:
            if hearing is not None:
                await hearing.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    # -- turns --------------------------------------------------------------------------

    def start(
        self,
        reply: Reply,
        *,
        npc: str = "",
        player: str = "",
        cause: Cause = "player",
        trace: Trace | None = None,
    ) -> None:
        """Begin the next turn: `npc` ("" = the default) speaks to `player` ("" = the
        session's; none in a banter). A factory, not a coroutine: a turn cancelled before
        it starts leaves nothing un-awaited behind."""
        previous = self.task
        if self.interruptible:
            self.interrupt("barge-in")
            previous = None
            self.sent_samples = 0
        self.turn += 1
        who = player or ("" if cause == "banter" else self.info.player)
        start = TurnStart(
            session=self.info.session, turn=self.turn, npc=npc or self.npc_id, player=who,
            cause=cause,
        )
        trace = Trace() if trace is None else trace  # an NPC's own turn: from its start
        self.task = asyncio.ensure_future(self._run(start, reply, previous, trace))

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
            self.out.send(
                TurnEnd(
                    session=s, turn=t, reason=end, audio_samples=self.sent_samples,
                    npc=self.turn_npc,
                )
            )

    def _played(self) -> int:
        """NPC audio samples the engine has played by now (it plays on a real-time clock)."""
        if self.play_start is None:
            return 0
        elapsed = time.monotonic() - self.play_start
        return min(self.sent_samples, int(elapsed * self.info.audio_out_rate))

    def npc_speaking(self) -> bool:
        return (self.task is not None and not self.task.done()) or self._playing()

    def _playing(self) -> bool:
        return self.play_start is not None and self._played() < self.sent_samples

    async def _run(
        self, start: TurnStart, reply: Reply, after: asyncio.Task[None] | None, trace: Trace
    ) -> None:
        if after is not None:  # an NPC that cannot be interrupted finishes its line first
            await asyncio.gather(after, return_exceptions=True)
            if self.play_start is not None:
                ends = self.play_start + self.sent_samples / self.info.audio_out_rate
                await asyncio.sleep(max(0.0, ends - time.monotonic()))
            self.sent_samples, self.play_start = 0, None
        self.turn_npc = start.npc
        self.trace = trace
        self.out.send(start)
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
        trace["reply"] = round((time.perf_counter() - started) * 1000, 3)
        log_turn(trace, self.info.session, start.turn)
        self.out.send(
            TurnEnd(
                session=self.info.session,
                turn=start.turn,
                reason=reason,
                audio_samples=self.sent_samples,
                latency_ms=dict(trace),
                npc=start.npc,
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
