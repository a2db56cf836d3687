"""Turn-taking from VAD probabilities: when the player starts, pauses, resumes and is done.

Pure and clocked in samples of 16 kHz player audio, so tests replay exact timelines.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class TurnConfig:
    """Thresholds and durations; the defaults are chosen by measurement (docs/benchmarks.md)."""

    speech_on: float = 0.5  # VAD probability that counts as speech
    speech_off: float = 0.35  # and below which it counts as silence again (hysteresis)
    min_speech_ms: int = 96  # speech this long starts an utterance (shorter: a click)
    hangover_ms: int = 480  # silence this long after speech ends the turn
    # ...or this long, once the hearing says the words so far read as a finished question
    # (`TurnDetector.early`); 0: never sooner than hangover_ms.
    quick_hangover_ms: int = 320
    sample_rate: int = 16000


class Event(Enum):
    SPEECH_START = "speech-start"  # the player started talking (after min_speech_ms)
    PAUSE = "pause"  # speech stopped; the turn may be over (speculate now)
    RESUME = "resume"  # speech came back within the hangover: the turn goes on
    END_OF_TURN = "end-of-turn"  # silence lasted the hangover: the turn is over


@dataclass(frozen=True, slots=True)
class TurnEvent:
    event: Event
    sample: int  # where on the player's 16 kHz timeline it happened
    speech_samples: int  # speech in the utterance so far


class TurnDetector:
    """Feed it one VAD probability per frame; it says what happened, if anything."""

    def __init__(self, config: TurnConfig, frame_samples: int) -> None:
        self.config = config
        self.frame = frame_samples
        ms = config.sample_rate / 1000
        self._min_speech = int(config.min_speech_ms * ms)
        self._hangover = int(config.hangover_ms * ms)
        quick = min(config.quick_hangover_ms or config.hangover_ms, config.hangover_ms)
        self._quick = int(quick * ms)
        self.reset()

    def reset(self) -> None:
        """Back to waiting for speech (after a turn ended, or push-to-talk)."""
        self.in_utterance = False  # speech started and the turn is not over
        self.speaking = False  # in a run of speech frames right now
        self._run = 0  # samples of the current speech run, before the utterance starts
        self._silence = 0  # samples of silence since speech last stopped
        self.speech = 0  # speech samples in the utterance
        self.position = 0  # samples seen
        # Set (from the event loop) when the transcript at this pause reads as finished:
        # the turn may then end after the quick hangover. Speech again clears it.
        self.early = False

    def push(self, probability: float) -> TurnEvent | None:
        c = self.config
        self.position += self.frame
        voiced = probability >= (c.speech_off if self.speaking else c.speech_on)
        event: Event | None = None
        if voiced:
            self._silence = 0
            self.early = False
            if not self.in_utterance:
                self._run += self.frame
                if self._run >= self._min_speech:
                    self.in_utterance, self.speech = True, self._run
                    event = Event.SPEECH_START
            else:
                self.speech += self.frame
                if not self.speaking:
                    event = Event.RESUME
            self.speaking = True
            return self._event(event)
        if self.speaking and self.in_utterance:
            event = Event.PAUSE
        self.speaking = False
        self._run = 0
        if self.in_utterance:
            self._silence += self.frame
            if self._silence >= (self._quick if self.early else self._hangover):
                ended = self._event(Event.END_OF_TURN)
                self.reset_keep_position()
                return ended
        return self._event(event)

    def reset_keep_position(self) -> None:
        position = self.position
        self.reset()
        self.position = position

    def _event(self, event: Event | None) -> TurnEvent | None:
        if event is None:
            return None
        return TurnEvent(event, self.position, self.speech)
