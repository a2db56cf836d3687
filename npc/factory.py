"""Build the brain named in the config's [brain] table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.seam import Brain
from npc.roster import load_roster


def build_brain(config: dict[str, Any], base: Path) -> Brain:
    """`[brain] kind = "echo"` is the only brain so far; paths are relative to the config."""
    table = config.get("brain", {})
    kind = table.get("kind", "echo")
    roster = load_roster(base / table.get("npcs_dir", "npcs"))
    if kind == "echo":
        from npc.echo import EchoBrain

        return EchoBrain(roster)
    raise ConfigError(f"[brain] kind '{kind}' is unknown; known: echo")
