"""Speculative prefill: while the player is still talking, the model reads the turn's prompt.

Most of a turn's first-token wait is the model evaluating the prompt's new part: the lore
found for the line, the history since last time, the line itself (docs/latency.md). Each
partial transcript (the player still speaking) is enough to find the lore and build that
prompt, so the model evaluates it then; when the final transcript comes, the real prompt
shares all of it up to where the words differ, and only the rest is evaluated on the hot
path. A newer partial cancels the warm in flight (between 32-token steps) and starts over
from what is already evaluated. Nothing is said or sent: a wrong guess costs CPU only.

After each turn the next turn's prompt head (persona, examples, the history with this
turn in it, and the start of the last message: summary, steer instructions, feelings) is
evaluated too, while the player listens: the next turn, typed or spoken, then evaluates
only the lore its line needs (none for small talk) and the line.

Never while the NPC is speaking (its own generation has the model, and the partials then
decide barge-in), nor while another session's turn runs (a guess must not delay a real
turn), never in a group session, and only when `[brain] speculate = true`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from npc.llm.base import LlmRequest
from npc.mind import acting, prompt, recall

if TYPE_CHECKING:
    from npc.designer.persona import NpcFile
    from npc.mind.conversation import MindConversation

log = logging.getLogger("npc_bridge.mind")


def others_turn(conv: MindConversation) -> bool:
    """Another session's turn is running: the model is its, not a guess's."""
    return any(
        c is not conv and c.task is not None and not c.task.done()
        for c in conv.brain.conversations
    )


class Prefill:
    """One session's speculative prefill: `partial` on each partial transcript."""

    def __init__(self, conv: MindConversation) -> None:
        self.conv = conv
        self.task: asyncio.Task[None] | None = None
        self.cancel = threading.Event()

    def partial(self, text: str, player: str) -> None:
        conv = self.conv
        if not text.strip() or conv.npc_speaking() or conv.group.grouped or others_turn(conv):
            return
        self.stop()
        self.cancel = threading.Event()
        self.task = asyncio.ensure_future(self._warm(text, player, self.cancel))

    def stop(self) -> None:
        """The turn starts (or the session closes): a warm still running gives way."""
        self.cancel.set()

    def after_turn(self, npc: NpcFile, player: str, then: Callable[[], None]) -> None:
        """The turn is over: evaluate the head the next turn's prompt will start with, then
        call `then` (the brain's work after a turn, which would otherwise take the model
        first), unless the next turn began meanwhile."""
        if self.conv.group.grouped or others_turn(self.conv):
            then()
            return
        self.stop()
        self.cancel = threading.Event()
        self.task = asyncio.ensure_future(self._warm_head(npc, player, self.cancel, then))

    async def _warm_head(
        self, npc: NpcFile, player: str, cancel: threading.Event, then: Callable[[], None]
    ) -> None:
        conv, b = self.conv, self.conv.brain
        actions = acting.available(npc, b.designs.actions, conv.info.actions)
        try:
            if not b.llm.capabilities.steerlm:  # a raw SteerLM prompt has no message to cut at
                context = await asyncio.to_thread(recall.remembered, b, npc, player)
                head = prompt.chat_head(npc, actions, context, conv.attributes(npc))
                await asyncio.to_thread(b.llm.warm, LlmRequest(head), cancel)
        except Exception as e:  # an optimisation: the turn itself reports real failures
            log.warning("%s: warming the next prompt head failed: %s", npc.id, e)
        if not cancel.is_set():
            then()

    async def _warm(self, text: str, player: str, cancel: threading.Event) -> None:
        conv = self.conv
        b, npc = conv.brain, conv.npc
        b.quiet()  # the player is talking: background work would only be in the way
        actions = acting.available(npc, b.designs.actions, conv.info.actions)
        try:
            context = await asyncio.to_thread(conv._recall, npc, text, player, actions)
            if cancel.is_set():
                return
            request = b.request(npc, actions, context, text, conv.attributes(npc), {})
            warm = LlmRequest(request.messages, request.prompt, segments=request.segments)
            await asyncio.to_thread(b.llm.warm, warm, cancel)
        except Exception as e:  # an optimisation: the turn itself reports real failures
            log.warning("%s: speculative prefill failed: %s", npc.id, e)
