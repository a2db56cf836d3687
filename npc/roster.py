"""The NPCs on offer: read each NPC file's id and name from a folder of TOML files."""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from bridge import errors
from bridge.errors import ConfigError, ProtocolError


@dataclass(frozen=True, slots=True)
class NpcEntry:
    """One NPC file: its id (what `session-open` names), display name and where it lives."""

    id: str
    name: str
    path: Path
    interruptible: bool = True  # false: the player cannot talk over this NPC's lines


def load_roster(folder: Path) -> list[NpcEntry]:
    """Every `*.toml` in `folder`, sorted by file name (the first is the default NPC)."""
    if not folder.is_dir():
        raise ConfigError(f"NPC folder {folder} does not exist")
    entries = []
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: {e}") from e
        npc_id = data.get("id")
        if not isinstance(npc_id, str) or not npc_id:
            raise ConfigError(f'{path}: needs `id = "..."`, a non-empty string')
        interruptible = data.get("interruptible", True)
        if not isinstance(interruptible, bool):
            raise ConfigError(f"{path}: `interruptible` must be true or false")
        entries.append(NpcEntry(npc_id, str(data.get("name", npc_id)), path, interruptible))
    if not entries:
        raise ConfigError(f"no NPC files (*.toml) in {folder}")
    return entries


def session_npcs(
    first: str, others: list[str], known: Collection[str], where: str = ""
) -> list[str]:
    """A session's NPC ids, `first` first, each once; unknown-npc when one is not `known`."""
    ids = list(dict.fromkeys([first, *others]))
    missing = [n for n in ids if n not in known]
    if missing:
        raise ProtocolError(
            f"no NPC '{missing[0][:64]}'{where}; there are {', '.join(known)}",
            code=errors.UNKNOWN_NPC,
        )
    return ids
