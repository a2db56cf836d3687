"""Clause splitting: cut the NPC's line into speakable pieces as its text streams in.

Speech starts as soon as the first clause exists, so the first cut comes early (a short
clause ending at a comma is enough, and with no mark at all the first few words go on
their own: a short first clip is synthesised in well under 100 ms), later cuts wait for a
sentence end or a longer clause (prosody is better over whole phrases). A cut needs the
space after the mark ("3.5" and "e.g." mid-word are never cut), except the first clause's
comma right after a word's letter, cut as it arrives (one model step sooner; "1,000" is
never cut); a stream that stops mid-clause gives the rest to `flush`.
"""

from __future__ import annotations

import re

SENTENCE_END = ".!?…"
CLAUSE_END = ",;:—"
FIRST_MIN_CHARS = 5  # the first clause may end at a comma once it is this long ("Well,")
FIRST_MAX_CHARS = 18  # with no mark by then, the first clause ends at a space before this
MIN_CHARS = 40  # later clauses end at a comma only past this length
MAX_CHARS = 160  # with no mark at all, cut at the last space past this length

_MARK = re.compile(r"[.!?…]+[\"')\]]*\s|[,;:—]\s")
_FIRST_COMMA = re.compile(r"[^\W\d_],\Z")  # "Aye, kid," as it arrives: a word's comma


class ClauseSplitter:
    """Feed text deltas; get back the clauses they complete, in order."""

    def __init__(
        self,
        first_min: int = FIRST_MIN_CHARS,
        min_chars: int = MIN_CHARS,
        max_chars: int = MAX_CHARS,
        first_max: int = FIRST_MAX_CHARS,
    ) -> None:
        self.pending = ""
        self.first_min, self.min_chars, self.max_chars = first_min, min_chars, max_chars
        self.first_max = first_max
        self.count = 0  # clauses given out so far

    def feed(self, delta: str) -> list[str]:
        self.pending += delta
        out: list[str] = []
        while True:
            cut = self._cut()
            if cut <= 0:
                break
            clause, self.pending = self.pending[:cut].strip(), self.pending[cut:].lstrip()
            if clause:
                out.append(clause)
                self.count += 1
        return out

    def flush(self) -> list[str]:
        """What is left at the end of the line (a clause with no closing mark)."""
        rest, self.pending = self.pending.strip(), ""
        if not rest:
            return []
        self.count += 1
        return [rest]

    def _cut(self) -> int:
        """Where the next clause ends in `pending` (after its mark); 0 when not yet."""
        shortest = self.first_min if self.count == 0 else self.min_chars
        for m in _MARK.finditer(self.pending):
            mark = m.group(0).strip()[:1]
            if mark in SENTENCE_END or m.start() + 1 >= shortest:
                return m.end()
        if self.count == 0 and len(self.pending) >= shortest and _FIRST_COMMA.search(
            self.pending
        ):
            return len(self.pending)  # the first clause, without waiting for the next word
        longest = self.first_max if self.count == 0 else self.max_chars
        if len(self.pending) > longest:
            space = self.pending.rfind(" ", 0, longest)
            return space if space > 0 else len(self.pending)
        return 0
