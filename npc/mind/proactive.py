"""Proactive speech: lines scripts start wait for a quiet moment; idle goals fire on silence.

A queued line (or banter) starts only when no player of the session is speaking and no
turn is in flight or playing; it waits at most `wait_s`, then it is dropped and logged.
A player speaking over a proactive line is an ordinary barge-in. The same loop watches
for silence: when nobody has spoken for an Idle goal's `after_s`, the goal fires.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.errors import BackendError, BridgeError
from bridge.messages import DialogueFinal, Error
from npc import steer
from npc.designer.persona import NpcFile
from npc.llm.base import ChatMessage, LlmRequest
from npc.mind import prompt
from npc.mind.reply import SAY_CHARS, is_refusal, reply_schema
from npc.script.handle import Line
from npc.script.runner import ScriptError
from npc.script.types import Idle

if TYPE_CHECKING:
    from npc.mind.conversation import MindConversation
    from npc.mind.script_host import ScriptHost

log = logging.getLogger("npc_bridge.script")

TICK_S = 0.05  # how often a waiting line looks again; idle time is measured on this too
# A script's instruction goes to the model in parentheses, after two examples of such a
# cue answered in character. Asked plainly, the 0.5B model read the instruction back
# ("The mech's left arm is down to 40 percent. React in one short line...") or introduced
# itself; after these it said "The spare parts cost 450 credits, or 300 for a rebuilt one"
# (the quartermaster, with her lore) for a damaged arm.
REFUSAL_ATTEMPTS = 2  # a scripted line that comes out as a refusal is made once more
OWN_WORDS = "Say only your own words, not this note."  # the model read notes back less
CUES = (
    ("(A crate falls off a loader behind you. React in one short line.)",
     "Watch it! Those crates don't stack themselves."),
    ("(A pilot's mech limps in, its right leg at 60 percent. React in one short line, "
     "thinking of the repair.)",
     "Sixty percent? That leg is walking on luck, kid."),
)

@dataclass(frozen=True, slots=True)
class Banter:
    npcs: list[str]
    about: str
    lines: int
    source: str  # "file:line" of the script's call, for reports


class Proactive:
    """One conversation's queue of script lines and its watch for silence."""

    def __init__(self, conv: MindConversation, side: ScriptHost, wait_s: float) -> None:
        self.conv, self.side, self.wait_s = conv, side, wait_s
        self.queue: collections.deque[tuple[Line | Banter, float]] = collections.deque()
        self.quiet_since = time.monotonic()
        self._task = asyncio.ensure_future(self._run())

    def tasks(self) -> list[asyncio.Task[None]]:
        return [self._task]

    def put(self, line: Line) -> None:
        self.queue.append((line, time.monotonic() + self.wait_s))

    def put_banter(self, npcs: list[str], about: str, lines: int, source: str) -> None:
        self.queue.append((Banter(npcs, about, lines, source), time.monotonic() + self.wait_s))

    def busy(self) -> bool:
        """A player is speaking, a turn is in flight or its audio still playing, or NPCs
        are bantering."""
        conv = self.conv
        return conv.player_speaking() or conv.npc_speaking() or conv.scene_running()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self._tick()
            except Exception:  # a failing store or turn must not end the session's scripts
                log.exception("%s: proactive speech failed", self.conv.info.session)

    async def _tick(self) -> None:
        now = time.monotonic()
        if self.busy():
            self.quiet_since = now
            while self.queue and self.queue[0][1] < now:
                item, _ = self.queue.popleft()
                log.warning("%s: a script's line waited %.1f s for the player and was "
                            "dropped: %s", self.conv.info.session, self.wait_s, item)
            return
        if self.queue:
            item, _ = self.queue.popleft()
            self.quiet_since = now
            self._start(item)
        elif self._has_idle_goals() and await self.side.idle(now - self.quiet_since):
            self.quiet_since = time.monotonic()

    def _has_idle_goals(self) -> bool:
        return any(isinstance(g.when, Idle) for g in self.side.scripts.current.goals)

    def _start(self, item: Line | Banter) -> None:
        conv = self.conv
        if isinstance(item, Banter):
            try:
                conv.banter(item.npcs, item.about, item.lines)
            except BridgeError as e:  # NPCs not in the session, too few lines...
                self.side.report(ScriptError(item.source, f"banter: {e.reason}"))
            return
        conv.start(conv.line(item.npc, item.text or None, item.instruction or None,
                             item.emotion), npc=item.npc, cause="script")


