"""Banter: NPCs of one session talk with each other, in turn, until it ends by itself.

A scene is a queue of turns: each NPC in order says one line (its own voice, face and
persona), made with the exchange so far in its prompt. It ends after its `lines`, or
earlier when a line says the talk is done; a player who speaks or types joins: the
scene stops at once and the NPC they address answers (npc/talking.py `joined`). The
prompt of a banter line is short on purpose (persona, the topic, the lines so far; no
actions, no examples): every line is a fresh prompt and its first words are waited for.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from bridge import errors
from bridge.errors import BackendError, ProtocolError
from bridge.messages import DialogueFinal, Error
from npc.designer.persona import NpcFile
from npc.llm.base import ChatMessage, Decoding, LlmRequest
from npc.mind.reply import SAY_CHARS, reply_schema
from npc.roster import session_npcs

if TYPE_CHECKING:
    from npc.mind.conversation import MindConversation

log = logging.getLogger("npc_bridge.mind")

TICK_S = 0.05  # how often a scene waiting for quiet looks again
MIN_LINES = 2  # a banter is an exchange: "done" counts from the second line on
MAX_LINES = 12
MAX_TOKENS = 96

RULES = (
    "You are talking with {others}, not with a player. Say your next line to them: one "
    "or two short spoken sentences, in character, no lists, no stage directions. Reply "
    'with JSON: {{"say": "<your words>", "done": <true when the talk has come to its '
    'end, else false>}}.'
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
    playing), runs as a turn of its own, and the scene stops when a turn does not end
    done (a player joined, the engine cancelled)."""
    for i in range(lines):
        await _quiet(conv)
        npc = order[i % len(order)]
        result: dict[str, bool] = {}
        conv.start(functools.partial(line, conv, npc, order, about, result), npc=npc,
                   cause="banter")
        task = conv.task
        assert task is not None
        await asyncio.wait({task})  # wait, but leave the turn alone if the scene is stopped
        if task.cancelled() or "said" not in result:
            return
        if result.get("done") and i + 1 >= MIN_LINES:
            log.info("%s: banter ended by %s after %d lines", conv.info.session, npc, i + 1)
            return


async def _quiet(conv: MindConversation) -> None:
    """Until no player is mid-utterance and no NPC is talking or still being played."""
    # Polled: hearing and playback have no events to wait on, and a tick is far below
    # the gap a listener notices between two lines.
    while conv.player_speaking() or conv.npc_speaking():  # noqa: ASYNC110
        await asyncio.sleep(TICK_S)


async def line(
    conv: MindConversation, npc_id: str, order: list[str], about: str, result: dict[str, bool]
) -> None:
    """One banter turn: `npc_id` says its next line, streamed, spoken, and kept."""
    b, npc = conv.brain, conv.file(npc_id)
    began = time.perf_counter()
    b.quiet()
    conv.said = []
    conv.speaker = b.speaker(conv, npc)
    request = _request(conv, npc, [conv.file(n).name for n in order if n != npc_id], about)
    try:
        await conv._generate(request, {}, began)
    except BackendError as e:
        conv.out.send(Error.of(e, session=conv.info.session, stage="llm"))
    said = " ".join(conv.said)
    conv.out.send(DialogueFinal(session=conv.info.session, turn=conv.turn, text=said))
    if conv.speaker is not None:
        await conv.speaker.finish()
    if said:
        conv.group.said(npc_id, said)
        result["said"] = True
        result["done"] = _done(conv.last_raw)


def _request(conv: MindConversation, npc: NpcFile, others: list[str], about: str) -> LlmRequest:
    system = f"{npc.persona.strip()}\n\n{RULES.format(others=' and '.join(others))}"
    so_far = conv.group.recent()
    ask = f"You talk about: {about}."
    if so_far:
        ask += "\n\nSo far:\n" + "\n".join(f"{who}: {text}" for who, text in so_far)
        ask += f"\n\nYour next line, {npc.name}:"
    else:
        ask += f"\n\nYou begin, {npc.name}: your first line to {' and '.join(others)}."
    face = conv.speaker is not None and conv.speaker.face is not None
    schema: dict[str, Any] = reply_schema({}, SAY_CHARS[1], emotion=face)
    schema["properties"]["done"] = {"type": "boolean"}
    schema["required"] = [*schema["required"], "done"]
    o = conv.brain.options
    decoding = Decoding(max_tokens=MAX_TOKENS, temperature=o.temperature, seed=o.seed)
    messages = (ChatMessage("system", system), ChatMessage("user", ask))
    return LlmRequest(messages, schema=schema, decoding=decoding)


def _done(raw: str) -> bool:
    """The line's "done" flag; a reply that cannot be read is not an ending."""
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("done") is True
