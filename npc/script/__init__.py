"""Behaviour scripts: event hooks, turn hooks, goals with triggers, and the Npc handle.

Designers write Python files in the game's `scripts_dir`; docs/scripting.md is the guide.
"""

from npc.script.api import after_turn, before_turn, goal, on_event
from npc.script.handle import GoalState, Npc
from npc.script.types import Event, Idle, Intent, Trigger, Turn

__all__ = [
    "Event",
    "GoalState",
    "Idle",
    "Intent",
    "Npc",
    "Trigger",
    "Turn",
    "after_turn",
    "before_turn",
    "goal",
    "on_event",
]
