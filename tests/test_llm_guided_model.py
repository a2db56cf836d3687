"""Guided JSON decoding on the embedded model: valid replies, few evaluations, limits, cancel."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from llm_cases import BRAKKA

from bridge.errors import ConfigError
from npc.llm.base import ChatMessage, Decoding, LlmRequest, Usage
from npc.llm.llama import LlamaCppLlm
from npc.llm.lookahead import DRAFT_TOKENS
from npc.mind.reply import EMOTION_WORDS, SayStream, parse_reply, reply_schema

PAINT = {
    "type": "object",
    "properties": {"color": {"type": "string", "enum": ["red", "blue", "green"]}},
    "required": ["color"],
    "additionalProperties": False,
}
CLEARANCE = {
    "type": "object",
    "properties": {"pilot": {"type": "string", "maxLength": 24}},
    "required": ["pilot"],
    "additionalProperties": False,
}
WAVE: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
WARM = Decoding(max_tokens=60, temperature=0.7, seed=5)


@pytest.fixture(scope="module")
def llm() -> Iterator[LlamaCppLlm]:
    try:
        model = LlamaCppLlm(n_ctx=1024)
    except ConfigError as e:
        pytest.skip(f"the embedded model is not available here: {e}")
    yield model
    model.close()


def ask(line: str, schema: dict[str, Any], decoding: Decoding = WARM) -> LlmRequest:
    messages = (BRAKKA, ChatMessage("user", line))
    return LlmRequest(messages, schema=schema, decoding=decoding, usage=Usage())


def text(llm: LlamaCppLlm, request: LlmRequest) -> str:
    return "".join(llm.stream(request, threading.Event()))


@pytest.mark.parametrize("emotion", [False, True])
def test_a_reply_with_actions_parses_against_its_schema(llm: LlamaCppLlm, emotion: bool) -> None:
    actions = {"paint_mech": PAINT, "check_clearance": CLEARANCE}
    for line in ("Paint my mech blue, please.", "Nice weather in the hangar today."):
        raw = text(llm, ask(line, reply_schema(actions, 60, emotion=emotion)))
        data = json.loads(raw)
        assert list(data) == (["action", "say", "emotion"] if emotion else ["action", "say"])
        assert 1 <= len(data["say"]) <= 60
        assert not emotion or data["emotion"] in EMOTION_WORDS.values()
        reply = parse_reply(raw, actions)  # checks the action's name and arguments
        assert reply.action in ("", *actions)
        if reply.action == "paint_mech":
            assert reply.arguments["color"] in PAINT["properties"]["color"]["enum"]


def test_a_string_argument_is_written_freely_within_its_length(llm: LlamaCppLlm) -> None:
    call = {
        "type": "object",
        "properties": {"name": {"const": "check_clearance"}, "arguments": CLEARANCE},
        "required": ["name", "arguments"],
    }
    schema = {
        "type": "object",
        "properties": {"action": call, "say": {"type": "string", "maxLength": 60}},
        "required": ["action", "say"],
    }
    raw = text(llm, ask("Is pilot Renn cleared for the armory?", schema))
    data = json.loads(raw)
    assert data["action"]["name"] == "check_clearance"
    assert 0 < len(data["action"]["arguments"]["pilot"]) <= 24


class CountingEvals:
    """Counts the model's evaluations (llama_decode calls), wrapped around the backend's."""

    def __init__(self, llm: LlamaCppLlm) -> None:
        self.ctx = llm._llama._ctx
        self.inner, self.calls = self.ctx.decode, 0

    def __enter__(self) -> CountingEvals:
        def counted(batch: Any) -> None:
            self.calls += 1
            self.inner(batch)

        self.ctx.decode = counted
        return self

    def __exit__(self, *exc: object) -> None:
        self.ctx.decode = self.inner


def test_each_emotion_word_is_one_token_after_its_quote(llm: LlamaCppLlm) -> None:
    # A choice is scored by each option's first token: a word in pieces ("f" + "ear") would
    # be scored by a piece that stands for every word starting with it.
    tokenize = llm._llama.tokenize
    head = tokenize(b'{"emotion": "', add_bos=False, special=True)
    for word in EMOTION_WORDS.values():
        ids = tokenize(f'{{"emotion": "{word}", "say'.encode(), add_bos=False, special=True)
        assert ids[: len(head)] == head, word
        assert llm._llama.detokenize(ids[len(head) : len(head) + 1]) == word.encode(), word


def test_the_first_character_of_the_line_comes_after_one_evaluation_per_wrong_guess(
    llm: LlamaCppLlm,
) -> None:
    # The prompt, '{"action": {"name": "' and the guess 'none"}, "say": "' (or the action
    # whose verb the line asks for) go in one batch; a guess the logits do not bear out
    # costs one evaluation more (from the choice on), so a line with no action has its
    # first token sampled after one evaluation. The emotion comes after the line.
    seen = set()
    for line, actions in (("How are you, Brakka?", {}), ("Wave at me!", {"wave": WAVE}),
                          ("You useless pile of rust!", {}),
                          ("Show me you are friendly.", {"wave": WAVE}),
                          ("What powers the north hangar?", {})):
        request = ask(line, reply_schema(actions, 120, emotion=True))
        say = SayStream()
        with CountingEvals(llm) as evals:
            for piece in llm.stream(request, threading.Event()):
                if say.feed(piece):
                    break
        action = say.raw.split('"name": "')[1].split('"')[0] if actions else "none"
        guess = "wave" if line.startswith("Wave") else "none"  # the verb the line asks for
        wrong = int(action != guess)
        assert evals.calls == 1 + wrong, (evals.calls, say.raw)
        seen.add(wrong)
    assert len(seen) > 1, seen  # the lines tried more than one path


def test_forced_text_is_not_sampled(llm: LlamaCppLlm) -> None:
    schema = reply_schema({"wave": WAVE}, 40, emotion=True)
    request = ask("How are you, Brakka?", schema, Decoding(max_tokens=80, temperature=0))
    with CountingEvals(llm) as evals:
        raw = text(llm, request)
    usage = request.usage
    assert usage is not None and usage.prompt_tokens > 50
    # The line's tokens are evaluated one by one; the JSON around it, some 20 tokens,
    # in the (at most three) batches that carry the choices.
    line = len(llm._llama.tokenize(json.loads(raw)["say"].encode(), add_bos=False))
    assert evals.calls <= 3 + line
    assert usage.completion_tokens >= line + 15


def test_min_length_holds_the_line_open(llm: LlamaCppLlm) -> None:
    schema = reply_schema({}, 200, min_chars=80)
    raw = text(llm, ask("Yes or no: is the hangar open? One word.", schema))
    assert 80 <= len(json.loads(raw)["say"]) <= 200


def test_max_length_cuts_a_long_line(llm: LlamaCppLlm) -> None:
    schema = reply_schema({}, 15)
    raw = text(llm, ask("Tell me the whole history of the hangar, in detail.", schema))
    assert 1 <= len(json.loads(raw)["say"]) <= 15


def test_cancel_stops_it_and_frees_the_model(llm: LlamaCppLlm) -> None:
    cancel = threading.Event()
    schema = reply_schema({}, 400, min_chars=300)
    pieces = []
    for piece in llm.stream(ask("Tell me about the hangar.", schema), cancel):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()
    assert len(pieces) <= 4
    assert json.loads(text(llm, ask("Hello!", reply_schema({}, 40))))["say"]


def test_a_repeated_prompt_is_served_from_the_cache(llm: LlamaCppLlm) -> None:
    schema = reply_schema({}, 40)
    text(llm, ask("Where are the plasma cutters?", schema))
    again = ask("Where are the plasma cutters?", schema)
    text(llm, again)
    assert again.usage is not None
    assert again.usage.cached_tokens == again.usage.prompt_tokens - 1


def test_a_schema_outside_the_subset_goes_through_the_grammar(llm: LlamaCppLlm) -> None:
    schema = {
        "type": "object",
        "properties": {"say": {"type": "string", "maxLength": 30}, "price": {"type": "number"}},
        "required": ["say", "price"],
    }
    assert llm._plans.get(schema) is None
    data = json.loads(text(llm, ask("What does a new actuator cost? Reply as JSON.", schema)))
    assert isinstance(data["say"], str) and isinstance(data["price"], int | float)


def test_a_choice_after_the_line_closes_the_object(llm: LlamaCppLlm) -> None:
    schema = reply_schema({}, 60)
    schema["properties"]["done"] = {"type": "boolean"}
    schema["required"] = [*schema["required"], "done"]
    data = json.loads(text(llm, ask("Say goodbye to me.", schema)))
    assert list(data) == ["say", "done"] and isinstance(data["done"], bool)


def test_word_bias_reaches_the_line(llm: LlamaCppLlm) -> None:
    line = "Say the word 'hangar' three times."
    plain = Decoding(max_tokens=40, temperature=0)
    assert " size " in json.loads(text(llm, ask(line, reply_schema({}, 80), plain)))["say"]
    avoid = replace(plain, word_bias=(("size", -100.0),))
    said = json.loads(text(llm, ask(line, reply_schema({}, 80), avoid)))["say"]
    assert "size" not in said.lower()


def test_an_urgent_request_starts_on_both_cores_then_gives_one_back(llm: LlamaCppLlm) -> None:
    calls: list[tuple[int, int]] = []
    ctx = llm._llama._ctx
    inner = ctx.set_n_threads

    def recorded(n: int, n_batch: int) -> None:
        calls.append((n, n_batch))
        inner(n, n_batch)

    ctx.set_n_threads = recorded
    try:
        schema = reply_schema({}, 120, emotion=True)
        text(llm, ask("How are you, Brakka?", schema))  # not urgent: one decode thread
        one, batch = llm._threads
        if batch <= one:
            pytest.skip("a single core: nothing to add")
        # after the prompt's batch, the small batches (drafts, missed guesses) on one too
        assert calls == [(one, one), (one, batch)]
        calls.clear()
        long = reply_schema({}, 200, min_chars=80, emotion=True)  # past the first pieces
        urgent = replace(ask("How are you, Brakka?", long), urgent=True)
        text(llm, urgent)
    finally:
        ctx.set_n_threads = inner
    if llm._urgent_threads <= one:
        pytest.skip("a single core: nothing to add")
    # both cores, then one for everything after the first pieces, then back as before
    assert calls == [(2, batch), (one, one), (one, batch)]


def test_a_line_that_says_its_context_again_is_drafted_from_it(llm: LlamaCppLlm) -> None:
    # Prompt lookup (npc/llm/lookahead.py): the line repeats the lore in its prompt, so
    # after each sampled token the words that followed it there are checked in one batch.
    line = ("The stores window is open from six in the morning until ten at night, station "
            "time. When is the stores window open?")
    request = ask(line, reply_schema({}, 160), Decoding(max_tokens=80, temperature=0))
    text(llm, request)  # the prompt evaluated, so both runs below count only the reply
    said, calls = {}, {}
    for lookahead in (0, 4):
        llm.lookahead = lookahead
        try:
            with CountingEvals(llm) as evals:
                said[lookahead] = json.loads(text(llm, request))["say"]
        finally:
            llm.lookahead = DRAFT_TOKENS
        calls[lookahead] = evals.calls
    assert all("six in the morning" in s for s in said.values()), said
    assert calls[4] * 2 <= calls[0], calls
