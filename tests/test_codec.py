"""The codec alone: every message type round-trips; malformed frames get stable codes."""

from __future__ import annotations

import random
import struct

import msgpack
import pytest

from bridge import errors
from bridge.codec import decode, encode, peek
from bridge.errors import ProtocolError
from bridge.messages import (
    REGISTRY,
    ActionCall,
    ActionResult,
    AudioChunk,
    AudioEnd,
    Bye,
    Cancel,
    DialogueDelta,
    DialogueFinal,
    Emotion,
    Error,
    FaceFrames,
    FaceHeader,
    GameEvent,
    Heartbeat,
    Hello,
    Interrupted,
    Message,
    NpcAudio,
    SessionClose,
    SessionClosed,
    SessionOpen,
    SessionOpened,
    Steer,
    TextInput,
    Transcript,
    TurnEnd,
    TurnStart,
    Welcome,
)

PCM = struct.pack("<4h", 0, 1000, -1000, 32767)
TOOL = {"type": "function", "function": {"name": "paint", "parameters": {"type": "object"}}}

# One instance of every message type, with every optional field set away from its default.
EXAMPLES: list[Message] = [
    Hello(protocol=1, client="game/1.0", capabilities=["audio"]),
    Welcome(
        protocol=1, server="npc-bridge/1 echo", capabilities=["text"], npcs=["brakka"],
        sample_rates=[16000, 48000], heartbeat_ms=1000, timeout_ms=5000, limits={"burst": 5},
    ),
    Heartbeat(time=12.5),
    Bye(),
    Error(code="bad-field", reason="no", session="s1", ref_seq=7, stage="asr", fatal=True,
          retryable=True),
    SessionOpen(session="s1", npc="brakka", player="p1", audio_out_rate=48000, actions=[TOOL],
                steer={"humor": 4}, npcs=["quartermaster"], players=["p2"]),
    SessionOpened(session="s1", npc="brakka", npc_name="Brakka", player="p1",
                  audio_out_rate=48000, actions=["paint"]),
    SessionClose(session="s1"),
    SessionClosed(session="s1", reason="bye"),
    AudioChunk(session="s1", sample_rate=48000, channels=2, pcm=PCM),
    AudioEnd(session="s1"),
    NpcAudio(session="s1", turn=2, sample_rate=24000, start_sample=480, pcm=PCM),
    TextInput(session="s1", text="hello there ünïcode ✓", player="p2"),
    Transcript(session="s1", turn=1, text="hello", final=True, player="p2"),
    DialogueDelta(session="s1", turn=1, text="Hel"),
    DialogueFinal(session="s1", turn=1, text="Hello."),
    Emotion(session="s1", turn=1, emotion="joy", intensity=0.75, start_sample=100),
    Interrupted(session="s1", turn=1, stop_sample=960, reason="barge-in"),
    TurnEnd(session="s1", turn=1, reason="done", audio_samples=960, latency_ms={"asr": 1.5},
            npc="brakka"),
    TurnStart(session="s1", turn=1, npc="brakka", player="p2", cause="player"),
    Cancel(session="s1"),
    ActionCall(session="s1", turn=1, call_id="c1", name="paint", arguments={"color": "red"}),
    ActionResult(session="s1", call_id="c1", ok=False, result={"n": [1, 2]}, error="no paint"),
    FaceHeader(session="s1", turn=1, channels=["jawOpen", "mouthClose"], fps=60.0,
               sample_rate=24000),
    FaceFrames(session="s1", turn=1, count=2, times=struct.pack("<2q", 0, 400),
               weights=struct.pack("<4f", 0.0, 0.5, 1.0, 0.25)),
    GameEvent(name="mech-damaged", payload={"hp": 3}, session="s1", npcs=["brakka"],
              players=["p1"]),
    Steer(session="s1", attributes={"humor": 0, "verbosity": 4}),
]


def header(**fields: object) -> bytes:
    return msgpack.packb(fields, use_bin_type=True)


def decode_error(frames: list[bytes]) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode(frames)
    assert info.value.reason.strip()
    return info.value


