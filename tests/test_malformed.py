"""Every malformed input gets an `error` with a stable code, and the server goes on serving."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgpack
import pytest
from helpers import WAIT, assert_serves, engine, next_error, run, running, send_raw, send_with_seq

from bridge import errors
from bridge.codec import encode
from bridge.config import Limits
from bridge.messages import AudioChunk, Error, Heartbeat, Hello, TextInput, Welcome
from plugin_stubs.client import EngineClient, Session

# Small limits so oversize input is cheap to make; everything well-formed fits easily.
SMALL = Limits(max_frame_bytes=4096, max_header_bytes=1024, max_frames=4)
PCM = b"\x00\x01" * 160


@dataclass(frozen=True)
class Case:
    """One malformed input: how to send it, the code it earns, what the error refers to."""

    name: str
    send: Callable[[EngineClient, Session], Awaitable[int | None]]  # returns the seq sent
    code: str
    in_session: bool  # the error names the open session (else it names none we have open)
    ref: bool = True  # the error's ref_seq is the seq sent (None when none was sent)


async def header_only(c: EngineClient, s: Session, head: dict[str, object]) -> int:
    return await send_raw(c, head)


async def audio(c: EngineClient, s: Session, **fields: object) -> int:
    head = {"type": "audio-chunk", "session": s.id, "sample_rate": 16000, **fields}
    pcm = fields.pop("pcm", PCM)
    head.pop("pcm", None)
    return await send_raw(c, head, pcm)  # type: ignore[arg-type]


async def frames(c: EngineClient, *parts: bytes) -> None:
    """Raw frames; the server cannot know a seq from them, so None is returned."""
    await c.send_frames(list(parts))


async def closed_session(c: EngineClient, s: Session) -> int:
    other = await c.open_session(session="closed-one")
    await other.close()
    return await c.send(TextInput(session="closed-one", text="anyone?"))


async def duplicate_seq(c: EngineClient, s: Session) -> int:
    seq = c.next_seq()
    await send_with_seq(c, Heartbeat(), seq)
    await send_with_seq(c, Heartbeat(), seq)
    return seq


async def lower_seq(c: EngineClient, s: Session) -> int:
    seq = c.next_seq()
    c.next_seq()
    await send_with_seq(c, Heartbeat(), seq + 1)
    await send_with_seq(c, Heartbeat(), seq)
    return seq


async def extra_frames(c: EngineClient, s: Session, *extra: bytes) -> int:
    seq = c.next_seq()
    await frames(c, *encode(TextInput(session=s.id, text="hi"), seq), *extra)
    return seq


async def audio_without_pcm(c: EngineClient, s: Session) -> int:
    seq = c.next_seq()
    await frames(c, encode(AudioChunk(session=s.id, sample_rate=16000, pcm=PCM), seq)[0])
    return seq


CASES = [
    Case("not-msgpack", lambda c, s: frames(c, b"\xc1\xc1 not msgpack"), errors.BAD_FRAME, False),
    Case("empty-frame", lambda c, s: frames(c, b""), errors.BAD_FRAME, False),
    Case("header-is-array", lambda c, s: frames(c, msgpack.packb([1, 2, 3])), errors.BAD_HEADER,
         False),
    Case("header-without-type", lambda c, s: header_only(c, s, {"session": s.id}),
         errors.BAD_HEADER, True),
    Case("rate-as-string", lambda c, s: audio(c, s, sample_rate="16000"), errors.BAD_FIELD, True),
    Case("text-as-number", lambda c, s: header_only(
        c, s, {"type": "text-input", "session": s.id, "text": 42}), errors.BAD_FIELD, True),
    Case("missing-field", lambda c, s: header_only(c, s, {"type": "text-input", "session": s.id}),
         errors.BAD_FIELD, True),
    Case("unknown-type", lambda c, s: header_only(c, s, {"type": "dance", "session": s.id}),
         errors.UNKNOWN_TYPE, True),
    Case("unknown-session", lambda c, s: c.send(TextInput(session="nope", text="hi")),
         errors.UNKNOWN_SESSION, False),
    Case("closed-session", closed_session, errors.UNKNOWN_SESSION, False),
    Case("frame-too-large", lambda c, s: audio(c, s, pcm=b"\x00" * 8192), errors.TOO_LARGE, True),
    # An oversize header is not parsed at all (that is what the limit protects), so the
    # error cannot say which message it was.
    Case("header-too-large", lambda c, s: c.send(TextInput(session=s.id, text="x" * 2000)),
         errors.TOO_LARGE, False, ref=False),
    Case("odd-length-pcm", lambda c, s: audio(c, s, pcm=b"\x00\x01\x02"), errors.BAD_AUDIO, True),
    Case("stereo-half-frame", lambda c, s: audio(c, s, channels=2, pcm=b"\x00" * 6),
         errors.BAD_AUDIO, True),
    Case("rate-8000", lambda c, s: audio(c, s, sample_rate=8000), errors.UNSUPPORTED_RATE, True),
    Case("rate-44000", lambda c, s: audio(c, s, sample_rate=44000), errors.UNSUPPORTED_RATE,
         True),
    Case("channels-3", lambda c, s: audio(c, s, channels=3, pcm=b"\x00" * 12),
         errors.UNSUPPORTED_CHANNELS, True),
    Case("duplicate-seq", duplicate_seq, errors.SEQ_DUPLICATE, False),
    Case("lower-seq", lower_seq, errors.SEQ_OUT_OF_ORDER, False),
    # PROTOCOL.md §8: too-large names the message only for an oversize binary frame.
    Case("too-many-frames", lambda c, s: extra_frames(c, s, b"a", b"b", b"c", b"d"),
         errors.TOO_LARGE, False, ref=False),
    Case("frames-for-type", lambda c, s: extra_frames(c, s, b"extra"), errors.BAD_HEADER, True),
    Case("audio-without-pcm", audio_without_pcm, errors.BAD_HEADER, True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_malformed_input_gets_a_stable_error_and_the_server_goes_on(case: Case) -> None:
    async def scenario() -> None:
        async with running(limits=SMALL) as server, engine(server) as client:
            session = await client.open_session(session="main")
            seq = await case.send(client, session)
            err = await next_error(client, session if case.in_session else None)
            assert err.code == case.code, err
            assert not err.fatal
            if case.in_session:
                assert err.session == session.id
            assert err.ref_seq == (seq if case.ref else None), err
            # The open session is untouched, the connection and a fresh one are served.
            await session.say("the session survived")
            assert (await session.turn()).text == "the session survived"
            await assert_serves(server, client)
            assert client.events.empty()

    run(scenario)


def test_all_malformed_inputs_in_a_row_on_one_connection() -> None:
    async def scenario() -> None:
        async with running(limits=SMALL) as server, engine(server) as client:
            session = await client.open_session(session="main")
            for case in CASES:
                await case.send(client, session)
                err = await next_error(client, session if case.in_session else None)
                assert err.code == case.code, (case.name, err)
            await assert_serves(server, client)

    run(scenario)


def test_a_message_far_over_the_hard_cap_cuts_only_that_engine() -> None:
    async def scenario() -> None:
        async with running(limits=SMALL) as server, engine(server) as good:
            async with engine(server) as bad:
                await bad.open_session()
                # Past 4x the limits ZeroMQ drops the peer before the server sees a byte.
                await bad.send(AudioChunk(session="s1", sample_rate=16000, pcm=b"\x00" * 65536))
                await assert_serves(server, good)
                # The DEALER reconnects as a new peer (PROTOCOL.md §9): hello again.
                await bad.send(Heartbeat())
                err = await next_error(bad)
                assert err.code == errors.NO_HANDSHAKE
                await bad.send(Hello(protocol=1))
                assert isinstance(await bad.next_event(), Welcome)
                again = await bad.open_session(session="s1")
                await again.say("back")
                assert (await again.turn()).text == "back"
            await assert_serves(server, good)

    run(scenario)


def test_a_flood_is_rate_limited_and_other_engines_stay_prompt() -> None:
    flood, limits = 5000, Limits(rate_per_s=500, burst=100)

    async def flooding(client: EngineClient) -> None:
        for i in range(flood):
            await client.send(Heartbeat(time=float(i)))
            if i % 250 == 0:
                await asyncio.sleep(0)  # let the other engine's traffic interleave

    async def polite(client: EngineClient) -> list[float]:
        s = await client.open_session("quartermaster")
        took = []
        for k in range(5):
            started = time.monotonic()
            await s.say(f"turn {k}")
            turn = await s.turn(timeout=WAIT)
            took.append(time.monotonic() - started)
            assert turn.text == f"turn {k}" and turn.number == k + 1
        return took

    async def served_again(client: EngineClient) -> None:
        """Probe until a reply comes: a retryable error means try again later."""
        for k in range(100):
            await client.send(TextInput(session=f"probe-{k}", text="?"))
            try:
                while True:
                    msg = await client.next_event(0.2)
                    if isinstance(msg, Error) and msg.session == f"probe-{k}":
                        assert msg.code == errors.UNKNOWN_SESSION
                        return
            except TimeoutError:
                continue
        raise AssertionError("the flooding engine was never served again")

    async def scenario() -> None:
        async with (
            running(limits=limits) as server,
            engine(server) as flooder,
            engine(server) as other,
        ):
            started = time.monotonic()
            _, took = await asyncio.gather(flooding(flooder), polite(other))
            assert max(took) < 1.0, took
            err = await flooder.next_event()
            assert isinstance(err, Error) and err.code == errors.RATE_LIMITED, err
            assert err.retryable and not err.fatal and "500" in err.reason
            await served_again(flooder)
            elapsed = time.monotonic() - started
            conn = next(c for c in server.connections.values() if not c.sessions)
            assert conn.dropped > 0
            accepted = flood - conn.dropped
            assert accepted <= limits.burst + limits.rate_per_s * elapsed + 10
            # Told it is rate-limited, the engine slows down: just after the flood its
            # bucket is near empty and a message may still be dropped unanswered, by
            # design. This pause is the engine keeping to its budget (the bucket refills
            # in burst / rate_per_s seconds), not a wait for the server.
            await asyncio.sleep(limits.burst / limits.rate_per_s)
            await assert_serves(server, flooder)

    run(scenario)
