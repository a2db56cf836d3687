"""What the player said: typed text in, transcripts of their speech out."""

from __future__ import annotations

from dataclasses import dataclass

from bridge import errors
from bridge.errors import ProtocolError
from bridge.messages.base import IN, OUT, SessionMessage, register

MAX_TEXT = 4000  # characters in one typed line


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TextInput(SessionMessage):
    """Engine -> brain: the player typed a line; it is a whole turn."""

    TYPE = "text-input"
    DIRECTION = IN
    text: str
    player: str = ""  # who typed it, in a group session; "" = the session's `player`

    def check(self) -> None:
        if not self.text.strip() or len(self.text) > MAX_TEXT:
            raise ProtocolError(
                f"text must be 1-{MAX_TEXT} characters and not blank", code=errors.BAD_FIELD
            )


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript(SessionMessage):
    """Brain -> engine: what the player is saying; partials while they speak, then a final."""

    TYPE = "transcript"
    DIRECTION = OUT
    turn: int
    text: str  # the whole utterance so far (not a delta)
    final: bool
    player: str = ""  # whose speech (always set by the brain: the session's player by default)