def test_examples_cover_every_registered_type() -> None:
    assert sorted(m.TYPE for m in EXAMPLES) == sorted(REGISTRY)


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: m.TYPE)
def test_every_message_round_trips(msg: Message) -> None:
    frames = encode(msg, 42)
    assert len(frames) == 1 + len(msg.FRAMES)
    assert all(isinstance(f, bytes) for f in frames)
    assert decode(frames) == (42, msg)


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: m.TYPE)
def test_binary_payloads_travel_as_their_own_frames_untouched(msg: Message) -> None:
    frames = encode(msg, 1)
    for i, name in enumerate(msg.FRAMES, 1):
        assert frames[i] == getattr(msg, name)
    head = msgpack.unpackb(frames[0])
    assert head["type"] == msg.TYPE and head["seq"] == 1
    assert not set(msg.FRAMES) & set(head)


def test_defaults_survive_a_round_trip() -> None:
    for msg in (Error(code="x", reason="y"), GameEvent(name="e"), SessionOpen(
            session="s", npc="", player="p")):
        assert decode(encode(msg, 3)) == (3, msg)


def test_not_msgpack_is_bad_frame() -> None:
    e = decode_error([b"\xc1\xc1\xc1"])
    assert e.code == errors.BAD_FRAME
    assert e.ref_seq is None and e.session is None


def test_trailing_bytes_after_the_header_are_bad_frame() -> None:
    assert decode_error([header(type="bye", seq=1) + b"\x00"]).code == errors.BAD_FRAME


@pytest.mark.parametrize(
    "raw",
    [msgpack.packb([1, 2]), msgpack.packb("hello"), msgpack.packb(None), msgpack.packb(5)],
    ids=["array", "string", "nil", "int"],
)
def test_header_that_is_not_a_map_is_bad_header(raw: bytes) -> None:
    assert decode_error([raw]).code == errors.BAD_HEADER


def test_empty_message_is_bad_header() -> None:
    assert decode_error([]).code == errors.BAD_HEADER


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "bye"},
        {"type": "bye", "seq": -1},
        {"type": "bye", "seq": "1"},
        {"type": "bye", "seq": 1.0},
        {"type": "bye", "seq": True},
        {"seq": 1},
        {"seq": 1, "type": 5},
    ],
)
def test_missing_or_mistyped_seq_or_type_is_bad_header(fields: dict[str, object]) -> None:
    assert decode_error([header(**fields)]).code == errors.BAD_HEADER


def test_unknown_type_names_the_type_and_keeps_seq() -> None:
    e = decode_error([header(type="dance", seq=9, session="s1")])
    assert e.code == errors.UNKNOWN_TYPE
    assert "dance" in e.reason
    assert (e.ref_seq, e.session) == (9, "s1")


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"type": "text-input", "session": "s1", "text": 5}, "text"),
        ({"type": "text-input", "session": 5, "text": "hi"}, "session"),
        ({"type": "hello", "protocol": "1"}, "protocol"),
        ({"type": "heartbeat", "time": "now"}, "time"),
        ({"type": "action-result", "session": "s1", "call_id": "c1", "ok": 1}, "ok"),
        ({"type": "steer", "session": "s1", "attributes": {"humor": 2.5}}, "attributes"),
        ({"type": "steer", "session": "s1", "attributes": [1]}, "attributes"),
        ({"type": "hello", "protocol": 1, "capabilities": "audio"}, "capabilities"),
        ({"type": "game-event", "name": "x", "payload": {1: 2}}, "payload"),
    ],
)
def test_wrong_field_type_is_bad_field(fields: dict[str, object], name: str) -> None:
    e = decode_error([header(seq=3, **fields)])
    assert e.code == errors.BAD_FIELD
    assert name in e.reason
    assert e.ref_seq == 3


