"""The guided decoder's parts without a model: schema plans, string tokens, token picking."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from npc.llm.guided import Choice, Forced, Text, Unsupported, lead, plan
from npc.llm.guided_decode import Guided, NpArray, Sampling, StringTokens, pick
from npc.mind.reply import reply_schema

PAINT = {
    "type": "object",
    "properties": {"color": {"type": "string", "enum": ["red", "blue"]}},
    "required": ["color"],
    "additionalProperties": False,
}
GIVE = {
    "type": "object",
    "properties": {
        "item": {"type": "string", "enum": ["wrench", "med kit"]},
        "count": {"type": "integer", "minimum": 1, "maximum": 3},
    },
    "required": ["item"],
}


def heads(step: Any) -> list[str]:
    assert isinstance(step, Choice)
    return [lead(option)[0] for option in step.options]


def test_reply_plan_forces_the_opening_and_chooses_the_action_by_name() -> None:
    steps = plan(reply_schema({"paint_mech": PAINT}, 80, emotion=True))
    text, rest = lead(steps)
    assert text == '{"action": '
    assert heads(rest[0]) == [
        '{"name": "none"}, "say": "',
        '{"name": "paint_mech", "arguments": {"color": ',
    ]
    none = lead(rest[0].options[0])[1]  # type: ignore[union-attr]
    # The line straight after the action; the emotion after the line.
    assert none[:2] == (Text(1, 80), Forced(', "emotion": '))
    assert heads(none[2])[:2] == ['"neutral"}', '"happy"}']


def test_an_optional_property_is_a_choice_to_write_it_or_close() -> None:
    steps = plan({"type": "object", "properties": {"arguments": GIVE}, "required": ["arguments"]})
    text, rest = lead(steps)
    assert text == '{"arguments": {"item": '
    wrench = lead(rest[0].options[0])[1]  # type: ignore[union-attr]
    assert heads(wrench[0]) == [', "count": ', "}}"]
    count = lead(wrench[0].options[0])[1]  # type: ignore[union-attr]
    assert heads(count[0]) == ["1}}", "2}}", "3}}"]


def test_booleans_consts_and_nulls() -> None:
    schema = {
        "type": "object",
        "properties": {"done": {"type": "boolean"}, "v": {"const": 2}, "n": {"type": "null"}},
        "required": ["done", "v", "n"],
    }
    assert heads(lead(plan(schema))[1][0]) == [
        'true, "v": 2, "n": null}',
        'false, "v": 2, "n": null}',
    ]


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "number"},
        {"type": "integer", "minimum": 0, "maximum": 1000},
        {"type": "array", "items": {"type": "string"}},
        {"type": "string", "pattern": "^[a-z]+$"},
        {"$ref": "#/defs/x"},
    ],
)
def test_outside_the_subset_is_unsupported(schema: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        plan({"type": "object", "properties": {"x": schema}, "required": ["x"]})


def test_enum_values_that_begin_alike_are_still_told_apart_by_their_quote() -> None:
    steps = plan({"enum": ["bay", "bay 7"]})
    assert heads(steps[0]) == ['"bay"', '"bay 7"']


def test_string_tokens_sort_what_may_stand_inside_a_json_string() -> None:
    pieces = [b"hi", b'."', b'"', b"\\n", b"\\", b"\x01", b"\xe2\x80", b"\\u00e9x", b"", b'a\\"b']
    v = StringTokens.build(pieces)
    assert v.inside.tolist() == [1, 0, 0, 1, 0, 0, 0, 1, 0, 1]
    assert v.closing.tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert v.cut[1] == 1 and v.cut[2] == 0
    assert v.chars.tolist()[:4] == [2, 1, 0, 1] and v.chars[7] == 2 and v.chars[9] == 3


def sampling(temperature: float, seed: int = 1) -> Sampling:
    return Sampling(temperature, 0.95, 1.0, {}, np.random.default_rng(seed), 100)


def test_pick_is_argmax_cold_and_never_a_masked_token_hot() -> None:
    logits = np.array([0.0, 5.0, 4.9, -np.inf, 4.8], dtype=np.float32)
    assert pick(logits.copy(), sampling(0.0)) == 1
    got = {pick(logits.copy(), sampling(1.0, seed)) for seed in range(40)}
    assert got <= {0, 1, 2, 4} and len(got) >= 2


class ScriptedModel:
    """A model over a tiny vocabulary whose logits favour a fixed list of tokens."""

    def __init__(self, vocab: list[bytes], wants: list[int], runner: int | None = None) -> None:
        self.vocab, self.wants, self.runner = vocab, wants, runner
        self.context: list[int] = []
        self.batches: list[list[int]] = []
        self.rewound: list[int] = []  # tokens forgotten by each rewind

    def tokenize(self, text: bytes) -> list[int]:
        out, at = [], 0
        while at < len(text):  # longest match first
            best = max(
                (i for i, p in enumerate(self.vocab) if p and text.startswith(p, at)),
                key=lambda i: len(self.vocab[i]),
            )
            out.append(best)
            at += len(self.vocab[best])
        return out

    def eval(self, tokens: Sequence[int]) -> None:
        self.batches.append(list(tokens))
        self.context += tokens

    def logits(self) -> NpArray:
        out = np.full(len(self.vocab), -5.0, dtype=np.float32)
        out[self.vocab.index(b'"')] = 0.0
        if self.runner is not None:
            out[self.runner] = 5.0
        if self.wants:
            out[self.wants.pop(0)] = 10.0
        return out

    def recent(self, n: int) -> list[int]:
        return self.context[-n:]

    def room(self) -> int:
        return 1000

    def eval_at(self, tokens: Sequence[int], at: Sequence[int]) -> list[NpArray]:
        self.eval(tokens)
        return [self.logits() for _ in at]

    def size(self) -> int:
        return len(self.context)

    def rewind(self, size: int) -> None:
        self.rewound.append(len(self.context) - size)
        del self.context[size:]


def test_forced_text_goes_with_the_next_decision_in_one_batch_and_a_cut_quote_closes() -> None:
    vocab = [b"{", b'"', b"say", b": ", b"}", b"Hi", b'!"', b"a", b"b", b"x", b'"}']
    schema = {"type": "object", "properties": {"say": {"type": "string"}}, "required": ["say"]}
    model = ScriptedModel(vocab, [5, 6])  # "Hi", then '!"' (the quote and more)
    run = Guided(model, StringTokens.build(vocab), sampling(0.0), threading.Event())
    out = "".join(run.run(plan(schema)))
    assert out == '{"say": "Hi!"}'
    assert model.batches == [[0, 1, 2, 1, 3, 1], [5]]  # '!"}' is never evaluated
    assert run.sampled == 2


def test_min_chars_masks_the_quote_and_max_chars_closes_the_string() -> None:
    vocab = [b"{", b'"', b"say", b": ", b"}", b"abc"]
    schema = {
        "type": "object",
        "properties": {"say": {"type": "string", "minLength": 4, "maxLength": 6}},
        "required": ["say"],
    }
    model = ScriptedModel(vocab, [1, 1, 1], runner=5)  # the quote wanted each time
    run = Guided(model, StringTokens.build(vocab), sampling(0.0), threading.Event())
    assert "".join(run.run(plan(schema))) == '{"say": "abcabc"}'
    assert run.sampled == 2  # at 6 characters the quote is forced, not sampled


def test_cancel_before_the_first_evaluation_gives_nothing() -> None:
    vocab = [b"{", b'"', b"say", b": ", b"}", b"abc"]
    schema = {"type": "object", "properties": {"say": {"type": "string"}}, "required": ["say"]}
    cancel = threading.Event()
    cancel.set()
    model = ScriptedModel(vocab, [5])
    run = Guided(model, StringTokens.build(vocab), sampling(0.0), cancel)
    assert list(run.run(plan(schema))) == []
    assert model.batches == []


MOODS = [b"{", b'"', b"mood", b": ", b", ", b"say", b"calm", b"mad", b"}", b"Hi", b'!"']
MOOD = {
    "type": "object",
    "properties": {"mood": {"enum": ["calm", "mad"]}, "say": {"type": "string"}},
    "required": ["mood", "say"],
}


def test_a_choice_guessed_right_shares_one_batch_with_the_line_opening() -> None:
    model = ScriptedModel(MOODS, [6, 9, 10])  # "calm" (the first option), "Hi", '!"'
    run = Guided(model, StringTokens.build(MOODS), sampling(0.0), threading.Event())
    assert "".join(run.run(plan(MOOD))) == '{"mood": "calm", "say": "Hi!"}'
    # '{"mood": "' with the guess '"calm", "say": "' in one batch; the line's logits follow
    assert model.batches == [[0, 1, 2, 1, 3, 1, 6, 1, 4, 1, 5, 1, 3, 1], [9]]
    assert (run.guesses, run.missed, model.rewound) == (1, 0, [])


def test_a_choice_guessed_wrong_goes_back_and_takes_what_the_logits_chose() -> None:
    model = ScriptedModel(MOODS, [7, 9, 10])  # the logits want "mad", not the guess
    run = Guided(model, StringTokens.build(MOODS), sampling(0.0), threading.Event())
    assert "".join(run.run(plan(MOOD))) == '{"mood": "mad", "say": "Hi!"}'
    assert (run.guesses, run.missed) == (1, 1)
    assert model.rewound == [8]  # the guess's '"calm", "say": "' forgotten
    assert model.context == [0, 1, 2, 1, 3, 1, 7, 1, 4, 1, 5, 1, 3, 1, 9]
    assert 6 not in model.context


def test_without_speculation_each_choice_has_its_own_batch() -> None:
    model = ScriptedModel(MOODS, [6, 9, 10])
    run = Guided(model, StringTokens.build(MOODS), sampling(0.0), threading.Event(),
                 speculate=False)
    assert "".join(run.run(plan(MOOD))) == '{"mood": "calm", "say": "Hi!"}'
    assert model.batches == [[0, 1, 2, 1, 3, 1], [6, 1, 4, 1, 5, 1, 3, 1], [9]]


def test_a_string_option_the_hint_names_is_guessed_instead_of_the_first() -> None:
    model = ScriptedModel(MOODS, [7, 9, 10])  # the logits want "mad"
    run = Guided(model, StringTokens.build(MOODS), sampling(0.0), threading.Event(),
                 hint="player says: why are you so mad?")
    assert "".join(run.run(plan(MOOD))) == '{"mood": "mad", "say": "Hi!"}'
    assert (run.guesses, run.missed, model.rewound) == (1, 0, [])  # one batch, no miss
    assert len(model.batches) == 2


def test_a_preferred_string_option_is_guessed_when_the_hint_names_none() -> None:
    # The NPC's usual emotion ("mad") is guessed; a hint naming an option still wins.
    model = ScriptedModel(MOODS, [7, 9, 10])  # the logits want "mad"
    run = Guided(model, StringTokens.build(MOODS), sampling(0.0), threading.Event(),
                 prefer=("sad", "mad"))
    assert "".join(run.run(plan(MOOD))) == '{"mood": "mad", "say": "Hi!"}'
    assert (run.guesses, run.missed, model.rewound) == (1, 0, [])
    model = ScriptedModel(MOODS, [7, 9, 10])
    run = Guided(model, StringTokens.build(MOODS), sampling(0.0), threading.Event(),
                 hint="player says: stay calm.", prefer=("mad",))
    assert "".join(run.run(plan(MOOD))) == '{"mood": "mad", "say": "Hi!"}'
    assert (run.guesses, run.missed) == (1, 1)  # "calm" guessed from the hint, and missed


def test_an_action_whose_verb_the_line_asks_for_is_guessed() -> None:
    from npc.llm.guided_decode import _guess

    def guessed(line: str) -> str:
        heads = [lead(o)[0].encode() for o in rest[0].options]  # type: ignore[union-attr]
        return heads[_guess(heads, line.lower())].decode().split('"')[3]

    actions = {"paint_mech": PAINT, "open_door": {"type": "object", "properties": {}}}
    _, rest = lead(plan(reply_schema(actions, 80)))
    assert guessed("Paint my mech red.") == "paint_mech"
    assert guessed("Can you open the door, please?") == "open_door"
    assert guessed("Hello. Paint it blue!") == "paint_mech"
    # A verb that does not ask for anything, or no verb: "none", the likeliest.
    assert guessed("When is the stores window open?") == "none"
    assert guessed("I painted it myself.") == "none"
    assert guessed("I need two power cells.") == "none"
