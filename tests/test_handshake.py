"""hello / welcome over a real socket: contents, versions, order, direction."""

from __future__ import annotations

from helpers import bare, engine, recv, run, running, send_with_seq

from bridge import PROTOCOL_VERSION, errors
from bridge.config import Limits
from bridge.messages import (
    SAMPLE_RATES,
    Bye,
    DialogueDelta,
    Error,
    Heartbeat,
    Hello,
    SessionOpen,
    TextInput,
    Welcome,
)


def test_welcome_says_version_npcs_limits_rates_and_timers() -> None:
    limits = Limits(max_sessions=3, burst=77)

    async def scenario() -> None:
        async with (
            running(heartbeat_ms=250, timeout_ms=900, limits=limits) as server,
            engine(server) as client,
        ):
            w = client.welcome
            assert isinstance(w, Welcome)
            assert w.protocol == PROTOCOL_VERSION == 1
            assert w.npcs == ["brakka", "guard", "quartermaster", "smuggler"]
            assert w.limits == limits.as_wire()
            assert w.limits["max_sessions"] == 3 and w.limits["burst"] == 77
            assert w.sample_rates == list(SAMPLE_RATES)
            assert 16000 in w.sample_rates and 48000 in w.sample_rates
            assert (w.heartbeat_ms, w.timeout_ms) == (250, 900)
            assert set(w.capabilities) >= {"text", "audio", "actions", "face"}
            assert "echo" in w.server

    run(scenario)


def test_unsupported_version_is_refused_then_a_correct_hello_works() -> None:
    async def scenario() -> None:
        async with running() as server, bare(server) as client:
            seq = await client.send(Hello(protocol=99, client="from-the-future"))
            err = await recv(client)
            assert isinstance(err, Error)
            assert err.code == errors.UNSUPPORTED_VERSION
            assert err.ref_seq == seq
            assert "99" in err.reason and "1" in err.reason
            # Still not handshaken: anything else is refused.
            await client.send(Heartbeat())
            err = await recv(client)
            assert isinstance(err, Error) and err.code == errors.NO_HANDSHAKE
            await client.send(Hello(protocol=PROTOCOL_VERSION))
            welcome = await recv(client)
            assert isinstance(welcome, Welcome) and welcome.protocol == PROTOCOL_VERSION

    run(scenario)


def test_anything_before_hello_is_no_handshake() -> None:
    before = [
        Heartbeat(time=1.0),
        TextInput(session="s1", text="hi"),
        SessionOpen(session="s1", npc="", player="p"),
        Bye(),
    ]

    async def scenario() -> None:
        async with running() as server, bare(server) as client:
            for msg in before:
                seq = await client.send(msg)
                err = await recv(client)
                assert isinstance(err, Error), err
                assert err.code == errors.NO_HANDSHAKE, (msg.TYPE, err)
                assert err.ref_seq == seq
                assert "hello" in err.reason
            await client.send(Hello(protocol=PROTOCOL_VERSION))
            assert isinstance(await recv(client), Welcome)
            # The refused session-open left nothing behind: the same id opens now.
            await client.send(SessionOpen(session="s1", npc="", player="p"))
            opened = await recv(client)
            assert opened.TYPE == "session-opened"

    run(scenario)


def test_server_to_engine_types_from_the_engine_are_wrong_direction() -> None:
    outbound = [
        Welcome(protocol=1, server="me", capabilities=[], npcs=[], sample_rates=[],
                heartbeat_ms=1, timeout_ms=2, limits={}),
        DialogueDelta(session="s1", turn=1, text="I am the NPC now"),
        Error(code="internal", reason="turnabout"),
    ]

    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            session = await client.open_session(session="s1")
            for msg in outbound:
                seq = client.next_seq()
                await send_with_seq(client, msg, seq)
                err = await client.next_event() if msg.TYPE != "dialogue-delta" else (
                    await session.next())
                assert isinstance(err, Error), err
                assert err.code == errors.WRONG_DIRECTION
                assert err.ref_seq == seq
                assert msg.TYPE in err.reason
            # Nothing reached the conversation: the next turn is its first.
            await session.say("mine")
            turn = await session.turn()
            assert (turn.number, turn.text) == (1, "mine")

    run(scenario)


def test_a_second_hello_gets_a_fresh_welcome() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            await client.send(Hello(protocol=PROTOCOL_VERSION))
            again = await client.next_event()
            assert isinstance(again, Welcome)
            session = await client.open_session()
            await session.say("after two hellos")
            assert (await session.turn()).text == "after two hellos"

    run(scenario)
