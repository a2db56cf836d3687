"""The conversation behind scripts' Npc handles: what each handle method does (the Host).

ScriptSide (npc/mind/scripted.py) is a ScriptHost that also runs the hooks and goals.
"""

from __future__ import annotations

import abc
import asyncio
import contextvars
import logging
from typing import TYPE_CHECKING, Any

from bridge.errors import BridgeError
from bridge.messages import Error
from npc.mind import acting
from npc.mind.proactive import Proactive
from npc.script.goals import GoalBook
from npc.script.handle import GoalState, Line, Npc
from npc.script.runner import ScriptError

if TYPE_CHECKING:
    from npc.mind.brain import MindBrain
    from npc.mind.conversation import MindConversation

log = logging.getLogger("npc_bridge.script")

# In a group session, the player whose line the turn in flight answers: set in the turn's
# task (and so seen by its hooks, wherever they run), never in the events' task.
turn_player: contextvars.ContextVar[str] = contextvars.ContextVar("turn_player", default="")
NOTE = "note"  # marks a script's npc.remember(...) among the stored event turns
NOTES_LOOK_BACK = 200  # stored turns searched for them
NOTES_KEPT = 5  # the latest ones each prompt shows


class ScriptHost(abc.ABC):
    """One conversation as its Npc handles drive it."""

    def __init__(self, conv: MindConversation, brain: MindBrain) -> None:
        assert brain.scripts is not None
        self.conv = conv
        self.brain = brain
        self.scripts = brain.scripts
        self.book = GoalBook(brain.memory)
        self.loop = asyncio.get_running_loop()
        self.handles: dict[str, Npc] = {}
        self.listening = True
        self.tasks: set[asyncio.Task[None]] = set()
        self.proactive = Proactive(conv, self, self.scripts.options.wait_s)

    @property
    def player(self) -> str:
        """The player of the turn in flight, else the session's."""
        return turn_player.get() or self.conv.info.player

    @property
    def session(self) -> str:
        return self.conv.info.session

    @property
    def present(self) -> list[str]:
        return list(self.conv.npcs)

    def handle(self, npc: str) -> Npc:
        if npc not in self.handles:
            file = self.conv.npcs.get(npc) or self.brain.designs.npcs.get(npc)
            self.handles[npc] = Npc(self, npc, file.name if file else npc, self.loop)
        return self.handles[npc]

    def queue_line(self, line: Line) -> None:
        self.proactive.put(line)

    def start_banter(self, npcs: list[str], about: str, lines: int, source: str) -> None:
        self.proactive.put_banter(npcs, about, lines, source)

    def run_action(self, npc: str, name: str, arguments: dict[str, Any]) -> None:
        self.spawn(self._act(npc, name, arguments))

    async def _act(self, npc_id: str, name: str, arguments: dict[str, Any]) -> None:
        b, conv = self.brain, self.conv
        npc = conv.npcs.get(npc_id) or conv.npc
        actions = acting.available(npc, b.designs.actions, conv.info.actions)
        for spec_name, spec in b.designs.actions.items():  # scripts may use any Python action
            actions.setdefault(spec_name, acting.python_action(spec))
        context = acting.BrainContext(npc.id, self.player, self.session, b.memory)
        try:
            outcome = await acting.run(
                name, arguments, actions, b.designs.actions, context, conv.call_engine,
                b.options.action_timeout_s,
            )
        except BridgeError as e:
            conv.out.send(Error.of(e, session=self.session, stage="actions"))
            return
        log.info("%s: script action %s", npc.id, outcome.describe())
        await asyncio.to_thread(
            b.memory.add_turn, npc.id, self.player, "action", outcome.describe(),
            session=self.session, meta={"script": True, "arguments": arguments},
        )

    def remember(self, npc: str, text: str) -> None:
        self.brain.memory.add_turn(
            npc, self.player, "event", text, session=self.session, meta={NOTE: True}
        )

    def notes(self, npc: str) -> list[str]:
        """What scripts told the NPC to remember of this player, latest last."""
        turns = self.brain.memory.recent(npc, self.player, NOTES_LOOK_BACK)
        return [t.text for t in turns if t.meta and t.meta.get(NOTE)][-NOTES_KEPT:]

    def change_relationship(self, npc: str, key: str, delta: int) -> int:
        return self.brain.memory.change_relationship(npc, self.player, key, delta)

    def relationship_value(self, npc: str, key: str) -> int:
        return self.brain.memory.relationship(npc, self.player).get(key, 0)

    def set_steer(self, npc: str, attributes: dict[str, int]) -> None:
        self.conv.overrides.update(attributes)

    def set_listening(self, on: bool) -> None:
        self.listening = on

    def goal_enable(self, npc: str, name: str, on: bool) -> None:
        self.book.enable(npc, self.player, name, on)

    def goal_state(self, npc: str, name: str) -> GoalState:
        return self.book.state(self.scripts.current.goal(npc, name), npc, self.player, name)

    def report(self, error: ScriptError) -> None:
        """A script failed: the log and the session's engine hear where and why."""
        log.warning("script failed, skipped: %s", error)
        self.conv.out.send(Error.of(error, session=self.session, stage="script"))

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @abc.abstractmethod
    async def idle(self, idle_s: float) -> bool:
        """Nobody has spoken for `idle_s`: fire an Idle goal that is due; True if one did."""
