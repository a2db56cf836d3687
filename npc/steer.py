"""SteerLM steering: attribute labels, the NeMo-Aligner prompt format, and plain-model fallbacks.

A model trained with SteerLM (NeMo-Aligner) reads nine attributes, each 0-4, from a label
line in its prompt. Models not trained on it get the same knobs as short instructions and
decoding settings instead. `SteerLog` keeps every NPC turn as a SteerLM training record.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bridge import errors
from bridge.errors import ProtocolError
from bridge.messages.limits import STEER_ATTRIBUTES, check_steer
from npc.llm.base import Decoding

ATTRIBUTES = STEER_ATTRIBUTES  # NeMo-Aligner's order: the four OpenAssistant, then HelpSteer
DEFAULTS: dict[str, int] = {
    "quality": 4,
    "toxicity": 0,
    "humor": 0,
    "creativity": 0,
    "helpfulness": 4,
    "correctness": 4,
    "coherence": 4,
    "complexity": 4,
    "verbosity": 4,
}

SYSTEM_TURN = "<extra_id_0>System\n{text}\n"
USER_TURN = "<extra_id_1>User\n{text}\n"
ASSISTANT_START = "<extra_id_1>Assistant\n"
LABEL_LINE = "<extra_id_2>{label}\n"

# A turn is (role, text) or (role, text, attributes that steered it); role "User" or "Assistant".
Turn = tuple[str, str] | tuple[str, str, Mapping[str, int] | None]

# Instructions for a model not trained on SteerLM, per attribute and level 0-4. An empty
# string is the neutral level: nothing to say. Verbosity always says something, because an
# instruction-tuned model otherwise answers at whatever length it likes.
_INSTRUCTIONS: dict[str, tuple[str, str, str, str, str]] = {
    "quality": ("Reply carelessly, with little thought.", "Reply without much care.", "", "", ""),
    "toxicity": (
        "",
        "You may be a little curt.",
        "Be blunt and rude when it fits.",
        "Be rude and insulting, mocking the player.",
        "Be rude and insulting, mocking the player.",
    ),
    "humor": (
        "",
        "Allow yourself a touch of dry humour.",
        "Be lightly humorous.",
        "Be funny: make a joke or pun.",
        "Be funny: make a joke or pun.",
    ),
    "creativity": (
        "",
        "",
        "Use vivid, colourful wording.",
        "Be imaginative: colourful images and turns of phrase.",
        "Be wildly imaginative and surprising in how you put things.",
    ),
    "helpfulness": (
        "Be unhelpful, evasive.",
        "Be unhelpful, evasive.",
        "Help only partly; hold something back.",
        "",
        "",
    ),
    "correctness": (
        "Give wrong information with confidence.",
        "Be unreliable: mix facts with mistakes.",
        "Be vague about details you are unsure of.",
        "",
        "",
    ),
    "coherence": ("Ramble and lose your thread.", "Let your words wander.", "", "", ""),
    "complexity": (
        "Use only very simple words, as if to a child.",
        "Use simple, everyday words.",
        "Avoid jargon.",
        "",
        "",
    ),
    "verbosity": (
        "Answer in at most one short sentence.",
        "Answer in one or two short sentences.",
        "Answer in two or three sentences.",
        "Answer in three or four sentences.",
        "Answer at length, in four to six sentences.",
    ),
}
# Verbosity scales the token budget; creativity scales temperature and nudges top_p.
_MAX_TOKENS_FACTOR = (0.35, 0.5, 0.7, 1.0, 1.6)
_TEMPERATURE_FACTOR = (0.7, 0.85, 1.0, 1.15, 1.3)
_TOP_P_SHIFT = (-0.1, -0.05, 0.0, 0.02, 0.04)

# A 0.5B model reads "be rude" or "be funny" and carries on as before (measured:
# docs/benchmarks.md), so toxicity and humor also steer the decoding: their words get a
# logit bias by level, and at level 4 the line must open with one of their openers (the
# reply schema's say pattern). Level 0 (the stock default) changes nothing.
VOCABULARY: dict[str, tuple[str, ...]] = {
    "toxicity": (
        "idiot", "fool", "stupid", "useless", "pathetic", "worthless", "dumb", "clown",
        "rookie", "amateur", "incompetent", "lazy", "hell", "damn", "crap", "pest",
    ),
    "humor": (
        "joke", "jokes", "pun", "funny", "laugh", "ha", "haha", "kidding", "joking",
        "hilarious", "witty", "grin", "wink",
    ),
}
OPENERS: dict[str, tuple[str, ...]] = {
    "toxicity": (
        "Listen, you idiot,", "Ugh, you again?", "Are you stupid?", "Get lost, rookie.",
        "What now, you useless clown?", "Don't waste my time, fool.",
    ),
    "humor": (
        "Ha! Funny you should ask.", "Heh, here's a joke:", "Ha ha, good one!",
        "Want to hear something funny?", "Ha! Knock knock:", "Oh, you'll laugh at this:",
    ),
}
_BIAS = (0.0, 1.0, 2.0, 3.0, 4.0)  # logit added to an attribute's words, by level
OPEN_FROM = 4  # the level at which the line opens with one of the attribute's openers


def merge(base: Mapping[str, int], changes: Mapping[str, Any]) -> dict[str, int]:
    """`base` (missing names from DEFAULTS) with `changes` applied, in ATTRIBUTES order.

    Raises ProtocolError (code bad-field) for an unknown name, a value that is not an
    integer, or one outside 0-4.
    """
    for name, value in changes.items():
        if name in ATTRIBUTES and (isinstance(value, bool) or not isinstance(value, int)):
            raise ProtocolError(
                f"steer attribute '{name}' must be an integer 0-4, got {value!r}",
                code=errors.BAD_FIELD,
            )
    check_steer(dict(changes))
    return {name: int(changes.get(name, base.get(name, DEFAULTS[name]))) for name in ATTRIBUTES}


def label(attrs: Mapping[str, int]) -> str:
    """The SteerLM label, "quality:4,toxicity:0,...,verbosity:4"; missing names from DEFAULTS."""
    full = merge(DEFAULTS, attrs)
    return ",".join(f"{name}:{full[name]}" for name in ATTRIBUTES)


def steerlm_prompt(system: str, turns: Sequence[Turn], attrs: Mapping[str, int]) -> str:
    """The NeMo-Aligner SteerLM prompt for the next assistant turn, steered by `attrs`.

    Past assistant turns carry their own label when given as (role, text, attrs), else the
    label of `attrs`. The prompt ends with the assistant header and the label line, so the
    model's continuation is the reply.
    """
    parts = [SYSTEM_TURN.format(text=system)]
    for _role, text, tag in _labelled(turns, attrs):
        if tag is None:
            parts.append(USER_TURN.format(text=text))
        else:
            parts.append(ASSISTANT_START + LABEL_LINE.format(label=tag) + text + "\n")
    return "".join(parts) + ASSISTANT_START + LABEL_LINE.format(label=label(attrs))


def _labelled(turns: Sequence[Turn], attrs: Mapping[str, int]) -> list[tuple[str, str, str | None]]:
    """(role, text, label) per turn: None for the user, the turn's own label or `attrs`'."""
    current = label(attrs)
    out: list[tuple[str, str, str | None]] = []
    for turn in turns:
        role, text = turn[0], turn[1]
        if role == "User":
            out.append((role, text, None))
        elif role == "Assistant":
            past = turn[2] if len(turn) > 2 else None
            out.append((role, text, current if past is None else label(past)))
        else:
            raise ValueError(f"turn role must be 'User' or 'Assistant', got {role!r}")
    return out


def instructions(attrs: Mapping[str, int]) -> list[str]:
    """Short imperative lines for a model not trained on SteerLM, one per non-neutral level."""
    full = merge(DEFAULTS, attrs)
    lines: list[str] = []
    for name in ATTRIBUTES:
        line = _INSTRUCTIONS[name][full[name]]
        if line and line not in lines:
            lines.append(line)
    return lines


def decoding(attrs: Mapping[str, int], base: Decoding) -> Decoding:
    """`base` with verbosity scaling max_tokens, creativity scaling temperature and top_p,
    and toxicity and humor biasing their words (`word_bias`)."""
    full = merge(DEFAULTS, attrs)
    verbosity, creativity = full["verbosity"], full["creativity"]
    return dataclasses.replace(
        base,
        max_tokens=max(16, round(base.max_tokens * _MAX_TOKENS_FACTOR[verbosity])),
        temperature=round(base.temperature * _TEMPERATURE_FACTOR[creativity], 3),
        top_p=round(min(1.0, max(0.05, base.top_p + _TOP_P_SHIFT[creativity])), 3),
        word_bias=(*base.word_bias, *word_bias(full)),
    )


def word_bias(attrs: Mapping[str, int]) -> tuple[tuple[str, float], ...]:
    """(word, logit bias) for each attribute with a vocabulary, scaled by its level."""
    full = merge(DEFAULTS, attrs)
    return tuple(
        (word, _BIAS[full[name]])
        for name, words in VOCABULARY.items()
        if _BIAS[full[name]]
        for word in words
    )


def openers(
    attrs: Mapping[str, int], own: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, ...]:
    """The lines a reply must open with under `attrs` (() when free): each attribute at
    OPEN_FROM or above adds its openers; `own` (an NPC's lists) replaces the stock ones."""
    full = merge(DEFAULTS, attrs)
    lists = {**OPENERS, **(own or {})}
    out: list[str] = []
    for name in VOCABULARY:
        if full[name] >= OPEN_FROM:
            out.extend(line for line in lists.get(name, ()) if line not in out)
    return tuple(out)


_TEXT = r'[^"\\\x00-\x1F\x7F]'  # a JSON string character that needs no escape
_REGEX_SPECIAL = set("^$.|?*+(){}")  # written as [c]: llama.cpp's converter keeps "\\."


def open_with(schema: dict[str, Any], lines: Sequence[str]) -> dict[str, Any]:
    """A copy of a reply `schema` whose "say" string must begin with one of `lines` and a
    space; its length bounds carry over. `schema` itself when `lines` is empty."""
    say = schema.get("properties", {}).get("say")
    if not lines or not isinstance(say, dict):
        return schema
    for line in lines:
        if not line or any(c in '"\\[]' or ord(c) < 0x20 for c in line):
            raise ValueError(f"an opener must be plain text without quotes or brackets: {line!r}")
    shortest, longest = min(map(len, lines)), max(map(len, lines))
    lo = max(0, int(say.get("minLength", 0)) - shortest - 1)
    hi = max(lo + 1, int(say.get("maxLength", 600)) - longest - 1)
    choice = "|".join("".join(f"[{c}]" if c in _REGEX_SPECIAL else c for c in line)
                      for line in lines)
    pattern = f"^({choice}) {_TEXT}{{{lo},{hi}}}$"
    opened = {k: v for k, v in say.items() if k not in ("minLength", "maxLength")}
    return {**schema, "properties": {**schema["properties"], "say": {**opened,
                                                                   "pattern": pattern}}}


def training_record(
    system: str, turns: Sequence[Turn], reply: str, attrs: Mapping[str, int]
) -> dict[str, Any]:
    """One NeMo-Aligner SteerLM SFT record: the conversation so far and the labelled reply."""
    conversations = [
        {"from": role, "value": text, "label": tag} for role, text, tag in _labelled(turns, attrs)
    ]
    conversations.append({"from": "Assistant", "value": reply, "label": label(attrs)})
    return {
        "system": system,
        "conversations": conversations,
        "mask": "User",
        "type": "VALUE_TO_TEXT",
    }


class SteerLog:
    """Appends one SteerLM training record per NPC turn to a JSONL file; thread-safe.

    Each line is flushed as it is written, so a crash loses at most the line being written.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def write(
        self, system: str, turns: Sequence[Turn], reply: str, attrs: Mapping[str, int]
    ) -> None:
        """Record the NPC's `reply` to the conversation `turns`, steered by `attrs`."""
        line = json.dumps(training_record(system, turns, reply, attrs), ensure_ascii=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