def test_audio_sample_rate_as_a_string_is_bad_field() -> None:
    raw = header(type="audio-chunk", seq=4, session="mic", sample_rate="16000")
    e = decode_error([raw, PCM])
    assert e.code == errors.BAD_FIELD and "sample_rate" in e.reason
    assert (e.ref_seq, e.session) == (4, "mic")


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"type": "text-input", "session": "s1"}, "text"),
        ({"type": "text-input", "text": "hi"}, "session"),
        ({"type": "hello"}, "protocol"),
        ({"type": "session-open", "session": "s1", "npc": ""}, "player"),
    ],
)
def test_missing_field_is_bad_field(fields: dict[str, object], name: str) -> None:
    e = decode_error([header(seq=5, **fields)])
    assert e.code == errors.BAD_FIELD
    assert f"'{name}'" in e.reason
    assert e.ref_seq == 5


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"type": "text-input", "session": "s1", "text": "   "}, errors.BAD_FIELD),
        ({"type": "steer", "session": "s1", "attributes": {"humor": 5}}, errors.BAD_FIELD),
        ({"type": "steer", "session": "s1", "attributes": {"charm": 1}}, errors.BAD_FIELD),
        ({"type": "session-open", "session": "", "npc": "", "player": "p"}, errors.BAD_FIELD),
        ({"type": "session-open", "session": "x" * 129, "npc": "", "player": "p"},
         errors.BAD_FIELD),
        ({"type": "session-open", "session": "s", "npc": "", "player": "p",
          "audio_out_rate": 8000}, errors.UNSUPPORTED_RATE),
        ({"type": "session-open", "session": "s", "npc": "", "player": "p",
          "actions": [{"type": "function"}]}, errors.BAD_FIELD),
    ],
)
def test_invalid_values_get_their_code(fields: dict[str, object], code: str) -> None:
    e = decode_error([header(seq=6, **fields)])
    assert e.code == code
    assert e.ref_seq == 6


@pytest.mark.parametrize(
    ("fields", "pcm", "code"),
    [
        ({"sample_rate": 16000}, b"\x00\x01\x02", errors.BAD_AUDIO),
        ({"sample_rate": 16000, "channels": 2}, b"\x00\x01", errors.BAD_AUDIO),
        ({"sample_rate": 8000}, PCM, errors.UNSUPPORTED_RATE),
        ({"sample_rate": 44000}, PCM, errors.UNSUPPORTED_RATE),
        ({"sample_rate": 16000, "channels": 3}, b"\x00" * 12, errors.UNSUPPORTED_CHANNELS),
        ({"sample_rate": 16000, "channels": 0}, PCM, errors.UNSUPPORTED_CHANNELS),
    ],
)
def test_bad_audio_chunks(fields: dict[str, object], pcm: bytes, code: str) -> None:
    e = decode_error([header(type="audio-chunk", seq=8, session="mic", **fields), pcm])
    assert e.code == code
    assert (e.ref_seq, e.session) == (8, "mic")


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("audio-chunk", []), ("audio-chunk", [PCM, PCM]), ("text-input", [b"x"]),
     ("face-frames", [b""])],
)
def test_frame_count_mismatch_is_bad_header(kind: str, extra: list[bytes]) -> None:
    raw = header(type=kind, seq=2, session="s1", sample_rate=16000, text="hi", turn=1, count=0)
    e = decode_error([raw, *extra])
    assert e.code == errors.BAD_HEADER
    assert "frame" in e.reason
    assert (e.ref_seq, e.session) == (2, "s1")


def test_face_frames_arrays_must_match_count() -> None:
    raw = header(type="face-frames", seq=1, session="s1", turn=1, count=2)
    assert decode_error([raw, b"\x00" * 8, b"\x00" * 8]).code == errors.BAD_FIELD
    assert decode_error([raw, b"\x00" * 16, b"\x00" * 7]).code == errors.BAD_FIELD


def test_peek_reads_seq_and_session_best_effort() -> None:
    assert peek(header(type="x", seq=3, session="s")) == (3, "s")
    assert peek(header(type="x", seq="3", session=4)) == (None, None)
    assert peek(b"\xc1") == (None, None)
    assert peek(msgpack.packb([1])) == (None, None)


def test_fuzzed_frames_never_escape_as_anything_but_protocol_errors() -> None:
    """Mutated valid messages decode or raise ProtocolError; nothing else, ever."""
    rng = random.Random(1234)
    seeds = [encode(m, 11) for m in EXAMPLES]
    for _ in range(3000):
        frames = [bytearray(f) for f in rng.choice(seeds)]
        target = frames[rng.randrange(len(frames))]
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.5 and target:
                target[rng.randrange(len(target))] = rng.randrange(256)
            elif op < 0.75 and target:
                del target[rng.randrange(len(target)) :]
            else:
                target.insert(rng.randrange(len(target) + 1), rng.randrange(256))
        try:
            decode([bytes(f) for f in frames])
        except ProtocolError as e:
            assert e.code in {
                errors.BAD_FRAME, errors.BAD_HEADER, errors.BAD_FIELD, errors.UNKNOWN_TYPE,
                errors.BAD_AUDIO, errors.UNSUPPORTED_RATE, errors.UNSUPPORTED_CHANNELS,
            }, e.code
