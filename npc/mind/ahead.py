"""Answering ahead: the model starts on the reply at the player's pause, before the turn is theirs.

The hearing stage decodes the transcript as soon as the player pauses (npc/hearing.py),
and the turn is confirmed only when the hangover of silence (480 ms) has passed. Here the
brain builds the turn's prompt from that tentative transcript at once and starts the
generation, keeping what it writes. When the turn comes with the same transcript, the
turn's request is the same, and the turn takes the generation over: what was written so
far at once, the rest as it comes. When the player goes on, or the turn's request differs
(another line, a memory changed meanwhile), the guess is cancelled: nothing of it was
sent or stored, and the CPU it took is all it cost (its prompt stays in the model's cache).

Not while the NPC speaks (its partials decide barge-in, its turn has the model), nor
while another session's turn runs, nor in a group session (the addressee is decided with
the turn), nor when a behaviour script may change the turn (a before_turn hook, an intent
goal ready, an after_turn hook holding the line), and only when `[brain] speculate = true`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bridge.errors import BackendError
from npc.clauses import ClauseSplitter
from npc.designer.persona import NpcFile
from npc.llm.base import LlmRequest, Usage
from npc.mind import acting, prompt
from npc.mind.reply import SAY_CHARS, SAY_MIN_CHARS, SayStream, reply_schema
from npc.mind.speculate import others_turn

if TYPE_CHECKING:
    from npc.mind.conversation import MindConversation
    from npc.mind.scripted import Plan
    from npc.speaking import EarlyClips
    from npc.tts.base import Voice

log = logging.getLogger("npc_bridge.mind")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A turn's request and what went into it."""

    actions: dict[str, dict[str, Any]]
    schemas: dict[str, dict[str, Any]]  # each action's parameters schema
    context: prompt.Context
    request: LlmRequest


def prepare(
    conv: MindConversation, npc: NpcFile, text: str, player: str, plan: Plan | None = None
) -> Prepared:
    """Blocking (memory and lore reads): the request for `npc`'s answer to `player`'s
    `text`, with a script's plan applied. Changes nothing."""
    b, attrs = conv.brain, conv.attributes(npc)
    actions = acting.available(npc, b.designs.actions, conv.info.actions)
    schemas = {name: a["parameters"] for name, a in actions.items()}
    context = conv._recall(npc, text, player, actions)
    if plan is not None and plan.turn.facts:
        context = dataclasses.replace(context, lore=[*plan.turn.facts, *context.lore])
    verbosity = attrs["verbosity"]
    face = b.voices is not None and b.voices.options.face
    schema = reply_schema(schemas, SAY_CHARS[verbosity], SAY_MIN_CHARS[verbosity], emotion=face)
    asked = f"{text}\n\n({plan.instruction})" if plan and plan.instruction else text
    request = b.request(npc, actions, context, asked, attrs, schema)
    # A player waits for these words; with another session's turn running the machine
    # is not the reply's alone (npc/llm/llama.py spends both cores only then).
    request = dataclasses.replace(request, urgent=not others_turn(conv),
                                  guesses=conv.usual_emotion(npc.id, bool(context.lore))
                                  if face else ())
    return Prepared(actions, schemas, context, request)


@dataclass(eq=False)
class _Guess:
    """One generation started ahead of its turn."""

    text: str
    player: str
    cancel: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)  # clear: hold the model
    # A consumer that may hold the model (`speak_first`, then the turn's voice) says how
    # many pieces it has looked at; while one `watches`, the next token waits until the
    # consumer has seen the last piece, so a first clause it holds the model for holds the
    # very next step (else that step and the first clip share the CPU: 100-200 ms clips
    # against 35-55 alone, bench e2e).
    seen: threading.Condition = field(default_factory=threading.Condition)
    watched: bool = False
    consumed: int = 0
    taken: bool = False  # the turn took it over
    prepared: Prepared | None = None
    began: float = 0.0  # perf_counter when the generation started
    usage: Usage = field(default_factory=Usage)  # its token counts
    pieces: list[str] = field(default_factory=list)
    ended: bool = False
    error: BaseException | None = None
    # A piece came, or the end. Each waiter clears it, then looks at `pieces`, then waits:
    # `speak_first` before the turn takes the guess, `_follow` after.
    news: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    voice: asyncio.Task[None] | None = None  # the first clause synthesised early
    voiced: float | None = None  # perf_counter when that began

    def __post_init__(self) -> None:
        self.go.set()

    def produce(self, request: LlmRequest, llm: Any, loop: asyncio.AbstractEventLoop) -> None:
        """Worker thread: generate, keeping every piece."""

        def tell() -> None:
            if not loop.is_closed():  # an abandoned guess may end after its loop did
                loop.call_soon_threadsafe(self.news.set)

        try:
            for piece in llm.stream_with_retries(request, self.cancel):
                self.pieces.append(piece)
                tell()
                with self.seen:
                    while (self.watched and self.consumed < len(self.pieces)
                           and not self.cancel.is_set()):
                        self.seen.wait(0.05)
                while not self.go.wait(0.05) and not self.cancel.is_set():
                    pass
                if self.cancel.is_set():
                    break
        except BaseException as e:  # handed to the turn that takes this over
            self.error = e
        finally:
            self.ended = True
            tell()

    def watch(self, on: bool) -> None:
        """A consumer that may hold the model starts (`on`, from the first piece) or stops
        looking at pieces."""
        with self.seen:
            self.watched, self.consumed = on, 0
            self.seen.notify_all()

    def looked(self, n: int) -> None:
        """The watching consumer has looked at the first `n` pieces."""
        with self.seen:
            self.consumed = max(self.consumed, n)
            self.seen.notify_all()

    def stop(self) -> None:
        self.cancel.set()
        for task in (self.task, self.voice):
            if task is not None:
                task.cancel()

    async def speak_first(self, early: EarlyClips, voice: Voice, rate: int) -> None:
        """Synthesise the line's first clause as soon as it is written, holding the model
        meanwhile as the turn's voice would: a turn that takes this guess sends its first
        audio at once. Stops at the first clause, or when the guess ends or is dropped.
        The guess must be watched (`watch(True)`) before its generation starts, or its
        first pieces may go by unseen."""
        say, clauses, seen = SayStream(), ClauseSplitter(), 0
        try:
            while not self.cancel.is_set():
                self.news.clear()
                while seen < len(self.pieces):
                    seen += 1
                    first = clauses.feed(say.feed(self.pieces[seen - 1]))
                    if first:
                        hold = self.go
                        hold.clear()
                        self.looked(seen)
                        self.voiced = time.perf_counter()
                        try:
                            await asyncio.shield(early.prepare(first[0], voice, rate))
                        finally:
                            hold.set()
                        return
                self.looked(seen)
                if self.ended:
                    return
                await self.news.wait()
        finally:
            if not self.taken:  # the turn's voice watches from here otherwise
                self.watch(False)


