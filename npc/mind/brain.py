"""MindBrain: NPCs that think. Designer files, an LLM, lore retrieval, memory and steering.

It owns what every session shares: the designer files (reloaded while it runs), one LLM,
the lore index, the memory database and the SteerLM training log. Each session is a
MindConversation (npc/mind/conversation.py).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import BridgeError
from bridge.messages import Error, GameEvent
from bridge.seam import Brain, Opened, Outbox, SessionInfo
from npc import steer
from npc.designer.persona import NpcFile
from npc.designer.reload import Designs, Reload
from npc.ears import Ears
from npc.llm.base import Decoding, Llm, LlmRequest
from npc.llm.segments import Head, Run
from npc.memory import Memory
from npc.mind import prompt
from npc.mind.acting import available
from npc.mind.conversation import MindConversation
from npc.mind.scripted import ScriptSide
from npc.rag import relevance
from npc.rag.index import Hit, LoreIndex
from npc.roster import session_npcs
from npc.script.intent import IntentMatcher
from npc.script.loader import ScriptReload, Scripts
from npc.script.runner import SCRIPT_ERROR
from npc.speaking import Speaker, Voices
from npc.steer import SteerLog
from npc.steer import decoding as steer_decoding

log = logging.getLogger("npc_bridge.mind")

SUMMARY_AFTER = 16  # turns past the summary before the oldest are folded into it
SUMMARY_KEEP = 6  # recent turns kept verbatim when folding
REGARD = "regard"  # the relationship value the player's words move
REGARD_STEP = dict(zip(prompt.FEELINGS, (5, 0, -5), strict=True))  # per player line


@dataclass(frozen=True, slots=True)
class MindOptions:
    """The [brain] table's settings for a MindBrain."""

    lore_k: int = 3  # lore chunks in each prompt, at most
    lore_min_score: float = relevance.MIN_SCORE  # a chunk only when its match reaches this
    lore_words: int = relevance.LORE_WORDS  # words of lore per turn: the best sentences
    # lore for a line that asks for one of the NPC's actions too (off: none, a quicker act)
    request_lore: bool = False
    history_turns: int = 6  # recent turns in each prompt
    action_timeout_s: float = 8.0  # how long an engine action may take
    reload_s: float = 1.0  # how often designer files are checked; 0: never
    max_tokens: int = 200  # a safety stop: the reply schema bounds the line's length
    temperature: float = 0.6
    seed: int | None = None
    cache_dir: Path | None = None  # the lore index cache
    # work ahead: prefill on partials, the reply begun at the pause (npc/mind/speculate.py,
    # ahead.py), the next prompt warmed after a turn
    speculate: bool = True


def progress(text: str) -> None:
    """Loading progress for the person starting the server."""
    print(f"npc-bridge: {text}", file=sys.stderr, flush=True)


