"""Turn-taking from VAD probabilities, on exact timelines (no audio, no model)."""

from __future__ import annotations

from npc.hearing import reads_finished
from npc.turns import Event, TurnConfig, TurnDetector

FRAME = 512  # Silero's frame at 16 kHz: 32 ms
SPOKE = 20 * 32  # ms: where the speech of the timelines below stops


def play(detector: TurnDetector, timeline: list[tuple[float, int]], early_at: int = -1
         ) -> list[tuple[Event, int]]:
    """Push (probability, frames) runs; the events and the ms (of audio) each came at.
    `early_at`: the frame at which the hearing says the words read as finished."""
    out, frame = [], 0
    for p, count in timeline:
        for _ in range(count):
            if frame == early_at:
                detector.early = True
            ev = detector.push(p)
            frame += 1
            if ev is not None:
                out.append((ev.event, ev.sample * 1000 // 16000))
    return out


def test_a_turn_starts_pauses_and_ends_after_the_hangover() -> None:
    d = TurnDetector(TurnConfig(), FRAME)
    events = play(d, [(0.9, 20), (0.0, 20)])  # 640 ms of speech, then silence
    assert [e for e, _ in events] == [Event.SPEECH_START, Event.PAUSE, Event.END_OF_TURN]
    assert events[1][1] == SPOKE + 32  # the first silent frame
    assert events[2][1] - SPOKE == 480


def test_speech_within_the_hangover_resumes_the_turn() -> None:
    d = TurnDetector(TurnConfig(), FRAME)
    events = play(d, [(0.9, 20), (0.0, 10), (0.9, 10), (0.0, 20)])  # a 320 ms pause
    assert [e for e, _ in events] == [
        Event.SPEECH_START, Event.PAUSE, Event.RESUME, Event.PAUSE, Event.END_OF_TURN
    ]


def test_a_finished_question_ends_after_the_quick_hangover() -> None:
    d = TurnDetector(TurnConfig(), FRAME)
    events = play(d, [(0.9, 20), (0.0, 20)], early_at=25)  # told 5 frames into the pause
    assert events[2][0] is Event.END_OF_TURN
    assert events[2][1] - SPOKE == 320


def test_told_late_it_ends_at_once_and_speech_clears_it() -> None:
    late = TurnDetector(TurnConfig(), FRAME)  # told 12 frames (384 ms) into the pause
    events = play(late, [(0.9, 20), (0.0, 20)], early_at=32)
    assert events[2][0] is Event.END_OF_TURN and events[2][1] - SPOKE == 13 * 32
    resumed = TurnDetector(TurnConfig(), FRAME)  # told, then the player goes on
    events = play(resumed, [(0.9, 20), (0.0, 6), (0.9, 10), (0.0, 20)], early_at=24)
    assert events[-1][0] is Event.END_OF_TURN
    assert events[-1][1] - 36 * 32 == 480  # the full hangover after the second run


def test_the_quick_hangover_can_be_turned_off() -> None:
    d = TurnDetector(TurnConfig(quick_hangover_ms=0), FRAME)
    events = play(d, [(0.9, 20), (0.0, 20)], early_at=21)
    assert events[2][1] - SPOKE == 480


def test_only_a_question_reads_as_finished() -> None:
    assert reads_finished("Where can I find the quartermaster?")
    assert reads_finished('He asked "why?" ')
    assert not reads_finished("Wait, stop.")  # may be the first of several sentences
    assert not reads_finished("Paint my mech red")
