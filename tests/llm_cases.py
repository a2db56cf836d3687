"""What the LLM backend tests ask: a short reply schema and two NPC personas."""

from __future__ import annotations

from npc.llm.base import ChatMessage

# "say" first and short, so a constrained reply fits a small max_tokens.
SCHEMA = {
    "type": "object",
    "properties": {
        "say": {"type": "string", "maxLength": 40},
        "mood": {"enum": ["calm", "angry"]},
    },
    "required": ["say", "mood"],
}
# Personas long enough that evaluating one again is the bulk of a short reply's cost.
BRAKKA = ChatMessage(
    "system",
    "You are Brakka, the gruff quartermaster of the mech hangar on Kessel Deep. You keep "
    "the spare actuators, sign out the plasma cutters and complain about pilots who "
    "scratch the paint. You answer in one short sentence and never break character.",
)
VESSA = ChatMessage(
    "system",
    "You are Vessa, a cheerful test pilot who has flown every mech in the hangar and "
    "names each one after a bird. You answer in one short sentence, always cheerful, "
    "and you never mention that you are a program.",
)
