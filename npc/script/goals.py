"""Goal state in the memory database: on or off, once, cooldowns, per NPC and player."""

from __future__ import annotations

import time

from npc.memory import Memory
from npc.script.api import Goal
from npc.script.handle import GoalState


class GoalBook:
    """Whether a goal may fire now for an NPC and player, and counting that it did.

    Cooldowns are on the wall clock (Unix time), so they hold across restarts too.
    """

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self._before: dict[tuple[str, str, str], tuple[int, float | None]] = {}  # at `take`

    def state(self, goal: Goal | None, npc: str, player: str, name: str = "") -> GoalState:
        """The goal's state; a goal the scripts do not (or no longer) define reads as off."""
        record = self.memory.goal(npc, player, goal.name if goal else name)
        default = goal.enabled if goal is not None else False
        enabled = default if record.enabled is None else record.enabled
        return GoalState(enabled, record.fired, record.last_at)

    def ready(self, goal: Goal, npc: str, player: str, now: float | None = None) -> bool:
        s = self.state(goal, npc, player)
        if not s.enabled or (goal.once and s.fired):
            return False
        now = time.time() if now is None else now
        return s.last is None or now - s.last >= goal.cooldown_s

    def take(self, goal: Goal, npc: str, player: str) -> bool:
        """Fire the goal if it is ready: True, and it is counted (now) before anything runs."""
        now = time.time()
        if not self.ready(goal, npc, player, now):
            return False
        before = self.memory.goal(npc, player, goal.name)
        self._before[(npc, player, goal.name)] = (before.fired, before.last_at)
        self.memory.goal_fired(npc, player, goal.name, now)
        return True

    def give_back(self, goal: Goal, npc: str, player: str) -> None:
        """The goal's function said it did not fire (it returned False): undo its `take`,
        so neither `once` nor the cooldown is spent."""
        fired, last_at = self._before.pop((npc, player, goal.name), (0, None))
        self.memory.set_goal_fired(npc, player, goal.name, fired, last_at)

    def enable(self, npc: str, player: str, name: str, on: bool) -> None:
        self.memory.set_goal_enabled(npc, player, name, on)
