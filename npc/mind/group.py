"""A group session's shared state: who is in it, who a line is for, and what was said.

Several NPCs and several players may share one session. A player's line goes to the NPC
it names (by id, full name or a word of the name), else to the NPC it calls by a near
miss at its start or end (speech recognition wrote "Porter Master" for "Quartermaster"),
else to the NPC that last spoke to that player, else to the session's first NPC.
Everything said in the session is kept, attributed, for the prompts of whoever answers
next.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher

from npc.designer.persona import NpcFile

KEEP = 16  # lines of the session kept for prompts
OWN = 3  # a player's own earlier lines called out in the prompt of an answer to them
MIN_NAME_PART = 3  # shorter words of a name ("Al", "of") do not address anyone
# A near miss calls an NPC only where a name is said to call someone: the line's first
# words or its last ones ("Quartermaster, I need...", "...is it, Brakka?"). A name part
# of FUZZY_MIN_CHARS or more matches a word, or two words run together, this alike.
FUZZY_WORDS = 3  # words at each end of a line
FUZZY_MIN_CHARS = 5
FUZZY_RATIO = 0.78  # "portermaster"/"quartermaster" 0.80, "brokka"/"brakka" 0.83
_WORD = re.compile(r"[a-z]+")


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
        return self._near_miss(text) or self.last_npc.get(player, self.npcs[0])

    def _near_miss(self, text: str) -> str | None:
        """The NPC whose name a word at the line's start or end nearly is, the nearest."""
        words = _WORD.findall(text.lower())
        ends = [words[:FUZZY_WORDS], words[-FUZZY_WORDS:]] if len(words) > FUZZY_WORDS else [words]
        said = {w for end in ends for w in end}
        said |= {a + b for end in ends for a, b in itertools.pairwise(end)}
        said = {w for w in said if len(w) >= FUZZY_MIN_CHARS - 1}
        best: tuple[float, str] | None = None
        for npc_id in self.npcs:
            npc = self.file(npc_id)
            parts = {p for p in _WORD.findall(f"{npc_id} {npc.name}".lower())
                     if len(p) >= FUZZY_MIN_CHARS}
            for part in parts:
                for w in said:
                    ratio = SequenceMatcher(None, w, part).ratio()
                    if ratio >= FUZZY_RATIO and (best is None or ratio > best[0]):
                        best = (ratio, npc_id)
        return best[1] if best else None

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
