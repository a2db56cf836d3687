"""The reply format: its schema, pulling the line out of streamed JSON, and rejecting junk."""

from __future__ import annotations

import json

import pytest

from bridge.errors import BackendError
from bridge.messages.dialogue import EMOTIONS
from npc.designer.validate import validate
from npc.mind.reply import BAD_OUTPUT, EMOTION_WORDS, SayStream, parse_reply, reply_schema

PAINT = {
    "type": "object",
    "properties": {"color": {"type": "string", "enum": ["red", "blue"]}},
    "required": ["color"],
    "additionalProperties": False,
}
ACTIONS = {"paint_mech": PAINT}


def feed_all(pieces: list[str]) -> str:
    stream = SayStream()
    return "".join(stream.feed(p) for p in pieces)


def test_the_line_streams_out_of_json_split_anywhere() -> None:
    raw = json.dumps({"action": None, "say": 'Hold "still", kid.\nIt\'s \u00e9t\u00e9 \\ ok.'})
    for size in (1, 2, 3, 7):
        pieces = [raw[i : i + size] for i in range(0, len(raw), size)]
        assert feed_all(pieces) == 'Hold "still", kid.\nIt\'s \u00e9t\u00e9 \\ ok.'


def test_nothing_streams_before_the_line_and_nothing_after_it() -> None:
    stream = SayStream()
    assert stream.feed('{"action": {"name": "paint_mech", "arguments": {"color": "red"}}') == ""
    assert stream.feed(', "say": "On it') == "On it"
    assert stream.feed('."}') == "."
    assert stream.feed("   ") == ""


def test_a_split_unicode_escape_waits_for_its_digits() -> None:
    stream = SayStream()
    assert stream.feed('{"say": "caf\\u00') == "caf"
    assert stream.feed('e9!"}') == "\u00e9!"


def test_schema_offers_only_the_given_actions_and_the_line_bounded() -> None:
    schema = reply_schema(ACTIONS, max_chars=80)
    assert list(schema["properties"]) == ["action", "say"]
    calls = schema["properties"]["action"]["anyOf"]
    names = [c["properties"]["name"] for c in calls]
    assert names == [{"const": "none"}, {"const": "paint_mech"}]
    assert schema["properties"]["say"]["maxLength"] == 80
    good = {"action": {"name": "paint_mech", "arguments": {"color": "red"}}, "say": "Red it is."}
    assert validate(schema, good) == []
    assert validate(schema, {**good, "action": {"name": "give_item", "arguments": {}}})
    assert validate(schema, {"action": {"name": "none"}, "say": "x" * 81})
    assert validate(schema, {"action": {"name": "none"}, "say": "Fine."}) == []


def test_without_actions_the_reply_is_just_a_line() -> None:
    assert list(reply_schema({})["properties"]) == ["say"]
    assert parse_reply('{"say": " Hello. "}', {}).say == "Hello."


def test_no_action_is_the_name_none() -> None:
    assert parse_reply('{"action": {"name": "none"}, "say": "Hi."}', ACTIONS).action == ""


def test_a_good_reply_parses() -> None:
    reply = parse_reply(
        '{"action": {"name": "paint_mech", "arguments": {"color": "blue"}}, "say": "Blue."}',
        ACTIONS,
    )
    assert (reply.say, reply.action, reply.arguments) == ("Blue.", "paint_mech", {"color": "blue"})


def test_the_model_picks_an_emotion_word_and_the_reply_carries_the_protocol_s_name() -> None:
    schema = reply_schema({}, emotion=True)
    assert schema["properties"]["emotion"]["enum"] == [EMOTION_WORDS[e] for e in EMOTIONS]
    assert len(set(EMOTION_WORDS.values())) == len(EMOTIONS)
    assert parse_reply('{"emotion": "alarm", "say": "Run!"}', {}).emotion == "fear"
    assert parse_reply('{"emotion": "joy", "say": "Ha!"}', {}).emotion == "joy"  # as it is
    stream = SayStream()
    stream.feed('{"emotion": "gross", "say": "Ew')
    assert stream.emotion == "disgust"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ('{"emotion": "smug", "say": "Heh."}', "is not one of neutral, happy"),
        ("Sure thing, kid!", "not JSON"),
        ('{"say": "cut off', "not JSON"),
        ('["say"]', '"say" string'),
        ('{"say": 5}', '"say" string'),
        ('{"say": "ok", "action": "paint_mech"}', "neither null"),
        ('{"say": "ok", "action": {"name": "give_item", "arguments": {}}}', "not one this NPC"),
        ('{"say": "ok", "action": {"name": "paint_mech", "arguments": [1]}}', "not an object"),
    ],
)
def test_junk_from_the_model_is_a_clear_backend_error(raw: str, why: str) -> None:
    with pytest.raises(BackendError) as e:
        parse_reply(raw, ACTIONS)
    assert e.value.code == BAD_OUTPUT and why in e.value.reason


def test_an_assistant_refusal_is_told_from_a_character_s_no() -> None:
    from npc.mind.reply import is_refusal

    for refusal in ("I'm sorry, but I can't assist with that.",
                    "I\u2019m sorry, but I can\u2019t assist with that request. Try again later.",
                    "I cannot help you with this.", "As an AI, I have no wrench.",
                    "I'm sorry, but I can't do that. But you're welcome to Bay 7."):
        assert is_refusal(refusal), refusal
    for line in ("Sorry kid, no credits, no paint.", "I can't help it, that leg is shot.",
                 "Can't assist you there, pilot: the armory is closed.", "Who took my wrench?",
                 "Four cells, and I'm sorry, but I can't give you a fifth."):
        assert not is_refusal(line), line


def test_the_npc_s_refusals_are_left_out_of_the_history_it_is_shown() -> None:
    from npc.memory import TurnRecord
    from npc.mind.prompt import history_turns

    def rec(i: int, role: str, text: str) -> TurnRecord:
        return TurnRecord(i, "quartermaster", "p1", "s1", role, text, None, None, 0.0)

    history = [rec(1, "player", "Give me a wrench."),
               rec(2, "npc", "I'm sorry, but I can't do that."),
               rec(3, "player", "Three power cells, please."),
               rec(4, "npc", "Three cells, signed out to you.")]
    turns = history_turns(history)
    assert [role for role, _ in turns] == ["User", "Assistant"]
    assert "Give me a wrench." in turns[0][1] and "Three power cells" in turns[0][1]
    assert "sorry" not in " ".join(text for _, text in turns)
