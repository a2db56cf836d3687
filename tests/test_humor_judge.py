"""The steering bench's humor judge: it trains from the packages' text, tells obvious jokes
from plain lines it never saw, and is blind to the words and openers the steering adds."""

from __future__ import annotations

import pytest

from npc import steer
from npc.bench import humor

# None of these is in the training text, and none uses the steered humor words.
JOKES = (
    "Why did the mech cross the hangar? To get to the other side of its warranty.",
    "Sure, I'll fix your reactor, right after I teach the coffee machine to sing.",
    "The stores are so empty even the rats filed a complaint.",
    "Pilots? They land like they're trying to dig a new deck.",
)
PLAIN = (
    "The cargo lift is on deck 3, past the fuel lines.",
    "We close at the second watch. Come back tomorrow.",
    "The north hangar holds the reactor and the repair bays.",
    "Pilots check in with dock security before every launch.",
)


@pytest.fixture(scope="module")
def judge() -> humor.Judge:
    try:
        return humor.judge()
    except humor.MissingCorpus as e:
        pytest.skip(str(e))


def test_it_tells_jokes_from_plain_lines(judge: humor.Judge) -> None:
    jokes, plain = judge.probabilities(JOKES), judge.probabilities(PLAIN)
    # Every joke ranks above every plain line; most (not all: recall is about 0.8) pass 0.5.
    assert min(jokes) > max(plain) and max(plain) < 0.5, (jokes, plain)
    assert sum(p > 0.5 for p in jokes) >= len(JOKES) - 1, jokes


def test_its_held_out_scores_are_reported(judge: humor.Judge) -> None:
    scores = judge.held_out
    assert scores.jokes > 200 and scores.plain > 1000
    assert scores.balanced_accuracy > 0.85 and scores.precision > 0.6 and scores.recall > 0.7


def test_the_steered_words_and_openers_do_not_move_it(judge: humor.Judge) -> None:
    line = "The north hangar holds the reactor and the repair bays."
    marked = f"{line} " + " ".join(steer.VOCABULARY["humor"])
    assert judge.probabilities([marked]) == pytest.approx(judge.probabilities([line]))
    for opener in steer.OPENERS["humor"]:
        assert humor.strip_opener(f"{opener} {line}") == line
    assert humor.strip_opener(line) == line
