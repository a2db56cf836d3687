"""The NPC's side of a turn: its line as it streams, emotion, interruption and turn end."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.messages.base import IN, OUT, SessionMessage, register

# The emotions an `emotion` message names (and a face animator shows).
EMOTIONS = ("neutral", "joy", "anger", "sadness", "fear", "surprise", "disgust")


# Why an NPC turn happens: a player spoke or typed, a script made the NPC talk, or it is a
# line of an NPC-to-NPC exchange.
CAUSES = ("player", "script", "banter")


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TurnStart(SessionMessage):
    """Brain -> engine, first message of every NPC turn: whose voice, face and words follow."""

    TYPE = "turn-start"
    DIRECTION = OUT
    CONTROL = True
    turn: int
    npc: str  # the NPC speaking in this turn (an id of the session's `npcs`)
    player: str  # the player it answers or talks to; "" when it talks to NPCs (banter)
    cause: str  # one of CAUSES


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueDelta(SessionMessage):
    """Brain -> engine: the next piece of the NPC's line, as the model writes it."""

    TYPE = "dialogue-delta"
    DIRECTION = OUT
    turn: int
    text: str  # append to what came before in this turn


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueFinal(SessionMessage):
    """Brain -> engine: the NPC's whole line for the turn (what it actually said)."""

    TYPE = "dialogue-final"
    DIRECTION = OUT
    turn: int
    text: str


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Emotion(SessionMessage):
    """Brain -> engine: the NPC's emotion from `start_sample` on the turn's audio timeline."""

    TYPE = "emotion"
    DIRECTION = OUT
    turn: int
    emotion: str  # one of EMOTIONS
    intensity: float  # 0.0-1.0
    start_sample: int = 0


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Interrupted(SessionMessage):
    """Brain -> engine: the NPC stopped mid-turn; nothing after `stop_sample` will come."""

    TYPE = "interrupted"
    DIRECTION = OUT
    CONTROL = True
    turn: int
    stop_sample: int  # NPC audio samples of this turn that were sent before it stopped
    reason: str  # "barge-in" (the player spoke over it), "cancel" (engine asked)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class TurnEnd(SessionMessage):
    """Brain -> engine: the NPC's turn is over; `latency_ms` has the per-stage trace."""

    TYPE = "turn-end"
    DIRECTION = OUT
    CONTROL = True
    turn: int
    reason: str  # "done", "interrupted", "cancelled", "error"
    audio_samples: int = 0  # NPC audio samples sent in this turn
    latency_ms: dict[str, float] = field(default_factory=dict)
    npc: str = ""  # the NPC whose turn it was (as in its `turn-start`)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel(SessionMessage):
    """Engine -> brain: stop the NPC's reply in flight (speech, actions not yet sent)."""

    TYPE = "cancel"
    DIRECTION = IN
    CONTROL = True
