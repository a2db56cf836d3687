"""The NPC's reply as the model writes it: one JSON object with its line and maybe an action.

The model's output is constrained to `reply_schema(actions)`:
    {"action": {"name": "none"} | {"name": "<action>", "arguments": {...}},
     "say": "<line>", "emotion": "<a word of EMOTION_WORDS>"}
The action comes first: a small model decides far better what to do before it has
talked itself into something (measured: docs/benchmarks.md), and the line it then says
fits the action. The emotion comes after the line: it is no longer a choice (and a miss
of the guessed one, an evaluation more) between the player's words and the NPC's first,
and the model reads it off its own line; the face blends into it once it is written,
while the line is still being said (it is left out when the brain has no face). The model picks the
emotion's word among words its tokenizer holds whole (EMOTION_WORDS: "alarm" for fear);
the reply carries the protocol's name. `SayStream` pulls the
line out of the JSON piece by piece as it streams. `parse_reply` checks the whole object
once complete: junk from the model is a BackendError, never a crash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import BackendError
from bridge.messages.dialogue import EMOTIONS

BAD_OUTPUT = "bad-model-output"
NO_ACTION = "none"  # the action name for "just talk"
_OPENING = re.compile(r'[{,]\s*"say"\s*:\s*"')
_EMOTION = re.compile(r'"emotion"\s*:\s*"(\w+)"')
# The word the model writes for each of the protocol's emotions. A choice is decided on the
# logits of each option's first token: a word split into pieces ("f" + "ear", "sur" +
# "prise") is scored by its first piece, which stands for every word starting that way,
# so "fear" won for "Good morning." (5 of 6 spoken bench lines). Each word here is one
# token of the embedded model's vocabulary after the opening quote
# (tests/test_llm_guided_model.py).
EMOTION_WORDS = {"neutral": "neutral", "joy": "happy", "anger": "anger", "sadness": "sad",
                 "fear": "alarm", "surprise": "unexpected", "disgust": "gross"}
_FROM_WORD = {word: emotion for emotion, word in EMOTION_WORDS.items()}
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Reply:
    """What the model decided: the NPC's line and the action it takes (if any)."""

    say: str
    action: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    emotion: str = ""  # one of EMOTIONS; "" when the schema did not ask for one


SAY_CHARS = (80, 160, 260, 400, 600)  # longest line by verbosity 0-4, characters
SAY_MIN_CHARS = (1, 1, 1, 100, 220)  # shortest: a small model left alone stays terse


def reply_schema(
    actions: dict[str, dict[str, Any]],
    max_chars: int = 400,
    min_chars: int = 1,
    emotion: bool = False,
) -> dict[str, Any]:
    """The JSON Schema for a reply, given each available action's parameters schema.

    The line's length is bounded in the schema, not only by the token budget, so the
    object always closes and the action after the line is never cut off.
    """
    props: dict[str, Any] = {}
    if actions:
        calls = [
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": params},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for name, params in actions.items()
        ]
        # "No action" is a name like the others: a small model weighs it against the real
        # ones far better than `null` against an object (measured: docs/benchmarks.md).
        talk = {
            "type": "object",
            "properties": {"name": {"const": NO_ACTION}},
            "required": ["name"],
            "additionalProperties": False,
        }
        props["action"] = {"anyOf": [talk, *calls]}
    say: dict[str, Any] = {"type": "string", "minLength": max(1, min_chars)}
    if max_chars:
        say["maxLength"] = max_chars
    props["say"] = say
    if emotion:
        props["emotion"] = {"enum": [EMOTION_WORDS[e] for e in EMOTIONS]}
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


# An assistant's refusal, not a character's line: the 0.5B model falls back on it when a
# cue puzzles it ("I'm sorry, but I can't assist with that."), and in a group session the
# next NPC then reads it back. A script's or a banter's line like this is never said.
REFUSAL = re.compile(
    r"\b(?:can(?:'|no)?t|cannot|unable to) (?:assist|help)(?: you)? with (?:that|this|the|your)"
    r"|\bas an ai\b|\blanguage model\b"
    r"|^\W*i(?:'m| am) sorry, but i (?:can(?:'|no)?t|cannot)\b",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """Whether `text` is the model refusing as an assistant rather than speaking."""
    return bool(REFUSAL.search(text.replace("\u2019", "'")))


def parse_reply(raw: str, actions: dict[str, dict[str, Any]]) -> Reply:
    """The reply in `raw`; BackendError (code bad-model-output) when it is not one."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise _junk(raw, f"not JSON ({e.msg} at character {e.pos})") from e
    if not isinstance(data, dict) or not isinstance(data.get("say"), str):
        raise _junk(raw, 'not an object with a "say" string')
    feeling = emotion_of(data.get("emotion", ""))
    if feeling is None:
        words = ", ".join(EMOTION_WORDS.values())
        raise _junk(raw, f"emotion {str(data['emotion'])[:32]!r} is not one of {words}")
    call = data.get("action")
    if call is None or (isinstance(call, dict) and call.get("name") == NO_ACTION):
        return Reply(data["say"].strip(), emotion=feeling)
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise _junk(raw, '"action" is neither null nor {"name": ..., "arguments": {...}}')
    name, arguments = call["name"], call.get("arguments", {})
    if name not in actions:
        raise _junk(raw, f"action '{name[:64]}' is not one this NPC may use")
    if not isinstance(arguments, dict):
        raise _junk(raw, f"the arguments of '{name}' are not an object")
    return Reply(data["say"].strip(), name, arguments, feeling)


def emotion_of(word: Any) -> str | None:
    """The protocol's emotion for the model's word ("alarm": "fear"; a protocol name is
    taken as it is, "" stays ""); None for anything else."""
    if word == "" or word in EMOTIONS:
        return str(word)
    return _FROM_WORD.get(word) if isinstance(word, str) else None


def _junk(raw: str, why: str) -> BackendError:
    shown = raw if len(raw) <= 200 else raw[:200] + "..."
    return BackendError(f"the model's reply is {why}: {shown!r}", code=BAD_OUTPUT, stage="llm")


class SayStream:
    """Feed the model's output as it streams; get back the new text of its "say" field."""

    def __init__(self) -> None:
        self.raw = ""  # everything fed so far
        self._pos = -1  # where the say string's undecoded rest starts in `raw`; -1: not yet
        self._done = False
        self.emotion = ""  # the reply's emotion, once written (before or after the line)

    def feed(self, piece: str) -> str:
        """Add `piece`; return the part of the line it completes ("" when none)."""
        self.raw += piece
        if not self.emotion:
            feeling = _EMOTION.search(self.raw)
            self.emotion = (emotion_of(feeling.group(1)) or "") if feeling else ""
        if self._done:
            return ""
        if self._pos < 0:
            m = _OPENING.search(self.raw)
            if m is None:
                return ""
            self._pos = m.end()
        out: list[str] = []
        raw, i = self.raw, self._pos
        while i < len(raw):
            c = raw[i]
            if c == '"':
                self._done = True
                i += 1
                break
            if c != "\\":
                out.append(c)
                i += 1
                continue
            if i + 1 >= len(raw):
                break  # the escape is split across pieces: wait for the rest
            e = raw[i + 1]
            if e == "u":
                if i + 6 > len(raw):
                    break
                try:
                    point = int(raw[i + 2 : i + 6], 16)
                except ValueError:
                    point = 0xFFFD
                if not 0xD800 <= point <= 0xDFFF:  # halves of a pair: the final line has it
                    out.append(chr(point))
                i += 6
            else:
                out.append(_ESCAPES.get(e, e))
                i += 2
        self._pos = i
        return "".join(out)
