"""Steering: labels, the exact SteerLM prompt, merge errors, fallbacks and the training log."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from bridge.errors import ProtocolError
from npc import steer
from npc.llm.base import Decoding, token_bias

DEFAULT_LABEL = (
    "quality:4,toxicity:0,humor:0,creativity:0,helpfulness:4,"
    "correctness:4,coherence:4,complexity:4,verbosity:4"
)


def test_label_is_in_nemo_aligner_order() -> None:
    assert steer.label(steer.DEFAULTS) == DEFAULT_LABEL
    shuffled = dict(reversed(list(steer.DEFAULTS.items())))
    assert steer.label({**shuffled, "humor": 3, "verbosity": 1}) == DEFAULT_LABEL.replace(
        "humor:0", "humor:3"
    ).replace("verbosity:4", "verbosity:1")
    assert steer.label({"toxicity": 2}) == DEFAULT_LABEL.replace("toxicity:0", "toxicity:2")


def test_prompt_for_a_two_turn_conversation_is_exact() -> None:
    turns = [
        ("User", "Paint my mech red."),
        ("Assistant", "Red it is. Come back in an hour."),
        ("User", "How much for a new actuator?"),
    ]
    terse = {"verbosity": 1, "humor": 2}
    terse_label = DEFAULT_LABEL.replace("humor:0", "humor:2").replace("verbosity:4", "verbosity:1")
    assert steer.steerlm_prompt("You are Brakka, a mechanic.", turns, terse) == (
        "<extra_id_0>System\nYou are Brakka, a mechanic.\n"
        "<extra_id_1>User\nPaint my mech red.\n"
        f"<extra_id_1>Assistant\n<extra_id_2>{terse_label}\nRed it is. Come back in an hour.\n"
        "<extra_id_1>User\nHow much for a new actuator?\n"
        f"<extra_id_1>Assistant\n<extra_id_2>{terse_label}\n"
    )


def test_past_assistant_turns_keep_their_own_label() -> None:
    turns = [("User", "Hi."), ("Assistant", "What?", {"toxicity": 3}), ("User", "Hello?")]
    prompt = steer.steerlm_prompt("S", turns, steer.DEFAULTS)
    rude = DEFAULT_LABEL.replace("toxicity:0", "toxicity:3")
    assert f"<extra_id_1>Assistant\n<extra_id_2>{rude}\nWhat?\n" in prompt
    assert prompt.endswith(f"<extra_id_1>Assistant\n<extra_id_2>{DEFAULT_LABEL}\n")
    with pytest.raises(ValueError, match="role"):
        steer.steerlm_prompt("S", [("Narrator", "x")], steer.DEFAULTS)


def test_merge_applies_changes_and_refuses_bad_ones() -> None:
    merged = steer.merge(steer.DEFAULTS, {"humor": 4})
    assert merged["humor"] == 4
    assert list(merged) == list(steer.ATTRIBUTES)
    assert steer.merge({"humor": 2}, {})["verbosity"] == 4  # missing names from DEFAULTS
    with pytest.raises(ProtocolError, match="unknown steer attribute 'humour'"):
        steer.merge(steer.DEFAULTS, {"humour": 2})
    with pytest.raises(ProtocolError, match="0-4, got 5"):
        steer.merge(steer.DEFAULTS, {"verbosity": 5})
    with pytest.raises(ProtocolError, match="0-4, got -1"):
        steer.merge(steer.DEFAULTS, {"verbosity": -1})
    for bad in ("3", 2.5, True):
        with pytest.raises(ProtocolError, match="integer"):
            steer.merge(steer.DEFAULTS, {"humor": bad})


def test_instructions_follow_each_verbosity_level() -> None:
    by_level = [steer.instructions({"verbosity": v}) for v in range(5)]
    assert len({tuple(lines) for lines in by_level}) == 5
    assert "Answer in at most one short sentence." in by_level[0]
    assert "Answer at length, in four to six sentences." in by_level[4]


def test_instructions_name_only_what_differs_from_neutral() -> None:
    neutral = set(steer.instructions(steer.DEFAULTS))
    villain = steer.instructions({"toxicity": 4, "helpfulness": 0, "humor": 3})
    assert "Be rude and insulting, mocking the player." in villain
    assert "Be unhelpful, evasive." in villain
    assert "Be funny: make a joke or pun." in villain
    assert not any("rude" in line or "funny" in line for line in neutral)
    assert len(villain) == len(neutral) + 3


def test_decoding_budget_grows_with_verbosity_and_heat_with_creativity() -> None:
    base = Decoding(max_tokens=160, temperature=0.7, top_p=0.95, seed=7, stop=("\n",))
    budgets = [steer.decoding({"verbosity": v}, base).max_tokens for v in range(5)]
    assert budgets == sorted(budgets) and len(set(budgets)) == 5
    heat = [steer.decoding({"creativity": c}, base) for c in range(5)]
    assert [d.temperature for d in heat] == sorted(d.temperature for d in heat)
    assert heat[0].temperature < base.temperature < heat[4].temperature
    assert all(0 < d.top_p <= 1 for d in heat)
    assert heat[2].seed == 7 and heat[2].stop == ("\n",)  # the rest of base is kept


def test_steer_log_writes_nemo_aligner_records(tmp_path: Path) -> None:
    log = steer.SteerLog(tmp_path / "logs" / "steer.jsonl")
    log.write("You are Brakka.", [("User", "Paint my mech red.")], "Red it is.", {"humor": 2})
    history = [("User", "Paint my mech red."), ("Assistant", "Red it is.", {"humor": 2})]
    log.write("You are Brakka.", [*history, ("User", "Thanks!")], "Don't mention it.", {})

    lines = (tmp_path / "logs" / "steer.jsonl").read_text(encoding="utf-8").splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first == {
        "system": "You are Brakka.",
        "conversations": [
            {"from": "User", "value": "Paint my mech red.", "label": None},
            {
                "from": "Assistant",
                "value": "Red it is.",
                "label": DEFAULT_LABEL.replace("humor:0", "humor:2"),
            },
        ],
        "mask": "User",
        "type": "VALUE_TO_TEXT",
    }
    roles = [c["from"] for c in second["conversations"]]
    assert roles == ["User", "Assistant", "User", "Assistant"]
    assert second["conversations"][1]["label"] == DEFAULT_LABEL.replace("humor:0", "humor:2")
    assert second["conversations"][3] == {
        "from": "Assistant",
        "value": "Don't mention it.",
        "label": DEFAULT_LABEL,
    }
    log.close()


def test_steer_log_is_flushed_per_turn_and_thread_safe(tmp_path: Path) -> None:
    log = steer.SteerLog(tmp_path / "steer.jsonl")
    log.write("S", [("User", "one")], "flushed", {})
    assert "flushed" in (tmp_path / "steer.jsonl").read_text(encoding="utf-8")  # before close

    def many(n: int) -> None:
        for i in range(50):
            log.write("S", [("User", f"{n}-{i}")], "x" * 2000, {"verbosity": n % 5})

    workers = [threading.Thread(target=many, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    log.close()
    lines = (tmp_path / "steer.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 4 * 50
    assert all(json.loads(line)["type"] == "VALUE_TO_TEXT" for line in lines)


def test_defaults_add_no_word_bias_and_no_opener() -> None:
    assert steer.word_bias(steer.DEFAULTS) == ()
    assert steer.openers(steer.DEFAULTS) == ()
    assert steer.decoding(steer.DEFAULTS, Decoding()).word_bias == ()


def test_toxicity_and_humor_bias_their_words_more_with_each_level() -> None:
    biases = [dict(steer.word_bias({"toxicity": level})) for level in range(5)]
    assert biases[0] == {}
    assert set(biases[4]) == set(steer.VOCABULARY["toxicity"])
    assert 0 < biases[1]["idiot"] < biases[2]["idiot"] < biases[4]["idiot"]
    both = dict(steer.decoding({"toxicity": 2, "humor": 3}, Decoding()).word_bias)
    assert both["joke"] > both["idiot"] > 0


def test_openers_come_at_level_four_and_an_npc_list_replaces_the_stock_one() -> None:
    assert steer.openers({"humor": 3}) == ()
    assert steer.openers({"humor": 4}) == steer.OPENERS["humor"]
    assert steer.openers({"toxicity": 4, "humor": 4}) == (
        *steer.OPENERS["toxicity"], *steer.OPENERS["humor"])
    assert steer.openers({"toxicity": 4}, {"toxicity": ["Out of my way, grease-rat."]}) == (
        "Out of my way, grease-rat.",)


def test_open_with_makes_the_say_pattern_keep_the_length_bounds() -> None:
    schema = {"type": "object", "properties": {
        "action": {"type": "null"}, "say": {"type": "string", "minLength": 30, "maxLength": 60}}}
    opened = steer.open_with(schema, ["Ha! Got you.", "Are you (really) sure?"])
    pattern = opened["properties"]["say"]["pattern"]
    assert "minLength" not in opened["properties"]["say"]
    assert opened["properties"]["action"] == schema["properties"]["action"]
    assert schema["properties"]["say"]["minLength"] == 30  # the original is left alone
    assert re.match(pattern, "Ha! Got you. " + "x" * 20)
    assert re.match(pattern, "Are you (really) sure? " + "x" * 20)
    assert not re.match(pattern, "Ha! Got you. " + "x" * 5)  # too short in all
    assert not re.match(pattern, "Ha! Got youX " + "x" * 20)  # "." is literal
    assert not re.match(pattern, "Hello there. " + "x" * 20)
    assert not re.match(pattern, 'Ha! Got you. "quoted" ' + "x" * 20)
    assert steer.open_with(schema, []) is schema
    with pytest.raises(ValueError, match="opener"):
        steer.open_with(schema, ['Say "hi"'])


def test_token_bias_biases_only_words_that_are_one_token() -> None:
    vocab = {"idiot": 1, " idiot": 2, " Idiot": 3, "ha": 4, " ha": 5}

    def tokenize(text: str) -> list[int]:
        return [vocab[text]] if text in vocab else [9, 9]

    assert token_bias((("idiot", 2.0), ("ha", 1.0), ("scum", 3.0)), tokenize) == {
        1: 2.0, 2: 2.0, 3: 2.0, 4: 1.0, 5: 1.0}
