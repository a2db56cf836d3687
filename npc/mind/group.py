"""A group session's shared state: who is in it, who a line is for, and what was said.

Several NPCs and several players may share one session. A player's line goes to the NPC
it names (by id, full name or a word of the name), else to the NPC that last spoke to
that player, else to the session's first NPC. Everything said in the session is kept,
attributed, for the prompts of whoever answers next.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from npc.designer.persona import NpcFile

KEEP = 16  # lines of the session kept for prompts
OWN = 3  # a player's own earlier lines called out in the prompt of an answer to them
MIN_NAME_PART = 3  # shorter words of a name ("Al", "of") do not address anyone


@dataclass(frozen=True, slots=True)
class Said:
    """One line of the session: who said it (an NPC id or a player id) and to whom."""

    speaker: str
    text: str
    npc: bool  # an NPC said it (else a player)
    to: str = ""  # the player an NPC answered, or the NPC a player addressed


class Group:
    """The NPCs and players of one session, and its recent lines."""

    def __init__(
        self, npcs: list[str], players: list[str], files: Callable[[str], NpcFile]
    ) -> None:
        self.npcs = npcs  # ids, the session's first NPC first
        self.players = players  # ids, the session's player first
        self.file = files  # the NPC's current file (reloads take effect at once)
        self.lines: deque[Said] = deque(maxlen=KEEP)
        self.last_npc: dict[str, str] = {}  # player -> the NPC that last spoke to them

    @property
    def grouped(self) -> bool:
        """More than one NPC or more than one player: prompts show who said what."""
        return len(self.npcs) > 1 or len(self.players) > 1

    def addressee(self, text: str, player: str) -> str:
        """The NPC `player`'s line is for: the first one it names, else the one that last
        spoke to them, else the session's first NPC."""
        named = [(at, npc) for npc in self.npcs if (at := self._mention(text, npc)) is not None]
        if named:
            return min(named)[1]
        return self.last_npc.get(player, self.npcs[0])

    def _mention(self, text: str, npc_id: str) -> int | None:
        npc = self.file(npc_id)
        words = {npc_id, npc.name, *(w for w in npc.name.split() if len(w) >= MIN_NAME_PART)}
        found = [
            m.start()
            for w in words
            if (m := re.search(rf"\b{re.escape(w)}\b", text, re.IGNORECASE)) is not None
        ]
        return min(found) if found else None

    def name(self, speaker: str, npc: bool) -> str:
        """How a speaker is named in prompts: an NPC by its name, a player by their id."""
        return self.file(speaker).name if npc else speaker

    def heard(self, player: str, text: str, npc: str) -> None:
        self.lines.append(Said(player, text, npc=False, to=npc))

    def said(self, npc: str, text: str, player: str = "") -> None:
        """`npc` said `text` (to `player`; "" when it spoke to other NPCs)."""
        self.lines.append(Said(npc, text, npc=True, to=player))
        if player:
            self.last_npc[player] = npc

    def recent(self, n: int = KEEP) -> list[tuple[str, str]]:
        """The last `n` lines as (name, text), oldest first."""
        return [(self.name(s.speaker, s.npc), s.text) for s in list(self.lines)[-n:]]

    def present(self, npc: str, player: str) -> str:
        """Who else is here, in words, for `npc`'s prompt as it answers `player`."""
        others = [self.file(n).name for n in self.npcs if n != npc]
        people = [p for p in self.players if p != player]
        parts = []
        if people:
            parts.append(f"The players {', '.join([player, *people])} are talking with you.")
        if others:
            parts.append(f"Also here: {', '.join(others)}.")
        if player:
            parts.append(f"{player} is speaking to you now; answer {player}.")
            # A small model mixes players up unless their own words are put before it
            # (measured: with this line the 0.5B model answered each player's "what did
            # I say" from their own line, without it from the last line it had read).
            own = [s.text for s in self.lines if not s.npc and s.speaker == player][-OWN:]
            if own:
                parts.append(f"{player} told you earlier: " + " ".join(own))
        return " ".join(parts)
