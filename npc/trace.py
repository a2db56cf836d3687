"""One turn's latency trace: when each stage got there, in ms after the player's input ended.

Every mark is taken on one clock (time.perf_counter in the brain) and measured from the
turn's origin: the arrival of the last speech sample of the utterance (the chunk that
held it), or the arrival of a typed line. The turn-end message carries the marks in
`latency_ms`; the logger `npc_bridge.latency` gets one line per turn.
"""

from __future__ import annotations

import logging
import time

from npc.llm.base import Usage

log = logging.getLogger("npc_bridge.latency")

# The marks, in the order a turn reaches them (docs/latency.md says what each one is).
STAGES = (
    "ahead",  # spoken: the model began the reply at the pause, before the turn was confirmed
    "voiced",  # spoken: that reply's first clause went to the voice before the turn began
    "end_of_turn",  # spoken: the VAD's hangover ran out
    "transcript",  # spoken: the final transcript is decoded
    "prepared",  # lore and memory gathered, the prompt built
    "acknowledged",  # the NPC's acknowledgement ("Hm.") went out ([speech] acknowledge)
    "first_token",  # the model's first piece of output
    "first_text",  # the first words of the NPC's line (a dialogue-delta went out)
    "first_clause",  # the first clause went to the voice
    "first_audio",  # the first npc-audio chunk went out (an acknowledgement's, if any)
    "line_audio",  # the first npc-audio chunk of the NPC's line itself
    "first_face",  # the first face-frames went out
    "generated",  # the model finished the reply
    "spoken",  # the last audio and face frames went out
)


class Trace(dict[str, float]):
    """Marks of one turn (name -> ms after `origin`) plus durations named `..._ms`.

    A dict, so it travels as turn-end's `latency_ms` as it is; `mark` keeps the first
    time a stage is reached (a second line in the turn does not move `first_text`).
    """

    def __init__(self, origin: float | None = None, kind: str = "") -> None:
        super().__init__()
        self.origin = time.perf_counter() if origin is None else origin
        self.kind = kind  # "spoken", "typed", or "" (a turn the NPC starts)
        self._usage: Usage | None = None

    def usage(self) -> Usage:
        """A Usage for the turn's generation: its token counts join the log line."""
        self._usage = Usage()
        return self._usage

    def adopt(self, usage: Usage) -> None:
        """The turn's generation counts its tokens in `usage` (one begun ahead of it)."""
        self._usage = usage

    def mark(self, stage: str, at: float | None = None) -> None:
        if stage not in self:
            now = time.perf_counter() if at is None else at
            self[stage] = round((now - self.origin) * 1000, 3)

    def line(self, session: str, turn: int) -> str:
        """The log line: the marks in stage order, then anything else."""
        known = [s for s in STAGES if s in self]
        rest = sorted(k for k in self if k not in STAGES)
        cells = " ".join(f"{k}={self[k]:.0f}" for k in [*known, *rest])
        u = self._usage
        if u is not None and u.prompt_tokens:
            cells += (f" | tokens: prompt={u.prompt_tokens} cached={u.cached_tokens} "
                      f"generated={u.completion_tokens}")
        return f"{session} turn {turn} ({self.kind or 'npc'}): {cells}"


def log_turn(trace: Trace, session: str, turn: int) -> None:
    log.info("%s", trace.line(session, turn))
