"""What a turn reads from memory and writes to it: the context of a line, the NPC's line kept.

The context is the lore in the NPC's scope that the line needs, its rolling summary,
relationship and recent turns with the player, and in a group session the session's lines
with who said them.
What the NPC said is stored per (NPC, player), with the steering it was said with, and
written to the SteerLM training log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from npc.designer.persona import NpcFile
from npc.mind import acting, prompt
from npc.mind.reply import Reply
from npc.rag import relevance

if TYPE_CHECKING:
    from npc.mind.brain import MindBrain
    from npc.mind.conversation import MindConversation


def context(
    conv: MindConversation,
    npc: NpcFile,
    text: str,
    player: str,
    actions: Collection[str] = (),
) -> prompt.Context:
    """What `npc` knows for `player`'s line `text`: lore in its scope and its memory of the
    player; in a group session also what was just said in it, and by whom.

    A line that asks for one of `actions` (the reply's; acting.asks_for) gets no lore
    unless `[brain] request_lore` is on: "Paint my mech red." drew the paint prices, 100
    tokens evaluated before the NPC's first word, and the model then quoted a price
    instead of painting more often (docs/latency.md)."""
    b = conv.brain
    asked = "" if b.options.request_lore else acting.asks_for(text, actions)
    found = [] if asked else lore_for(b, text, npc.knowledge)
    known = dataclasses.replace(
        remembered(b, npc, player), lore=[p.text for p in found],
        lore_parts=[(p.chunk.title, *p.sentences) for p in found],
    )
    if not conv.group.grouped:
        return known
    # This session's lines come attributed from the group; memory adds earlier visits.
    return dataclasses.replace(
        known,
        history=[h for h in known.history if h.session != conv.info.session],
        group=conv.group.recent(max(8, b.options.history_turns)),
        present=conv.group.present(npc.id, player),
        player_name=player,
    )


def remembered(b: MindBrain, npc: NpcFile, player: str) -> prompt.Context:
    """What `npc` remembers of `player`: the summary, its feelings and the recent turns."""
    return prompt.Context(
        summary=b.memory.summary(npc.id, player).text,
        relationship=b.memory.relationship(npc.id, player),
        history=b.memory.since_summary(npc.id, player)[-b.options.history_turns :],
    )


def lore_for(b: MindBrain, text: str, tags: Collection[str]) -> list[relevance.Passage]:
    """The lore the line `text` needs: the chunks in scope that match it well enough, cut
    to their sentences that match (npc/rag/relevance.py); none for small talk."""
    if b.index is None:
        return []
    o = b.options
    return relevance.relevant(
        b.index, text, tags, o.lore_k, min_score=o.lore_min_score, words=o.lore_words
    )


def remember(
    conv: MindConversation,
    npc: NpcFile,
    attrs: dict[str, int],
    context: prompt.Context,
    text: str,
    reply: Reply | None,
    *,
    outcome: acting.Outcome | None = None,
    interrupted: bool = False,
    player: str = "",
) -> None:
    """Store the NPC's line (what was actually said) and log it as SteerLM data."""
    player = player or conv.info.player
    line = " ".join(s for s in [*conv.said, conv.streaming.strip()] if s)
    if not line:
        return
    conv.group.said(npc.id, line, player)
    meta: dict[str, Any] = {"turn": conv.turn}
    if reply is not None and reply.action:
        meta.update(action=reply.action, arguments=reply.arguments)
    if outcome is not None:
        meta["outcome"] = outcome.describe()
    if interrupted:
        meta["interrupted"] = True
    b = conv.brain
    b.memory.add_turn(
        npc.id, player, "npc", line, session=conv.info.session,
        attributes=attrs, meta=meta,
    )
    if b.steer_log is not None and not interrupted:
        turns = prompt.history_turns(context.history)
        system = prompt.system_prompt(npc, {})
        b.steer_log.write(system, [*turns, ("User", text)], line, attrs)
