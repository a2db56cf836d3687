"""A conversation's side of the behaviour scripts: events, turn hooks, goals, the Npc handles.

One ScriptSide per MindConversation of a brain with scripts. It runs the hooks and goals
that concern the conversation's NPCs with their handles, reports a failing hook to the
engine (stage "script", code "script-error", `file:line: reason`) and goes on. It is the
Host behind every handle (npc/mind/script_host.py): lines go to the proactive queue
(npc/mind/proactive.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bridge.messages import GameEvent
from npc.designer.persona import NpcFile
from npc.mind.reply import Reply
from npc.mind.script_host import ScriptHost, turn_player
from npc.script.api import AFTER, BEFORE, EVENT, Goal
from npc.script.handle import Line, Run
from npc.script.runner import ScriptError, call, where_of
from npc.script.types import Event, Idle, Intent, Trigger, Turn

if TYPE_CHECKING:
    from npc.mind.brain import MindBrain
    from npc.mind.conversation import MindConversation

log = logging.getLogger("npc_bridge.script")


@dataclass
class Plan:
    """What the scripts made of a player's line before the NPC answers it."""

    turn: Turn
    lines: list[Line] = field(default_factory=list)  # the answer, said instead of generated
    instruction: str = ""  # an intent goal's prompt= for this turn's reply


