"""Build the brain named in the config's [brain] table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.seam import Brain
from npc.roster import load_roster


def build_brain(config: dict[str, Any], base: Path) -> Brain:
    """`[brain] kind = "echo"` is the only brain so far; paths are relative to the config.

    A `[hearing]` table gives it ears (VAD + speech recognition, see npc/ears.py).
    """
    table = config.get("brain", {})
    kind = table.get("kind", "echo")
    roster = load_roster(base / table.get("npcs_dir", "npcs"))
    ears = None
    if "hearing" in config:
        from npc.ears import build_ears

        ears = build_ears(config["hearing"])
    if kind == "echo":
        from npc.echo import EchoBrain

        return EchoBrain(roster, ears)
    raise ConfigError(f"[brain] kind '{kind}' is unknown; known: echo")
