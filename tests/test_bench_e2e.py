"""`npc-bridge bench e2e`: its arguments, and its quick form on a scripted model.

The quick run is the real bench on fast parts: a real server, the sample game's thinking
brain on FakeLlm with the real piper voice and the real ears (Silero VAD, Whisper), the
spoken lines made with piper and streamed in real time. No timing is asserted: only that
every turn is measured from end to end and the table is built from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npc.bench.e2e import QUICK_LINES, Measured, PlayerLine, Voices, bench
from npc.bench.e2e_run import ENGINE_TOTAL, brain_setting, print_tables, print_turns, summarise
from npc.cli import main
from npc.ears import Ears
from npc.speaking import SpeechOptions
from npc.speaking import Voices as NpcVoices
from npc.tts.base import Tts
from sample_game import CONFIG
from tests import test_hearing
from tests.helpers import run
from tests.mind_helpers import FakeLlm, mind, reply

ears = test_hearing.ears


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--sessions", "0"], "each count must be 1 to 64"),
        (["--sessions", "1,x"], "whole numbers"),
        (["--lines", "0"], "give 1 to 12 lines"),
        (["--lines", "13"], "give 1 to 12 lines"),
        (["--brain", "lore_k"], "give KEY=VALUE"),
        (["--brain", "speculate=yes please"], "give KEY=VALUE"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "e2e", *argv])
    assert exit_.value.code == 2
    assert complaint in capsys.readouterr().err


def test_a_brain_setting_is_read_as_toml() -> None:
    assert brain_setting("speculate=true") == ("speculate", True)
    assert brain_setting(" lore_k = 1") == ("lore_k", 1)


def test_the_quick_bench_measures_every_turn_end_to_end(
    piper_tts: Tts, ears: Ears, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    brain = mind(FakeLlm(reply("Sure thing, pilot.")), tmp_path / "state")
    brain.voices = NpcVoices(piper_tts, SpeechOptions())
    brain.ears = ears
    voices = Voices(lambda: piper_tts, tmp_path / "lines")

    measured = run(lambda: bench(brain, QUICK_LINES, [2], voices, turn_s=30.0), limit=240)

    assert len(measured) == 2 * len(QUICK_LINES)
    assert not [m.failed for m in measured if m.failed]
    for m in measured:
        assert "first_audio" in m.marks and "first_audio" in m.engine, m
        if m.line.kind == "spoken":
            assert m.heard and "end_of_turn" in m.marks and "transcript" in m.marks, m
    assert len(list((tmp_path / "lines").glob("*.wav"))) == 3  # made once, then cached
    figures = summarise(measured)
    groups = figures["runs"]["2"]["groups"]
    assert set(groups) == {m.line.group for m in measured}
    assert all(ENGINE_TOTAL in g["stages"] for g in groups.values())
    targets = figures["runs"]["2"]["targets"]
    assert targets["spoken, no action"]["turns"] == 4  # plain and lore, in 2 sessions
    assert targets["spoken, with an action"]["turns"] == 2
    print_tables(figures, CONFIG)
    out = capsys.readouterr().out
    assert "2 session(s) at once: 12 turns, 0 failed" in out
    assert "spoken, no action: p50" in out and "target: p50 at most 500 ms" in out


def test_each_turn_is_kept_and_printed_with_what_was_heard_and_done(
    capsys: pytest.CaptureFixture[str],
) -> None:
    asked = PlayerLine("quartermaster", "When is the stores window open?", "spoken", "lore")
    typed = PlayerLine("brakka", "Paint my mech red.", "typed", "action")
    measured = [
        Measured(asked, 1, marks={"end_of_turn": 343.5, "first_audio": 805.5},
                 engine={"first_audio": 851.0}, heard="When is the store's window open?",
                 actions=["quote_price"]),
        Measured(typed, 1, marks={"first_token": 250.0}, failed="timeout"),
    ]

    each = summarise(measured)["runs"]["1"]["each"]

    assert [t["line"] for t in each] == [asked.text, typed.text]
    assert each[0]["actions"] == ["quote_price"] and each[0]["engine_first_audio"] == 851.0
    assert each[0]["marks"]["first_audio"] == 805.5 and each[1]["failed"] == "timeout"
    print_turns(summarise(measured))
    rows = capsys.readouterr().out.splitlines()
    row = next(r for r in rows if asked.text in r)
    assert row.startswith("spoken lore") and "344" in row and "806" in row and "851" in row
    assert "(heard: When is the store's window open?) [quote_price]" in row
    assert "-" in row.split()  # no `ahead` mark: shown as not reached
    typed_row = next(r for r in rows if typed.text in r)
    assert "FAILED: timeout" in typed_row and "(heard" not in typed_row
