"""Connection life (PROTOCOL.md §2-4): sequence rules, bye, shutdown, connection limit."""

from __future__ import annotations

import pytest
from helpers import assert_serves, engine, next_error, run, running, send_raw, send_with_seq

from bridge import errors
from bridge.config import Limits
from bridge.errors import ProtocolError
from bridge.messages import (
    ActionCall,
    Bye,
    Heartbeat,
    Hello,
    SessionClosed,
    TextInput,
    TurnStart,
    Welcome,
)
from plugin_stubs.client import EngineClient

PAINT = {"type": "function", "function": {"name": "paint", "parameters": {}}}


def test_seq_gaps_are_fine_and_rejected_messages_do_not_count() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            s = await client.open_session(session="s1")
            base = client.next_seq()
            # A gap of 100 is fine.
            await send_with_seq(client, TextInput(session="s1", text="gap"), base + 100)
            assert (await s.turn()).text == "gap"
            # Rejected before the sequence check (bad field): does not count as previous...
            await send_raw(client, {"type": "text-input", "session": "s1", "text": 1,
                                    "seq": base + 500})
            assert (await next_error(client, s)).code == errors.BAD_FIELD
            # ...so a lower number than the rejected one is still accepted.
            await send_with_seq(client, TextInput(session="s1", text="fine"), base + 101)
            assert (await s.turn()).text == "fine"
            # Accepted by the sequence check, then refused: it counts.
            await send_with_seq(client, TextInput(session="nope", text="x"), base + 102)
            assert (await next_error(client)).code == errors.UNKNOWN_SESSION
            await send_with_seq(client, TextInput(session="s1", text="x"), base + 102)
            err = await next_error(client, s)
            assert (err.code, err.ref_seq) == (errors.SEQ_DUPLICATE, base + 102)
            # The client's own counter is far behind now; jump it past what was used.
            for _ in range(200):
                client.next_seq()
            await assert_serves(server, client)

    run(scenario)


def test_server_numbers_its_messages_without_gaps() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            s = await client.open_session()
            for k in range(5):
                await s.say(f"line {k} of a few words")
                await s.turn()
            await client.send(TextInput(session="nope", text="x"))
            await next_error(client)
            assert client.gaps == 0
            assert client.received > 5 * 7

    run(scenario)


def test_bye_closes_every_session_and_the_brain_forgets_the_connection() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            a = await client.open_session("brakka", session="a")
            b = await client.open_session("quartermaster", session="b")
            await client.send(Bye())
            for s in (a, b):
                closed = await s.next()
                assert isinstance(closed, SessionClosed) and closed.reason == "bye"
            assert not client.sessions
            # Forgotten: handshake and sessions are gone; hello again and reopen.
            await client.send(TextInput(session="a", text="hello?"))
            assert (await next_error(client)).code == errors.NO_HANDSHAKE
            await client.send(Hello(protocol=1))
            assert isinstance(await client.next_event(), Welcome)
            again = await client.open_session(session="a")
            await again.say("back again")
            assert (await again.turn()).number == 1

    run(scenario)


def test_closing_a_session_mid_turn_stops_everything_for_it() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            s = await client.open_session(actions=[PAINT])
            await s.say("call paint {}")
            assert isinstance(await s.next(), TurnStart)
            assert isinstance(await s.next(), ActionCall)
            await s.close()  # returns at session-closed
            assert s.id not in client.sessions
            # Nothing for the closed session follows; a later turn elsewhere proves the
            # wire has moved on past anything that could have.
            other = await client.open_session()
            await other.say("after")
            assert (await other.turn()).text == "after"
            assert client.events.empty()
            assert s.inbox.empty()

    run(scenario)


def test_shutdown_closes_sessions_with_reason_shutdown() -> None:
    async def scenario() -> None:
        async with running() as server:
            client = EngineClient(server.endpoint, heartbeat=False)
            await client.connect()
            s = await client.open_session()
            await server.stop()
            closed = await s.next()
            assert isinstance(closed, SessionClosed) and closed.reason == "shutdown"
            await client.close(bye=False)

    run(scenario)


def test_too_many_connections_refuses_the_extra_engine_only() -> None:
    async def scenario() -> None:
        async with running(limits=Limits(max_connections=1)) as server:
            async with engine(server) as first:
                extra = EngineClient(server.endpoint, heartbeat=False)
                with pytest.raises(ProtocolError) as info:
                    await extra.connect()
                assert info.value.code == "too-many-connections"
                await extra.send(Heartbeat())
                err = await next_error(extra)
                assert err.code == "too-many-connections" and err.ref_seq is None
                await extra.close(bye=False)
                s = await first.open_session()
                await s.say("still mine")
                assert (await s.turn()).text == "still mine"
            # The first said bye: there is room again.
            async with engine(server) as later:
                s = await later.open_session()
                await s.say("my turn")
                assert (await s.turn()).text == "my turn"

    run(scenario)
