"""Designer files: NPCs (TOML), Python actions and lore, loaded, checked and reloaded live."""

from npc.designer.actions import (
    ActionContext,
    ActionSpec,
    Length,
    Range,
    action,
    load_actions,
    run_action,
    validate,
)
from npc.designer.persona import Example, NpcFile, load_npc, load_npcs
from npc.designer.reload import Designs, Reload

__all__ = [
    "ActionContext",
    "ActionSpec",
    "Designs",
    "Example",
    "Length",
    "NpcFile",
    "Range",
    "Reload",
    "action",
    "load_actions",
    "load_npc",
    "load_npcs",
    "run_action",
    "validate",
]