class Ahead:
    """One session's generation ahead of the turn: `tentative` at each pause, `take` at the
    turn's start."""

    def __init__(self, conv: MindConversation) -> None:
        self.conv = conv
        self.guess: _Guess | None = None

    def tentative(self, text: str, player: str) -> None:
        """The player paused after `text` ("": they went on)."""
        self.drop()
        conv = self.conv
        if not text or conv.npc_speaking() or conv.group.grouped or others_turn(conv):
            return
        guess = self.guess = _Guess(text, player or conv.info.player)
        guess.task = asyncio.ensure_future(self._start(guess))

    async def _start(self, guess: _Guess) -> None:
        conv = self.conv
        conv.brain.quiet()  # the turn is close: background work would only be in the way
        if conv.prefill is not None:
            conv.prefill.stop()
        npc = conv.npc
        try:
            plan = None
            if conv.scripts is not None:  # its plan, unless a script may change the turn
                plan = await conv.scripts.plain(npc.id, guess.text)
                if plan is None:
                    return
            prepared = await asyncio.to_thread(prepare, conv, npc, guess.text, guess.player, plan)
        except Exception as e:  # an optimisation: the turn itself reports real failures
            log.warning("%s: answering ahead failed: %s", conv.info.session, e)
            return
        if guess.cancel.is_set():
            return
        guess.prepared, guess.began = prepared, time.perf_counter()
        request = dataclasses.replace(prepared.request, usage=guess.usage)
        worker = threading.Thread(
            target=guess.produce, args=(request, conv.brain.llm, asyncio.get_running_loop()),
            name="ahead", daemon=True,
        )
        voices = conv.brain.voices if conv.speaker is None else None
        guess.watch(voices is not None)  # before the first piece: the voice sees every one
        worker.start()
        if voices is not None:
            guess.voice = asyncio.ensure_future(
                guess.speak_first(voices.early, npc.tts, conv.info.audio_out_rate)
            )

    def drop(self) -> None:
        """Forget the guess (the player went on, or the turn starts without it)."""
        if self.guess is not None:
            self.guess.stop()
            self.guess = None

    def take(
        self, text: str, player: str, request: LlmRequest, go: threading.Event | None
    ) -> tuple[AsyncIterator[str], float, float | None, Usage] | None:
        """The pieces of the guess for this turn if it answers exactly `request`, when
        its generation began, when its first clause went to the voice (None: not yet)
        and its token counts; None (the guess dropped) otherwise."""
        guess, self.guess = self.guess, None
        if guess is None:
            return None
        p = guess.prepared
        ours = (guess.text, guess.player) == (text, player) and not guess.cancel.is_set()
        if p is None or not ours or p.request != request:
            log.debug("%s: the turn's request is not the one begun ahead", self.conv.info.session)
            guess.stop()
            return None
        guess.taken = True
        if guess.voice is not None:  # the turn's voice speaks from here (a clause the
            guess.voice.cancel()  # guess began synthesising is the voice's to take)
        if go is not None:
            guess.go = go  # the voice may now hold the model while it speaks the first clause
        guess.watch(go is not None)  # the turn reads every piece again, from the first
        stall = self.conv.brain.llm.stall_timeout_s
        return _follow(guess, stall), guess.began, guess.voiced, guess.usage


async def _follow(guess: _Guess, stall_s: float) -> AsyncIterator[str]:
    """The guess's pieces from the first; cancelling the consumer cancels the generation."""
    sent = 0
    try:
        while True:
            guess.news.clear()
            if len(guess.pieces) <= sent and not guess.ended:
                try:
                    await asyncio.wait_for(guess.news.wait(), stall_s)
                except TimeoutError as e:
                    raise BackendError(
                        f"no next piece of text within {stall_s:g} s", retryable=True, stage="llm"
                    ) from e
            while sent < len(guess.pieces):
                sent += 1
                yield guess.pieces[sent - 1]
                guess.looked(sent)  # the consumer is back: it has dealt with that piece
            if guess.ended and sent >= len(guess.pieces):
                if guess.error is not None:
                    raise guess.error
                return
    finally:
        guess.cancel.set()