class ScriptSide(ScriptHost):
    """The scripts' view of one conversation: runs its hooks and goals."""

    def __init__(self, conv: MindConversation, brain: MindBrain) -> None:
        super().__init__(conv, brain)
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self._events: asyncio.Task[None] | None = None  # takes them in order

    # -- running hooks and goals -----------------------------------------------------------

    async def _call(
        self, source: str, fn: Any, args: tuple[Any, ...], capture: bool = False
    ) -> list[Line] | None:
        """Run a hook; None when it failed (reported), else the lines it captured."""
        run = await self._run(source, fn, args, capture)
        return None if run is None else run.capture or []

    async def _run(self, source: str, fn: Any, args: tuple[Any, ...], capture: bool) -> Run | None:
        """Run a hook; None when it failed (reported), else how it ran."""
        try:
            return await call(
                fn, args, source=source, timeout_s=self.scripts.options.timeout_s,
                pool=self.scripts.pool, capture=capture,
            )
        except ScriptError as e:
            self.report(e)
            return None

    def _passes(self, where: Any, event: Event, source: str) -> bool:
        if where is None:
            return True
        try:
            return bool(where(event))
        except Exception as e:
            self.report(ScriptError(where_of(e, source), f"where: {type(e).__name__}: {e}"))
            return False

    async def _fire(self, goal: Goal, npc: str, trigger: Trigger, capture: bool) -> list[Line]:
        """Do what a goal does (it was taken: `book.take`); captured or queued lines."""
        if goal.say:
            lines = [Line(npc, text=random.choice(goal.say))]
        elif goal.prompt:
            lines = [Line(npc, instruction=goal.prompt)]
        else:
            run = await self._run(goal.source, goal.fn, (self.handle(npc), trigger), capture)
            if run is not None and run.result is False:  # "not now": nothing is spent
                self.book.give_back(goal, npc, self.player)
                log.info("%s: goal '%s' passed (%s)", npc, goal.name, trigger.kind)
                return []
            lines = (run.capture if run is not None else None) or []
        log.info("%s: goal '%s' fired (%s)", npc, goal.name, trigger.kind)
        if not capture:
            for line in lines:
                self.queue_line(line)
            return []
        return lines

    def event(self, msg: GameEvent) -> None:
        """A game event reached this conversation: its hooks and goals run after those of
        the events before it (what one hook changes, the next event sees)."""
        event = Event(
            msg.name, dict(msg.payload), session=msg.session,
            npcs=tuple(msg.npcs), players=tuple(msg.players),
        )
        self.events.put_nowait(event)
        if self._events is None:
            self._events = asyncio.ensure_future(self._take_events())
            self.tasks.add(self._events)

    async def _take_events(self) -> None:
        while True:
            event = await self.events.get()
            try:
                await self._event(event)
            except Exception:  # the memory, say: the next event is still heard
                log.exception("%s: scripts on event %s failed", self.session, event.name)

    async def _event(self, event: Event) -> None:
        current = self.scripts.current
        for npc in self.present:
            if event.npcs and npc not in event.npcs:
                continue
            for hook in current.hooks_for(EVENT, npc):
                if hook.event in ("*", event.name) and self._passes(hook.where, event, hook.source):
                    await self._call(hook.source, hook.fn, (self.handle(npc), event))
            for goal in current.goals_for(npc):
                when = goal.when
                if not isinstance(when, Event) or when.name not in ("*", event.name):
                    continue
                if self._passes(when.where, event, goal.source) and self.book.take(
                    goal, npc, self.player
                ):
                    await self._fire(goal, npc, Trigger("event", goal.name, event), False)

    async def idle(self, idle_s: float) -> bool:
        """Nobody has spoken for `idle_s`: fire the first ready Idle goal due; True if one did."""
        for npc in self.present:
            for goal in self.scripts.current.goals_for(npc):
                due = isinstance(goal.when, Idle) and goal.when.after_s <= idle_s
                if due and self.book.take(goal, npc, self.player):
                    await self._fire(goal, npc, Trigger("idle", goal.name), False)
                    return True
        return False

    async def plain(self, npc: str, text: str) -> Plan | None:
        """The plan `before` would make for `npc`'s turn on `text` when no script can
        change that turn (no before_turn hook, no intent goal ready, no after_turn hook
        holding its line); None when one might. Changes nothing: a turn may be begun ahead
        on it (npc/mind/ahead.py)."""
        current = self.scripts.current
        intents = any(
            isinstance(g.when, Intent) and self.book.ready(g, npc, self.player)
            for g in current.goals_for(npc)
        )
        if current.hooks_for(BEFORE, npc) or intents or self.holds(npc):
            return None
        return Plan(await self._turn(npc, text))

    async def _turn(self, npc: str, text: str) -> Turn:
        notes = await asyncio.to_thread(self.notes, npc)
        return Turn(npc, self.player, text, [f"You remember: {n}" for n in notes])

    async def before(self, npc: str, text: str, player: str = "") -> Plan:
        """before_turn hooks, then intent goals, on `player`'s line ("": the session's)."""
        turn_player.set(player if player != self.conv.info.player else "")
        turn = await self._turn(npc, text)
        for hook in self.scripts.current.hooks_for(BEFORE, npc):
            trial = _copy(turn)
            if await self._call(hook.source, hook.fn, (self.handle(npc), trial)) is not None:
                turn = trial  # a failed hook: the turn goes on as if it were not there
        plan = Plan(turn)
        if turn.fixed is not None:
            plan.lines = [Line(npc, text=turn.fixed, emotion=turn.fixed_emotion)]
            return plan
        goal, score = await self._intent(npc, turn.text)
        if goal is None:
            return plan
        log.info("%s: intent of '%s' matched (%.2f): %r", npc, goal.name, score, turn.text)
        if goal.prompt and not goal.say:
            plan.instruction = goal.prompt
            return plan
        trigger = Trigger("intent", goal.name, text=turn.text, score=score)
        plan.lines = await self._fire(goal, npc, trigger, capture=True)
        return plan

    async def _intent(self, npc: str, text: str) -> tuple[Goal | None, float]:
        goals = [
            g for g in self.scripts.current.goals_for(npc)
            if isinstance(g.when, Intent) and self.book.ready(g, npc, self.player)
        ]
        if not goals:
            return None, 0.0
        phrases = [g.when.phrases for g in goals if isinstance(g.when, Intent)]
        text = _unnamed(text, self.conv.file(npc).name)
        scores = await asyncio.to_thread(self.brain.intents.scores, text, phrases)
        default = self.scripts.options.intent_threshold
        best: tuple[Goal | None, float] = (None, 0.0)
        for goal, score in zip(goals, scores, strict=True):
            assert isinstance(goal.when, Intent)
            threshold = goal.when.threshold if goal.when.threshold is not None else default
            if score >= threshold and score > best[1]:
                best = (goal, score)
        if best[0] is not None and not self.book.take(best[0], npc, self.player):
            return None, 0.0
        return best

    def holds(self, npc: str) -> bool:
        """Whether an after_turn hook holds this NPC's lines until it has seen them."""
        return any(h.hold for h in self.scripts.current.hooks_for(AFTER, npc))

    async def review(self, npc: NpcFile, text: str, reply: Reply) -> Reply:
        """after_turn hooks on the complete reply: a held line is said now (or its
        replacement), a vetoed action is taken out of the reply."""
        conv = self.conv
        held, conv.holding = conv.holding, False
        line = conv.said.pop() if held and conv.said else reply.say
        if not self.scripts.current.hooks_for(AFTER, npc.id) and not held:
            return reply
        turn = Turn(npc.id, self.player, text, say=line, emotion=reply.emotion,
                    action=reply.action, arguments=dict(reply.arguments))
        turn = await self.after(turn)
        if held:
            if reply.emotion and conv.speaker is not None:
                conv.speaker.emotion(reply.emotion)
            say = line if turn.replacement is None else turn.replacement
            if say.strip():
                conv._say(say.strip())
        elif turn.replacement is not None:
            log.warning("%s: veto(say=...) needs after_turn(hold=True); the line was said", npc.id)
        if turn.vetoed is not None and reply.action:
            log.info("%s: action %s vetoed by a script: %s", npc.id, reply.action, turn.vetoed)
            await asyncio.to_thread(
                self.brain.memory.add_turn, npc.id, self.player, "action",
                f"{reply.action} not done: {turn.vetoed}", session=self.session,
            )
            return dataclasses.replace(reply, action="", arguments={})
        return reply

    async def after(self, turn: Turn) -> Turn:
        """after_turn hooks on the complete reply; a failed one changes nothing."""
        for hook in self.scripts.current.hooks_for(AFTER, turn.npc):
            trial = _copy(turn)
            if await self._call(hook.source, hook.fn, (self.handle(turn.npc), trial)) is not None:
                turn = trial
        return turn

    async def close(self) -> None:
        tasks = [*self.tasks, *self.proactive.tasks()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _copy(turn: Turn) -> Turn:
    """A copy for one hook: what a failed or late hook did to it is dropped with it."""
    return dataclasses.replace(turn, facts=list(turn.facts), arguments=dict(turn.arguments))


def _unnamed(text: str, name: str) -> str:
    """The line without the words of the NPC's name: "Brakka, what's wrong with the
    reactor?" asks what "what's wrong with the reactor?" asks (the name alone moved the
    line's similarity to the intent from 0.93 to 0.55)."""
    words = {w.lower() for w in re.findall(r"\w+", name)}
    kept = [w for w in re.split(r"(\W+)", text) if w.lower() not in words]
    return "".join(kept).strip(" ,.!?") or text