async def say_lines(conv: MindConversation, npc: NpcFile, lines: list[Line]) -> None:
    """Say script lines in the turn in flight: as written, or made following an instruction."""
    for line in lines:
        if line.text:
            if line.emotion and conv.speaker is not None:
                conv.speaker.emotion(line.emotion)
            conv._say(line.text)
            continue
        context = await asyncio.to_thread(conv._recall, npc, line.instruction)
        attrs = conv.attributes()
        face = conv.speaker is not None and conv.speaker.face is not None
        schema = reply_schema({}, SAY_CHARS[min(attrs["verbosity"], 1)], emotion=face)
        cue = f"({line.instruction.strip()} {OWN_WORDS})"
        request = conv.brain.request(npc, {}, context, cue, attrs, schema)
        if request.messages:  # a chat model: the cue after examples of cues
            request = dataclasses.replace(request, messages=cue_messages(npc, context, cue, attrs))
        await _made_line(conv, npc, request)


async def _made_line(
    conv: MindConversation, npc: NpcFile, request: LlmRequest
) -> None:
    """A line the model makes on a script's cue, written whole before it is said: one
    that is an assistant's refusal is written once more, hotter, then dropped unsaid."""
    for attempt in range(REFUSAL_ATTEMPTS):
        conv.holding = True
        try:
            hotter = request.decoding.hotter(attempt)
            reply = await conv._generate(dataclasses.replace(request, decoding=hotter), {})
        except BackendError as e:
            conv.out.send(Error.of(e, session=conv.info.session, stage="llm"))
            return
        finally:
            conv.holding = False
        text = conv.said.pop() if conv.said else ""
        if text and not is_refusal(text):
            if reply.emotion and conv.speaker is not None:
                conv.speaker.emotion(reply.emotion)
            conv._say(text)
            return
        log.info("%s: %s's scripted line was a refusal (%r)%s", conv.info.session, npc.id,
                 text, "; again, hotter" if attempt + 1 < REFUSAL_ATTEMPTS else "; dropped")


def cue_messages(
    npc: NpcFile, context: prompt.Context, cue: str, attrs: dict[str, int]
) -> tuple[ChatMessage, ...]:
    """The chat for a line the NPC says on a script's cue: persona, example cues, recent
    history, then what it knows (lore, feelings), how to speak, and the cue."""
    messages = [ChatMessage("system", prompt.system_prompt(npc, {}))]
    for asked, said in CUES:
        messages += [ChatMessage("user", asked), ChatMessage("assistant", prompt.reply_json(said))]
    for role, text in prompt.history_turns(context.history):
        messages.append(ChatMessage("user" if role == "User" else "assistant", text))
    known = dataclasses.replace(context, summary="", history=())
    notes = prompt.player_turn(known, "", steer.instructions(attrs)).rpartition("\n\n")[0]
    messages.append(ChatMessage("user", f"{notes}\n\n{cue}" if notes else cue))
    return tuple(messages)


async def speak(conv: MindConversation, line: Line) -> None:
    """A turn of the NPC's own: a script's line, spoken with its voice and face."""
    b = conv.brain
    npc = conv.npcs.get(line.npc) or conv.npc
    b.quiet()
    conv.said = []
    conv.speaker = b.speaker(conv, npc)
    await say_lines(conv, npc, [line])
    conv.out.send(
        DialogueFinal(session=conv.info.session, turn=conv.turn, text=" ".join(conv.said))
    )
    if conv.speaker is not None:
        await conv.speaker.finish()
        conv.trace.mark("spoken")
    said = " ".join(conv.said)
    if said:
        conv.group.said(npc.id, said, conv.info.player)  # the next answer sees it
        await asyncio.to_thread(
            b.memory.add_turn, npc.id, conv.info.player, "npc", said,
            session=conv.info.session, meta={"turn": conv.turn, "cause": "script"},
        )
