"""Banter: NPCs of one session talk with each other, in turn, until it ends by itself.

A scene is a queue of lines: each NPC in order writes one line (its own persona, with the
exchange so far) and says it as a turn of its own (its voice and face). A line is written
whole before it is said, so one that only repeats what was said ends the scene unsaid
(the 0.5B model runs dry that way). It ends after its `lines`, or earlier when a line says
the talk is done; a player who speaks or types joins: the scene stops at once and the NPC
they address answers (npc/talking.py `joined`). The prompt is short (persona, rules, a
tiny example exchange, the lines so far; no actions, no NPC examples).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from bridge import errors
from bridge.errors import BackendError, ProtocolError
from bridge.messages import DialogueFinal
from bridge.messages.dialogue import EMOTIONS
from npc.designer.persona import NpcFile
from npc.llm.base import ChatMessage, Decoding, LlmRequest
from npc.mind import prompt
from npc.mind.reply import SAY_CHARS, is_refusal, reply_schema
from npc.roster import session_npcs

if TYPE_CHECKING:
    from npc.mind.conversation import MindConversation

log = logging.getLogger("npc_bridge.mind")

TICK_S = 0.05  # how often a scene waiting for quiet looks again
MIN_LINES = 2  # a banter is an exchange: "done" counts from the second line on
MAX_LINES = 12
MAX_TOKENS = 96
ATTEMPTS = 3  # a line that only repeats is written again, hotter each time, before the end
REPEAT_PENALTY = 1.3  # the lines so far are in the prompt: saying them again costs more

RULES = (
    "You are talking with {others}, not with a player. Say your next line to them: one "
    "or two short spoken sentences, in character, no lists, no stage directions. Reply "
    'with JSON: {{"say": "<your words>", "done": <true when the talk has come to its '
    'end, else false>}}.'
)
# A small example exchange before the real one. Without it the 0.5B model answered a banter
# cue as an assistant ("I'm sorry, but I don't have a record of the last wrench...") and
# then repeated the other NPC's line back, line after line.
EXAMPLE = (
    ("(You are with a fellow worker. Start talking about: the broken coffee machine.)",
     "Who broke the coffee machine again? It only makes sludge now.", False),
    ("Worker: Not me. I drink tea.", "Tea drinkers always say that. The filter is full of "
     "tea leaves.", False),
    ("Worker: Fine, I will fix the machine myself. Enough talk.",
     "Good. And wipe the nozzle this time.", True),
)


def check(conv: MindConversation, npcs: list[str], lines: int) -> list[str]:
    """The speakers of a banter in order; a ProtocolError for ids not in the session."""
    order = session_npcs(npcs[0], npcs[1:], list(conv.npcs), " in this session") if npcs else []
    if len(order) < 2:
        raise ProtocolError("a banter needs two different NPCs of the session",
                            code=errors.BAD_FIELD)
    if not 1 <= lines <= MAX_LINES:
        raise ProtocolError(f"a banter has 1-{MAX_LINES} lines, not {lines}",
                            code=errors.BAD_FIELD)
    return order


async def run(conv: MindConversation, order: list[str], about: str, lines: int) -> None:
    """The scene: each line waits for quiet (no player mid-utterance, no NPC audio still
    playing), is written, then said as a turn of its own. It ends after `lines`, at a line
    that says it is done (from the second on), at one that only repeats an earlier line
    (not said: the talk has run dry), or when a turn does not end done (a player joined,
    the engine cancelled)."""
    said: list[str] = []
    for i in range(lines):
        await _quiet(conv)
        npc = order[i % len(order)]
        others = [conv.file(n).name for n in order if n != npc]
        for attempt in range(ATTEMPTS):
            text, emotion, done = await _write(conv, conv.file(npc), others, about, attempt)
            if text and not _repeats(text, said) and not is_refusal(text):
                break
        if not text or _repeats(text, said) or is_refusal(text):
            log.info("%s: banter ended after %d lines (%s had nothing new)",
                     conv.info.session, i, npc)
            return
        said.append(text)
        await _quiet(conv)  # a player may have begun while it was written: they go first
        conv.start(functools.partial(_say, conv, npc, text, emotion), npc=npc, cause="banter")
        task = conv.task
        assert task is not None
        await asyncio.wait({task})  # wait, but leave the turn alone if the scene is stopped
        if task.cancelled():
            return
        if done and i + 1 >= MIN_LINES:
            log.info("%s: banter ended by %s after %d lines", conv.info.session, npc, i + 1)
            return


async def _quiet(conv: MindConversation) -> None:
    """Until no player is mid-utterance and no NPC is talking or still being played."""
    # Polled: hearing and playback have no events to wait on, and a tick is far below
    # the gap a listener notices between two lines.
    while conv.player_speaking() or conv.npc_speaking():  # noqa: ASYNC110
        await asyncio.sleep(TICK_S)


async def _write(
    conv: MindConversation, npc: NpcFile, others: list[str], about: str, attempt: int
) -> tuple[str, str, bool]:
    """The NPC's next line, whole (so that a repeat is caught before it is said): its
    text ("" when the model failed), emotion and whether it ends the talk."""
    conv.brain.quiet()
    try:
        raw = await conv.brain.llm.complete(_request(conv, npc, others, about, attempt))
        data = json.loads(raw)
    except (BackendError, ValueError) as e:
        log.warning("%s: a banter line of %s failed: %s", conv.info.session, npc.id, e)
        return "", "", True
    if not isinstance(data, dict) or not isinstance(data.get("say"), str):
        return "", "", True
    return data["say"].strip(), str(data.get("emotion", "")), data.get("done") is True


def _repeats(text: str, said: list[str]) -> bool:
    """The line says again what this banter (or its example) already said."""
    words = _words(text)
    earlier = [*said, *(line for _, line, _ in EXAMPLE)]
    return any(words == _words(s) or (words and words <= _words(s)) for s in earlier)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


async def _say(conv: MindConversation, npc_id: str, text: str, emotion: str) -> None:
    """One banter turn: `npc_id` says its line, with its voice and face, and it is kept."""
    npc = conv.file(npc_id)
    conv.said = []
    conv.speaker = conv.brain.speaker(conv, npc)
    if emotion in EMOTIONS and conv.speaker is not None:
        conv.speaker.emotion(emotion)
    conv._say(text)
    conv.out.send(DialogueFinal(session=conv.info.session, turn=conv.turn, text=text))
    if conv.speaker is not None:
        await conv.speaker.finish()
    conv.group.said(npc_id, text)


def _request(
    conv: MindConversation, npc: NpcFile, others: list[str], about: str, attempt: int = 0
) -> LlmRequest:
    """The line's chat: persona and rules, the example exchange, then this one so far (the
    others' lines as the user's, attributed; its own as its replies). A second attempt
    samples hotter, with another seed."""
    them = " and ".join(others)
    messages = [ChatMessage("system", f"{npc.persona.strip()}\n\n{RULES.format(others=them)}")]
    for cue, said, done in EXAMPLE:
        messages += [ChatMessage("user", cue), ChatMessage("assistant", _line(said, done))]
    turns = [("User", f"(You are with {them}. Start talking about: {about}.)")]
    for who, text in conv.group.recent():
        turns.append(("Assistant", _line(text)) if who == npc.name else ("User", f"{who}: {text}"))
    if turns[-1][0] == "Assistant":
        turns.append(("User", f"(Your next line to {them}.)"))
    messages += [ChatMessage("user" if r == "User" else "assistant", t)
                 for r, t in prompt.merged(turns)]
    voices = conv.brain.voices
    face = voices is not None and voices.options.face
    schema: dict[str, Any] = reply_schema({}, SAY_CHARS[1], emotion=face)
    schema["properties"]["done"] = {"type": "boolean"}
    schema["required"] = [*schema["required"], "done"]
    o = conv.brain.options
    decoding = Decoding(max_tokens=MAX_TOKENS, temperature=o.temperature, seed=o.seed,
                        repeat_penalty=REPEAT_PENALTY).hotter(attempt)
    return LlmRequest(tuple(messages), schema=schema, decoding=decoding)


def _line(say: str, done: bool = False) -> str:
    return json.dumps({"say": say, "done": done}, ensure_ascii=False)
