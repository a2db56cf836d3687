"""The clause splitter: where the NPC's streaming line is cut for speech."""

from __future__ import annotations

from npc.clauses import ClauseSplitter


def split(text: str, step: int = 3) -> list[str]:
    """Feed `text` a few characters at a time, as a model streams it."""
    s = ClauseSplitter()
    out: list[str] = []
    for i in range(0, len(text), step):
        out += s.feed(text[i : i + step])
    return out + s.flush()


def test_sentences_are_cut_as_soon_as_they_end() -> None:
    s = ClauseSplitter()
    assert s.feed("Ah, pilot") == []  # the comma comes before FIRST_MIN_CHARS
    assert s.feed(". The hangar") == ["Ah, pilot."]
    assert s.feed(" is open! Go") == ["The hangar is open!"]
    assert s.flush() == ["Go"]


def test_first_clause_ends_early_at_a_comma_later_ones_wait() -> None:
    text = "Well now, pilot friend, the mech bay is busy, and the crane is down until dusk."
    assert split(text) == [
        "Well now,",
        "pilot friend, the mech bay is busy, and the crane is down until dusk.",
    ]


def test_numbers_and_marks_without_a_space_are_not_cut() -> None:
    assert split("It costs 3.5 now. Deal?") == ["It costs 3.5 now.", "Deal?"]


def test_a_long_run_with_no_mark_is_cut_at_a_space() -> None:
    words = " ".join(["word"] * 60)
    out = split(words)
    assert len(out) >= 2
    assert all(len(c) <= 160 for c in out)
    assert " ".join(out) == words


def test_nothing_is_lost_or_reordered() -> None:
    text = 'He said "go." Then: silence; the rest — all of it — waited... Fine!'
    assert " ".join(split(text, step=1)) == text


def test_a_first_clause_with_no_mark_is_cut_after_a_few_words() -> None:
    s = ClauseSplitter()
    out = s.feed("The north hangar runs on a fusion core that hums all night")
    assert out == ["The north hangar"]  # short: its audio is ready quickly
    assert s.feed(" long. Yes") == ["runs on a fusion core that hums all night long."]


def test_the_first_clause_comma_is_cut_as_it_arrives_after_a_word() -> None:
    s = ClauseSplitter()
    assert s.feed("Mind the crane") == []
    assert s.feed(",") == ["Mind the crane,"]  # no need to wait for the next word
    assert s.feed(" kid, or it takes") == []  # later commas wait for a longer clause
    s = ClauseSplitter()
    assert s.feed("It costs 1,") == []  # a number's comma may go on: "1,000"
    assert s.feed("000 credits, kid") == ["It costs 1,000 credits,"]
