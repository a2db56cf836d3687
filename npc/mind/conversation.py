"""One player's conversation with a thinking NPC: each turn retrieves, prompts, streams and acts.

A turn: store the player's line, gather what the NPC knows (lore in its scope, memory of
this player), ask the model for one JSON reply (its line, its emotion and maybe an action),
stream the line to the engine as it is written and speak it clause by clause (with its
face), run the action (in the brain or the engine), say how it went, and store the NPC's
line with the steering it was said with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
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
from npc.mind import acting, proactive, prompt
from npc.mind.reply import (
    SAY_CHARS,
    SAY_MIN_CHARS,
    Reply,
    SayStream,
    parse_reply,
    reply_schema,
)
from npc.script.handle import Line
from npc.talking import Reply as TurnFactory
from npc.talking import TalkingConversation

if TYPE_CHECKING:
    from npc.mind.brain import MindBrain
    from npc.mind.scripted import ScriptSide

log = logging.getLogger("npc_bridge.mind")

FOLLOW_UP = "{outcome} Tell the player in one short sentence, in character."


class MindConversation(TalkingConversation):
    """A session with one NPC of a MindBrain."""

    stage = "brain"

    def __init__(self, brain: MindBrain, info: SessionInfo, out: Outbox, npc: NpcFile) -> None:
        super().__init__(info, out, npc.interruptible)
        self.brain = brain
        self._npc = npc
        self.npcs: dict[str, NpcFile] = {npc.id: npc}  # B's stand-in until A's group NPCs land
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

    def attributes(self) -> dict[str, int]:
        """The NPC's steering now: its file's defaults with this session's changes."""
        return steer.merge(self.npc.steer, self.overrides)

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
        if self.scripts is not None:
            await self.scripts.close()
        self.brain.conversations.discard(self)
        await super().close()

    def on_text(self, text: str, player: str = "", npc: str = "") -> TurnFactory:
        return lambda: self.answer(text)

    def on_heard(self, text: str, player: str = "", npc: str = "") -> TurnFactory:
        return lambda: self.answer(text)

    # -- a turn ----------------------------------------------------------------------------

    async def answer(self, text: str) -> None:
        """The NPC's whole turn in answer to the player's `text`."""
        b, npc, attrs = self.brain, self.npc, self.attributes()
        began = time.perf_counter()
        self.brain.quiet()
        self.said = []
        plan = await self.scripts.before(npc.id, text) if self.scripts is not None else None
        text = plan.turn.text if plan is not None else text
        actions = acting.available(npc, b.designs.actions, self.info.actions)
        schemas = {name: a["parameters"] for name, a in actions.items()}
        context = await asyncio.to_thread(self._recall, npc, text)
        if plan is not None and plan.turn.facts:
            context = dataclasses.replace(context, lore=[*plan.turn.facts, *context.lore])
        await asyncio.to_thread(
            b.memory.add_turn, npc.id, self.info.player, "player", text, session=self.info.session
        )
        self.trace["prepare"] = _ms(began)
        verbosity = attrs["verbosity"]
        self.speaker = b.speaker(self, npc)
        face = self.speaker is not None and self.speaker.face is not None
        schema = reply_schema(
            schemas, SAY_CHARS[verbosity], SAY_MIN_CHARS[verbosity], emotion=face
        )
        asked = f"{text}\n\n({plan.instruction})" if plan and plan.instruction else text
        request = b.request(npc, actions, context, asked, attrs, schema)
        self.holding = self.scripts is not None and self.scripts.holds(npc.id)
        try:
            if plan is not None and plan.lines:  # the scripts answer: nothing is generated
                await proactive.say_lines(self, npc, plan.lines, began)
                reply = None
            else:
                reply = await self._generate(request, schemas, began)
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
            self._remember(npc, attrs, context, text, None, interrupted=True)
            raise
        self.holding = False
        outcome = None
        if reply is not None and reply.action:
            outcome = await self._act(npc, reply, actions)
        self.out.send(
            DialogueFinal(session=self.info.session, turn=self.turn, text=" ".join(self.said))
        )
        if self.speaker is not None:
            await self.speaker.finish()
            self.trace.update({"spoken": _ms(began), **self.speaker.timing})
        self._remember(npc, attrs, context, text, reply, outcome=outcome)
        b.summarize_later(npc, self.info.player)

    async def _generate(
        self, request: LlmRequest, schemas: dict[str, dict[str, Any]], began: float
    ) -> Reply:
        stream = SayStream()
        self.streaming = ""
        first = not self.said
        if not first and not self.holding:  # a second line in the turn: keep words apart
            self.out.send(DialogueDelta(session=self.info.session, turn=self.turn, text=" "))
        go = self.speaker.go if self.speaker is not None else None
        async for piece in self.brain.llm.astream(request, go):
            delta = stream.feed(piece)
            if delta:
                if first and not self.streaming:
                    self.trace["first_text"] = _ms(began)
                    if stream.emotion and self.speaker is not None and not self.holding:
                        self.speaker.emotion(stream.emotion)
                self.streaming += delta
                if self.holding:  # an after_turn hook says when (and what) it is said
                    continue
                self.out.send(DialogueDelta(session=self.info.session, turn=self.turn, text=delta))
                if self.speaker is not None:
                    self.speaker.feed(delta)
        if self.speaker is not None:
            self.speaker.line_done()
        self.trace["generated" if first else "follow_up"] = _ms(began)
        streamed, self.streaming = self.streaming, ""
        if streamed.strip():
            self.said.append(streamed.strip())
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
        self, npc: NpcFile, reply: Reply, actions: dict[str, dict[str, Any]]
    ) -> acting.Outcome | None:
        b = self.brain
        context = acting.BrainContext(npc.id, self.info.player, self.info.session, b.memory)
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
            reply = await self._generate(request, {}, time.perf_counter())
        except BackendError as e:
            log.warning("%s: follow-up line failed: %s", npc.id, e)
            return ""
        return reply.say

    def _recall(self, npc: NpcFile, text: str) -> prompt.Context:
        """What the NPC knows for this line: lore in its scope and its memory of the player."""
        b, player = self.brain, self.info.player
        lore = [h.chunk.text for h in b.search(text, npc.knowledge)]
        summary = b.memory.summary(npc.id, player)
        history = b.memory.since_summary(npc.id, player)[-b.options.history_turns :]
        return prompt.Context(
            lore=lore,
            summary=summary.text,
            relationship=b.memory.relationship(npc.id, player),
            history=history,
        )

    def _remember(
        self,
        npc: NpcFile,
        attrs: dict[str, int],
        context: prompt.Context,
        text: str,
        reply: Reply | None,
        *,
        outcome: acting.Outcome | None = None,
        interrupted: bool = False,
    ) -> None:
        """Store the NPC's line (what was actually said) and log it as SteerLM data."""
        line = " ".join(s for s in [*self.said, self.streaming.strip()] if s)
        if not line:
            return
        meta: dict[str, Any] = {"turn": self.turn}
        if reply is not None and reply.action:
            meta.update(action=reply.action, arguments=reply.arguments)
        if outcome is not None:
            meta["outcome"] = outcome.describe()
        if interrupted:
            meta["interrupted"] = True
        b = self.brain
        b.memory.add_turn(
            npc.id, self.info.player, "npc", line, session=self.info.session,
            attributes=attrs, meta=meta,
        )
        if b.steer_log is not None and not interrupted:
            turns = prompt.history_turns(context.history)
            system = prompt.system_prompt(npc, {})
            b.steer_log.write(system, [*turns, ("User", text)], line, attrs)


def _news(outcome: acting.Outcome) -> str:
    """How an action went, as a note the model can put in its own words."""
    if outcome.timed_out:
        return "You tried, but got no answer."
    if not outcome.ok:
        return f"You tried, but it failed: {outcome.error}."
    return f"Done. The result: {json.dumps(outcome.result, ensure_ascii=False, default=str)}."


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