class MindBrain(Brain):
    """The thinking brain. `llm` is a ready model or a function that loads one at start."""

    name = "mind"

    def __init__(
        self,
        designs: Designs,
        llm: Llm | Callable[[], Llm],
        memory: Memory,
        *,
        options: MindOptions | None = None,
        ears: Ears | None = None,
        steer_log: SteerLog | None = None,
        index: LoreIndex | None = None,
        voices: Voices | None = None,
        scripts: Scripts | None = None,
        own: bool = True,
    ) -> None:
        self.designs = designs
        self._llm = llm if isinstance(llm, Llm) else None
        self._load_llm = None if isinstance(llm, Llm) else llm
        self.memory = memory
        self.options = options or MindOptions()
        self.ears = ears
        self.steer_log = steer_log
        self.index = index
        self.voices = voices  # None: text only (no npc-audio, face or emotion)
        self.scripts = scripts  # the game's behaviour scripts (npc/script), if any
        self.intents = IntentMatcher(index.embedder if index is not None else None)
        self.conversations: set[MindConversation] = set()  # open ones, for game events
        self.own = own  # False: the LLM and ears outlive this brain (tests share them)
        self._tasks: set[asyncio.Task[None]] = set()
        # The heads whose lore the model is about to keep (`keep_npc_lore`), one head at a
        # time: sessions opening together wait here, not in worker threads.
        self._lore_pending: set[Head] = set()
        self._lore_lock = asyncio.Lock()
        self._watch: asyncio.Task[None] | None = None
        self._summary: asyncio.Task[None] | None = None  # the work after a turn
        self._judged: dict[tuple[str, str], int] = {}  # (npc, player): last line judged

    @property
    def llm(self) -> Llm:
        if self._llm is None:
            raise RuntimeError("MindBrain.start() has not loaded the LLM")
        return self._llm

    def npcs(self) -> list[str]:
        return list(self.designs.npcs)

    def capabilities(self) -> list[str]:
        hearing = ["asr", "vad"] if self.ears else []
        speaking = ["audio", "face", "emotion"] if self.voices else []
        return ["text", "actions", "steer", "lore", "memory", *speaking, *hearing]

    async def start(self) -> None:
        if self._llm is None and self._load_llm is not None:
            began = time.perf_counter()
            progress("loading the language model...")
            self._llm = await asyncio.to_thread(self._load_llm)
            took = time.perf_counter() - began
            progress(f"language model {self._llm.name} ready in {took:.1f} s")
        if self.voices is not None:
            await self.voices.start(list(self.designs.npcs.values()), progress)
        if self.index is None and self.designs.lore:
            await self._index_lore()
        await self._keep_lore()
        if self.options.reload_s > 0:
            self._watch = asyncio.ensure_future(
                self.designs.watch(self.options.reload_s, self._reloaded)
            )
            if self.scripts is not None:
                watch = self.scripts.watch(self.options.reload_s, self._scripts_reloaded)
                self._tasks.add(asyncio.ensure_future(watch))
        # Evaluate each NPC's stable prompt head now, so the first turn starts fast.
        await asyncio.to_thread(self._warm)

    async def _keep_lore(self) -> None:
        """Have the model keep the KV cells of every lore sentence (npc/llm/segments.py),
        so a turn's lore is not evaluated on its way to the NPC's first word."""
        if self.index is None or not self.llm.capabilities.segments:
            return
        began = time.perf_counter()
        runs = prompt.lore_runs([(c.title, relevance.told(c)) for c in self.index.chunks])
        try:
            kept = await asyncio.to_thread(self.llm.keep_segments, runs, progress)
        except Exception as e:  # an optimisation: turns then evaluate their lore
            log.warning("could not keep the lore in the model's memory: %s", e)
            return
        progress(f"lore in the model's memory ({kept} passages) in "
                 f"{time.perf_counter() - began:.1f} s")

    def npc_lore_runs(self, npc: NpcFile, actions: Mapping[str, dict[str, Any]]) -> list[Run]:
        """The lore `npc` may be told, as runs made after the head its prompts open with in
        a session with `actions`: spliced into its turns, they read closer to evaluated
        lore than the pieces made after no head (docs/llm.md)."""
        if self.index is None or not npc.knowledge:
            return []
        known = set(npc.knowledge)
        chunks = [(c.title, relevance.told(c)) for c in self.index.chunks if c.tags & known]
        return prompt.lore_runs(chunks, prompt.lore_head(npc, actions)) if chunks else []

    def keep_npc_lore(self, npc: NpcFile, actions: Mapping[str, dict[str, Any]]) -> None:
        """Have the model keep `npc`'s lore made after its head with `actions`: loaded from
        disk in a moment, or made once (about 15 s of the model for a sample game NPC, a
        run at a time)."""
        runs = self.npc_lore_runs(npc, actions)
        try:
            kept = self.llm.keep_segments(runs, lambda m: log.info("%s: %s", npc.id, m))
        except Exception as e:  # an optimisation: its turns splice the headless pieces
            log.warning("could not keep %s's lore in the model's memory: %s", npc.id, e)
            return
        if kept < len(runs):
            log.info("%s: %d of %d lore passages kept after its prompts' head", npc.id,
                     kept, len(runs))

    def _keep_npc_lore_soon(self, npc: NpcFile, actions: Mapping[str, dict[str, Any]]) -> None:
        """`keep_npc_lore` in the background, unless it is already on its way for this
        head (kept ones are only checked: the model may have let them go for newer)."""
        head = prompt.lore_head(npc, actions)
        if head in self._lore_pending:
            return
        self._lore_pending.add(head)

        async def keep() -> None:
            try:
                async with self._lore_lock:
                    await asyncio.to_thread(self.keep_npc_lore, npc, actions)
            finally:
                self._lore_pending.discard(head)

        self._spawn(keep())

    async def _index_lore(self) -> None:
        began = time.perf_counter()
        docs = list(self.designs.lore)
        progress(f"indexing {len(docs)} lore files...")
        self.index = await asyncio.to_thread(
            LoreIndex.build, docs, self.options.cache_dir, None
        )
        how = "from the cache" if self.index.from_cache else "built"
        progress(f"lore index ({len(self.index.chunks)} chunks) {how} in "
                 f"{time.perf_counter() - began:.1f} s")

    async def _reloaded(self, change: Reload) -> None:
        for error in change.errors:
            progress(f"designer file broken, last good version keeps serving: {error}")
        if change.lore:
            await self._index_lore()
            await self._keep_lore()
        if change.changed:
            progress(f"reloaded: {', '.join([*change.npcs, *change.actions]) or 'lore'}")

    def _scripts_reloaded(self, change: ScriptReload) -> None:
        """A broken script is reported to the log and every open session."""
        for error in change.errors:
            progress(f"script broken, last good version keeps serving: {error}")
            for conv in list(self.conversations):
                conv.out.send(Error(code=SCRIPT_ERROR, reason=str(error), stage="script",
                                    session=conv.info.session))
        if change.changed:
            progress(f"scripts reloaded: {', '.join([*change.loaded, *change.removed])}")

    def event(self, msg: GameEvent) -> None:
        """A game event for no one session: every open conversation it concerns hears it."""
        for conv in list(self.conversations):
            ids = set(conv.npcs)
            players = set(conv.players)
            if msg.npcs and not ids & set(msg.npcs):
                continue
            if msg.players and not players & set(msg.players):
                continue
            conv.on_other(msg)

    def _warm(self) -> None:
        for npc in self.designs.npcs.values():
            self._warm_one(npc, available(npc, self.designs.actions, []))

    def _warm_one(self, npc: NpcFile, actions: Mapping[str, dict[str, Any]]) -> None:
        """Evaluate the prompt head `npc` has with `actions`: its first turn starts fast."""
        head = prompt.chat(npc, actions, prompt.Context(), "", npc.steer)[:-1]
        try:
            self.llm.warm(LlmRequest(head))
        except Exception as e:  # warming is an optimisation: never fatal
            log.warning("could not warm the prompt of %s: %s", npc.id, e)

    async def stop(self) -> None:
        for task in [self._watch, self._summary, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *[t for t in [self._watch, self._summary, *self._tasks] if t is not None],
            return_exceptions=True,
        )
        self.memory.close()
        if self.scripts is not None:
            self.scripts.close()
        if self.steer_log is not None:
            self.steer_log.close()
        if self.own:
            if self._llm is not None:
                self._llm.close()
            if self.ears is not None:
                self.ears.shutdown()
            if self.voices is not None:
                self.voices.close()

    def open(self, info: SessionInfo, out: Outbox) -> Opened:
        npcs = self.designs.npcs
        group = session_npcs(info.npc or next(iter(npcs)), info.npcs, npcs, " on this server")
        npc, others = npcs[group[0]], tuple(npcs[n] for n in group[1:])
        conv = MindConversation(self, info, out, npc, others)
        self.conversations.add(conv)
        if self.scripts is not None:
            conv.scripts = ScriptSide(conv, self)
        if self.ears is not None:
            names = [n.name for n in self.designs.npcs.values() if n is not npc]
            terms = self.index.terms(npc.knowledge) if self.index is not None else []
            vocabulary = [npc.name, *names, *terms]
            conv.hearing = self.ears.listen(conv, vocabulary=vocabulary)
            conv.listen = functools.partial(self.ears.listen, vocabulary=vocabulary)
        if self.voices is not None and self.voices.options.acknowledge:
            self._background(self.voices.make_acknowledgements, [npc, *others],
                             info.audio_out_rate)
        actions = available(npc, self.designs.actions, info.actions)
        if info.actions:  # the engine's actions are in this session's prompt head: warm it
            self._background(self._warm_one, npc, actions)
        if self.index is not None and self.llm.capabilities.segments:
            for one in (npc, *others):  # each answers with its own prompts' head
                self._keep_npc_lore_soon(one, available(one, self.designs.actions, info.actions))
        return Opened(conv, npc.id, npc.name, list(actions), group)

    # -- for conversations -----------------------------------------------------------------

    def speaker(self, conv: MindConversation, npc: NpcFile) -> Speaker | None:
        """The voice for one turn of `conv`; None for a brain without one."""
        return self.voices.speaker(conv, npc.tts) if self.voices is not None else None

    def acknowledge(self, conv: MindConversation, npc: NpcFile) -> None:
        """Open a player's turn with `npc`'s acknowledgement, if the game wants one."""
        v, speaker = self.voices, conv.speaker
        if v is not None and v.options.acknowledge and speaker is not None:
            speaker.acknowledge(v.acknowledgement(npc, conv.info.audio_out_rate))

    def _background(self, work: Callable[..., Any], *args: Any) -> None:
        self._spawn(asyncio.to_thread(work, *args))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` as one of the brain's tasks (awaited or cancelled when it stops)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def search(self, text: str, tags: Collection[str]) -> list[Hit]:
        if self.index is None:
            return []
        return self.index.search(text, tags=tags, k=self.options.lore_k)

    def request(
        self,
        npc: NpcFile,
        actions: Mapping[str, dict[str, Any]],
        context: prompt.Context,
        text: str,
        attrs: dict[str, int],
        schema: dict[str, Any],
    ) -> LlmRequest:
        """The generation request for one turn: SteerLM format for SteerLM-trained models."""
        o = self.options
        base = Decoding(max_tokens=o.max_tokens, temperature=o.temperature, seed=o.seed)
        settings = steer_decoding(attrs, base)
        schema = steer.open_with(schema, steer.openers(attrs))
        if self.llm.capabilities.steerlm:
            raw = prompt.steerlm(npc, actions, context, text, attrs)
            return LlmRequest(prompt=raw, schema=schema, decoding=settings)
        messages = prompt.chat(npc, actions, context, text, attrs)
        segments = prompt.lore_segments(context, steer.instructions(attrs))
        return LlmRequest(messages, schema=schema, decoding=settings, segments=segments)

    def quiet(self) -> None:
        """A turn is starting: stop background generation so it has the model to itself."""
        if self._summary is not None:
            self._summary.cancel()
            self._summary = None

    def summarize_later(
        self, npc: NpcFile, player: str, changed: Callable[[], None] | None = None
    ) -> None:
        """After a turn, in the background: let the player's last line move the NPC's
        regard, then fold old turns into the rolling summary once there are enough, then
        call `changed` if either moved (the next prompt's notes are then new). The next
        turn cancels this work (`quiet`), so it never delays a reply."""
        if self._summary is None or self._summary.done():
            self._summary = asyncio.ensure_future(self._reflect_then(npc, player, changed))

    async def _reflect_then(
        self, npc: NpcFile, player: str, changed: Callable[[], None] | None
    ) -> None:
        if await self.reflect(npc, player) and changed is not None:
            changed()

    async def reflect(self, npc: NpcFile, player: str) -> bool:
        """The work after a turn, in order: regard, then the summary; whether either moved."""
        moved = await self._regard(npc, player)
        return await self._summarize(npc, player) or moved

    async def _regard(self, npc: NpcFile, player: str) -> bool:
        """Judge how the player's last line makes the NPC feel; nudge its regard by it."""
        line = await asyncio.to_thread(self.memory.last, npc.id, player, "player")
        if line is None or self._judged.get((npc.id, player)) == line.id:
            return False
        try:
            answer = await self.llm.complete(prompt.regard(line.text))
            step = REGARD_STEP[json.loads(answer)["feeling"]]
        except (BridgeError, ValueError, KeyError, TypeError) as e:
            log.warning("regard for %s/%s failed: %s", npc.id, player, e)
            return False
        self._judged[(npc.id, player)] = line.id
        if step:
            await asyncio.to_thread(self.memory.change_relationship, npc.id, player, REGARD, step)
        return bool(step)

    async def _summarize(self, npc: NpcFile, player: str) -> bool:
        turns = await asyncio.to_thread(self.memory.since_summary, npc.id, player)
        if len(turns) < SUMMARY_AFTER:
            return False
        old = turns[:-SUMMARY_KEEP]
        before = (await asyncio.to_thread(self.memory.summary, npc.id, player)).text
        request = prompt.summary(npc, before, [(t.role, t.text) for t in old], self.options.seed)
        try:
            text = json.loads(await self.llm.complete(request))["summary"]
        except (BridgeError, ValueError, KeyError, TypeError) as e:
            log.warning("summary for %s/%s failed: %s", npc.id, player, e)
            return False
        await asyncio.to_thread(self.memory.set_summary, npc.id, player, text, old[-1].id)
        return True
