"""A session with thinking NPCs: each turn retrieves, prompts, streams and acts.

A turn: store the player's line, gather what the NPC knows (lore in its scope, memory of
this player), ask the model for one JSON reply (its line, its emotion and maybe an action),
stream the line to the engine as it is written and speak it clause by clause (with its
face), run the action (in the brain or the engine), say how it went, and store the NPC's
line with the steering it was said with. A group session (several NPCs, several players)
sends each player's line to the NPC it addresses, shows that NPC the session's recent
lines attributed, keeps memory per (NPC, player), and can run banter (npc/mind/scene.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Collection
from typing import TYPE_CHECKING, Any

from bridge.errors import BackendError, BridgeError
from bridge.messages import (
    AudioChunk,
    AudioEnd,
    DialogueDelta,
    DialogueFinal,
    Error,
    GameEvent,
    SessionMessage,
    Steer,
)
from bridge.seam import Outbox, SessionInfo
from npc import steer
from npc.designer.persona import NpcFile
from npc.llm.base import ChatMessage, Decoding, LlmRequest
from npc.mind import acting, proactive, prompt, recall, scene
from npc.mind.ahead import Ahead, prepare
from npc.mind.group import Group
from npc.mind.reply import (
    EMOTION_WORDS,
    SAY_CHARS,
    Reply,
    SayStream,
    parse_reply,
    reply_schema,
)
from npc.mind.speculate import Prefill
from npc.script.handle import Line
from npc.talking import Reply as TurnFactory
from npc.talking import TalkingConversation

if TYPE_CHECKING:
    from npc.mind.brain import MindBrain
    from npc.mind.scripted import ScriptSide

log = logging.getLogger("npc_bridge.mind")

FELT_KEPT = 5  # an NPC's last emotions the decoder's guess of the next is drawn from
FOLLOW_UP = "{outcome} Tell the player in one short sentence, in character."


class MindConversation(TalkingConversation):
    """A session with one or more NPCs of a MindBrain (`npc` first: the default addressee)."""

    stage = "brain"

    def __init__(
        self,
        brain: MindBrain,
        info: SessionInfo,
        out: Outbox,
        npc: NpcFile,
        others: tuple[NpcFile, ...] = (),
    ) -> None:
        super().__init__(info, out, npc.interruptible)
        self.brain = brain
        self._npc = npc
        self.npc_id = npc.id
        self.npcs: dict[str, NpcFile] = {n.id: n for n in (npc, *others)}
        self.group = Group(list(self.npcs), self.players, self.file)
        self.prefill = Prefill(self) if brain.options.speculate else None
        self.ahead = Ahead(self) if brain.options.speculate else None
        self.scene: asyncio.Task[None] | None = None  # the banter running, if any
        self.last_raw = ""  # the model's whole output for the last generated line
        self.felt: dict[str, deque[str]] = {}  # npc -> the emotions of its last replies
        self.overrides = dict(info.steer)  # the session's changes to the NPC's defaults
        self.said: list[str] = []  # the NPC's lines so far in the turn in flight
        self.streaming = ""  # the line being generated, as far as it has streamed
        self.scripts: ScriptSide | None = None  # the brain's behaviour scripts, if it has any
        self.holding = False  # an after_turn hook sees the line before it is said

    @property
    def npc(self) -> NpcFile:
        """The NPC's current file: a reload takes effect from the next turn."""
        self._npc = self.brain.designs.npcs.get(self._npc.id, self._npc)
        return self._npc

    def file(self, npc_id: str) -> NpcFile:
        """The current file of an NPC of the session (reloads take effect at once)."""
        current = self.brain.designs.npcs.get(npc_id, self.npcs[npc_id])
        self.npcs[npc_id] = current
        return current

    def attributes(self, npc: NpcFile | None = None) -> dict[str, int]:
        """An NPC's steering now (the first by default): its file's defaults with this
        session's changes."""
        return steer.merge((npc or self.npc).steer, self.overrides)

    # -- group sessions --------------------------------------------------------------------

    def addressee(self, text: str, player: str) -> str:
        return self.group.addressee(text, player)

    def joined(self, player: str) -> None:
        if self.scene is not None and not self.scene.done():
            log.info("%s: %s joined; the banter stops", self.info.session, player)
            self.scene.cancel()

    def banter(self, npc_ids: list[str], about: str, lines: int = 4) -> None:
        """NPCs of the session talk with each other (the first speaks first), `lines`
        lines at most; it starts when the session is quiet, after any banter running."""
        order = scene.check(self, npc_ids, lines)
        before = self.scene

        async def after() -> None:
            if before is not None:
                try:
                    await asyncio.wait({before})
                except asyncio.CancelledError:  # a player joined: the one before stops too
                    before.cancel()
                    raise
            await scene.run(self, order, about, lines)

        self.scene = asyncio.ensure_future(after())

    def scene_running(self) -> bool:
        return self.scene is not None and not self.scene.done()

    # -- engine messages -----------------------------------------------------------------

    def receive(self, msg: SessionMessage | GameEvent) -> None:
        if self.scripts is not None and not self.scripts.listening and isinstance(
            msg, AudioChunk | AudioEnd
        ):
            return  # a script stopped the NPC listening
        super().receive(msg)

    def on_other(self, msg: SessionMessage | GameEvent) -> None:
        if isinstance(msg, Steer):  # names and values were checked as the message arrived
            self.overrides.update(msg.attributes)
        elif isinstance(msg, GameEvent):
            text = f"{msg.name} {msg.payload}" if msg.payload else msg.name
            self.brain.memory.add_turn(
                self.npc.id, self.info.player, "event", text, session=self.info.session
            )
            if self.scripts is not None:
                self.scripts.event(msg)

    def line(
        self,
        npc_id: str,
        text: str | None = None,
        instruction: str | None = None,
        emotion: str | None = None,
        cause: str = "script",
    ) -> TurnFactory:
        """A turn in which NPC `npc_id` says `text` as written, or a line it makes up
        following `instruction`; for `start`."""
        line = Line(npc_id, text or "", instruction or "", emotion)
        return lambda: proactive.speak(self, line)

    async def close(self) -> None:
        if self.scene is not None:
            self.scene.cancel()
            await asyncio.gather(self.scene, return_exceptions=True)
        if self.scripts is not None:
            await self.scripts.close()
        self.brain.conversations.discard(self)
        if self.prefill is not None:
            self.prefill.stop()
        if self.ahead is not None:
            self.ahead.drop()
        await super().close()

    def on_partial(self, text: str, player: str) -> None:
        if self.prefill is not None:
            self.prefill.partial(text, player)

    def on_tentative(self, text: str, player: str) -> None:
        if self.ahead is not None:
            self.ahead.tentative(text, player)

    def on_text(self, text: str, player: str = "", npc: str = "") -> TurnFactory:
        return lambda: self.answer(text, player, npc)

    def on_heard(self, text: str, player: str = "", npc: str = "") -> TurnFactory:
        return lambda: self.answer(text, player, npc)

    # -- a turn ----------------------------------------------------------------------------

    async def answer(self, text: str, player: str = "", npc_id: str = "") -> None:
        """The whole turn of NPC `npc_id` ("" = the first) in answer to `player`'s `text`."""
        player = player or self.info.player
        npc = self.file(npc_id) if npc_id else self.npc
        b, attrs = self.brain, self.attributes(npc)
        self.brain.quiet()
        if self.prefill is not None:  # what it evaluated stays; the turn takes the model
            self.prefill.stop()
        self.said = []
        scripts = self.scripts
        plan = await scripts.before(npc.id, text, player) if scripts is not None else None
        text = plan.turn.text if plan is not None else text
        prepared = await asyncio.to_thread(prepare, self, npc, text, player, plan)
        actions, schemas, context = prepared.actions, prepared.schemas, prepared.context
        self.group.heard(player, text, npc.id)
        await asyncio.to_thread(
            b.memory.add_turn, npc.id, player, "player", text, session=self.info.session
        )
        self.trace.mark("prepared")
        self.speaker = b.speaker(self, npc)
        # tokens, for the log
        request = dataclasses.replace(prepared.request, usage=self.trace.usage())
        try:
            if plan is not None and plan.lines:  # the scripts answer: nothing is generated
                await proactive.say_lines(self, npc, plan.lines)
                reply = None
            else:
                self.holding = self.scripts is not None and self.scripts.holds(npc.id)
                if not self.holding:
                    b.acknowledge(self, npc)
                reply = await self._generate(request, schemas, self._ahead(text, player, request))
            if reply is not None and self.scripts is not None:
                reply = await self.scripts.review(npc, text, reply)
        except BackendError as e:
            self.out.send(Error.of(e, session=self.info.session, stage="llm"))
            if self.streaming.strip():  # what streamed before it failed was said
                self.said.append(self.streaming.strip())
            elif not self.said:
                self._say(npc.lines["confused"])
            self.streaming = ""
            reply = None
        except asyncio.CancelledError:
            recall.remember(self, npc, attrs, context, text, None, interrupted=True, player=player)
            raise
        self.holding = False
        if reply is not None and reply.emotion:
            self.felt.setdefault(npc.id, deque(maxlen=FELT_KEPT)).append(reply.emotion)
        outcome = None
        if reply is not None and reply.action:
            outcome = await self._act(npc, reply, actions, player)
        self.out.send(
            DialogueFinal(session=self.info.session, turn=self.turn, text=" ".join(self.said))
        )
        if self.speaker is not None:
            await self.speaker.finish()
            self.trace.mark("spoken")
        recall.remember(self, npc, attrs, context, text, reply, outcome=outcome, player=player)
        prefill = self.prefill
        if prefill is not None:  # the next turn's prompt head first, then the rest; a moved
            # regard or summary changes that head's notes, so it is warmed again
            def rewarm() -> None:
                prefill.after_turn(npc, player, then=lambda: None)

            prefill.after_turn(
                npc, player, then=lambda: b.summarize_later(npc, player, changed=rewarm)
            )
        else:
            b.summarize_later(npc, player)

    def usual_emotion(self, npc_id: str, lore: bool = False) -> tuple[str, ...]:
        """The model's word for the emotion the decoder should guess first for `npc_id`'s
        next reply: "neutral" for an answer from lore (`lore`), else the emotion it showed
        most in its last replies (the latest of those tied), "happy" before any. On the
        hangar's lines, first replies (docs/latency.md): lore answers neutral 19 of 38
        (happy 12), other lines happy 61 of 79 (neutral 8)."""
        if lore:
            return (EMOTION_WORDS["neutral"],)
        felt = list(self.felt.get(npc_id, ()))
        if not felt:
            return (EMOTION_WORDS["joy"],)
        usual = max(reversed(felt), key=felt.count)
        return (EMOTION_WORDS[usual],)

    def _ahead(self, text: str, player: str, request: LlmRequest) -> AsyncIterator[str] | None:
        """The generation begun at the player's pause for this very request, if any."""
        go = self.speaker.go if self.speaker is not None else None
        found = self.ahead.take(text, player, request, go) if self.ahead is not None else None
        if found is None:
            return None
        pieces, began, voiced, usage = found
        self.trace.mark("ahead", began)
        if voiced is not None:
            self.trace.mark("voiced", voiced)
        self.trace.adopt(usage)
        return pieces

    async def _generate(
        self,
        request: LlmRequest,
        schemas: dict[str, dict[str, Any]],
        pieces: AsyncIterator[str] | None = None,
    ) -> Reply:
        """Stream a reply's line to the engine and the voice as the model writes it (from
        `pieces` when a generation for it is already under way) and parse the reply."""
        stream = SayStream()
        self.streaming = ""
        first = not self.said
        if not first and not self.holding:  # a second line in the turn: keep words apart
            self.out.send(DialogueDelta(session=self.info.session, turn=self.turn, text=" "))
        go = self.speaker.go if self.speaker is not None else None
        shown = not first  # the turn's first line shows its emotion, once it is written
        async for piece in pieces or self.brain.llm.astream(request, go):
            self.trace.mark("first_token")
            delta = stream.feed(piece)
            if not shown and stream.emotion and self.speaker is not None and not self.holding:
                self.speaker.emotion(stream.emotion)
                shown = True
            if delta:
                if first and not self.streaming:
                    self.trace.mark("first_text")
                self.streaming += delta
                if self.holding:  # an after_turn hook says when (and what) it is said
                    continue
                self.out.send(DialogueDelta(session=self.info.session, turn=self.turn, text=delta))
                if self.speaker is not None:
                    self.speaker.feed(delta)
        if self.speaker is not None:
            self.speaker.line_done()
        self.trace.mark("generated" if first else "follow_up")
        streamed, self.streaming = self.streaming, ""
        if streamed.strip():
            self.said.append(streamed.strip())
        self.last_raw = stream.raw
        reply = parse_reply(stream.raw, schemas)
        if not streamed and reply.say:  # a backend that did not put "say" first
            self._say(reply.say)
        return reply

    def _say(self, text: str) -> None:
        """Add a line of the NPC's that is not generated (a designer's fallback line)."""
        text = (" " if self.said else "") + text
        self.out.send(DialogueDelta(session=self.info.session, turn=self.turn, text=text))
        self.said.append(text.strip())
        if self.speaker is not None:
            self.speaker.feed(text)
            self.speaker.line_done()

    async def _act(
        self, npc: NpcFile, reply: Reply, actions: dict[str, dict[str, Any]], player: str = ""
    ) -> acting.Outcome | None:
        b = self.brain
        who = player or self.info.player
        context = acting.BrainContext(npc.id, who, self.info.session, b.memory)
        try:
            outcome = await acting.run(
                reply.action, reply.arguments, actions, b.designs.actions, context,
                self.call_engine, b.options.action_timeout_s,
            )
        except BridgeError as e:
            self.out.send(Error.of(e, session=self.info.session, stage="actions"))
            self._say(npc.lines["confused"])
            return None
        if outcome.ok and not isinstance(outcome.result, dict | list):
            return outcome  # nothing to report: the line said while doing it is enough
        follow = await self._follow_up(npc, _news(outcome))
        if not follow and not outcome.ok:
            self._say(npc.lines["no_answer" if outcome.timed_out else "action_failed"])
        return outcome

    async def _follow_up(self, npc: NpcFile, news: str) -> str:
        """A short generated line on how the action went; "" if the model gave nothing."""
        messages = (
            ChatMessage("system", prompt.system_prompt(npc, {})),
            ChatMessage("user", FOLLOW_UP.format(outcome=news)),
        )
        schema = reply_schema({}, SAY_CHARS[1])
        request = LlmRequest(messages, schema=schema, decoding=Decoding(max_tokens=64))
        try:
            reply = await self._generate(request, {})
        except BackendError as e:
            log.warning("%s: follow-up line failed: %s", npc.id, e)
            return ""
        return reply.say

    def _recall(
        self, npc: NpcFile, text: str, player: str = "", actions: Collection[str] = ()
    ) -> prompt.Context:
        """What `npc` knows for `text` said by `player`, answered with `actions` at hand
        (npc/mind/recall.py)."""
        return recall.context(self, npc, text, player or self.info.player, actions)


def _news(outcome: acting.Outcome) -> str:
    """How an action went, as a note the model can put in its own words."""
    if outcome.timed_out:
        return "You tried, but got no answer."
    if not outcome.ok:
        return f"You tried, but it failed: {outcome.error}."
    return f"Done. The result: {json.dumps(outcome.result, ensure_ascii=False, default=str)}."
