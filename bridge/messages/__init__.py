"""Every protocol message, one module per family; importing this registers them all."""

from bridge.messages.actions import ActionCall, ActionResult
from bridge.messages.audio import AudioChunk, AudioEnd, NpcAudio
from bridge.messages.base import BOTH, IN, OUT, REGISTRY, Message, SessionMessage
from bridge.messages.control import Bye, Error, Heartbeat, Hello, Welcome
from bridge.messages.dialogue import (
    Cancel,
    DialogueDelta,
    DialogueFinal,
    Emotion,
    Interrupted,
    TurnEnd,
    TurnStart,
)
from bridge.messages.face import FaceFrames, FaceHeader
from bridge.messages.game import GameEvent, Steer
from bridge.messages.limits import SAMPLE_RATES, STEER_ATTRIBUTES
from bridge.messages.session import SessionClose, SessionClosed, SessionOpen, SessionOpened
from bridge.messages.speech import TextInput, Transcript

__all__ = [
    "BOTH",
    "IN",
    "OUT",
    "REGISTRY",
    "SAMPLE_RATES",
    "STEER_ATTRIBUTES",
    "ActionCall",
    "ActionResult",
    "AudioChunk",
    "AudioEnd",
    "Bye",
    "Cancel",
    "DialogueDelta",
    "DialogueFinal",
    "Emotion",
    "Error",
    "FaceFrames",
    "FaceHeader",
    "GameEvent",
    "Heartbeat",
    "Hello",
    "Interrupted",
    "Message",
    "NpcAudio",
    "SessionClose",
    "SessionClosed",
    "SessionMessage",
    "SessionOpen",
    "SessionOpened",
    "Steer",
    "TextInput",
    "Transcript",
    "TurnEnd",
    "TurnStart",
    "Welcome",
]
