"""Proper names in lore text (people, places, machines): vocabulary hints for recognition."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from npc.rag.lexical import STOPWORDS

# Runs of capitalised words, with numbers after them ("Hangar Bay 7").
_PROPER = re.compile(r"\b[A-Z][a-zA-Z]+(?:[ -](?:[A-Z][a-zA-Z]+|\d+\b))*")


def _at_sentence_start(text: str, start: int) -> bool:
    before = text[max(0, start - 3) : start].rstrip(" ")
    return not before or before[-1] in '.!?:"\n'


def proper_names(passages: Iterable[tuple[str, str]], limit: int = 50) -> list[str]:
    """Names from (source, text) passages, those used in the most sources first.

    A capital opening a sentence says nothing, so there a name counts only after "the"
    ("The Harrier is ...") or as a run of capitalised words ("Sergeant Okoro").
    """
    sources: dict[str, set[str]] = {}
    counts: Counter[str] = Counter()
    for source, text in passages:
        for m in _PROPER.finditer(text):
            words = m.group().split()
            led_by_stopword = words[0].lower() in STOPWORDS
            while words and words[0].lower() in STOPWORDS:
                words = words[1:]
            capitals = sum(w[0].isupper() for w in words)
            if not words or (
                _at_sentence_start(text, m.start()) and not led_by_stopword and capitals < 2
            ):
                continue
            term = " ".join(words)
            sources.setdefault(term, set()).add(source)
            counts[term] += 1
    return sorted(counts, key=lambda t: (-len(sources[t]), -counts[t], t))[:limit]
