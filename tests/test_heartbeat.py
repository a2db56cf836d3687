"""Heartbeats: echoed with the same time; a silent engine's sessions are closed, others live."""

from __future__ import annotations

import asyncio

from helpers import RecordingBrain, bare, engine, next_error, recv, run, running

from bridge import errors
from bridge.messages import Heartbeat, Hello, SessionClosed, Welcome


def test_heartbeat_is_echoed_with_the_same_time() -> None:
    async def scenario() -> None:
        async with running() as server, bare(server) as client:
            await client.send(Hello(protocol=1))
            assert isinstance(await recv(client), Welcome)
            for t in (0.0, 12.5, 1.7e9):
                await client.send(Heartbeat(time=t))
                echo = await recv(client)
                assert isinstance(echo, Heartbeat) and echo.time == t

    run(scenario)


def test_a_silent_engine_is_dropped_while_a_heartbeating_one_lives() -> None:
    async def scenario() -> None:
        brain = RecordingBrain()
        async with (
            running(brain, heartbeat_ms=50, timeout_ms=200) as server,
            engine(server, heartbeat=True) as alive,
            engine(server, heartbeat=False) as silent,
        ):
            assert alive.welcome is not None and alive.welcome.heartbeat_ms == 50
            kept = await alive.open_session(session="kept")
            lost = await silent.open_session(session="lost")
            assert len(server.connections) == 2

            closed = await lost.next(timeout=2.0)
            assert isinstance(closed, SessionClosed) and closed.reason == "heartbeat-timeout"
            await brain.wait_closed("lost")
            assert len(server.connections) == 1
            (conn,) = server.connections.values()
            assert list(conn.sessions) == ["kept"]
            assert "kept" not in brain.closed

            # Well past the timeout, the heartbeating engine's session still talks.
            for k in range(1, 4):
                await kept.say(f"still here {k}")
                turn = await kept.turn()
                assert (turn.number, turn.text) == (k, f"still here {k}")
            assert "kept" not in brain.closed and len(server.connections) == 1

            # The brain forgot the silent engine: it must say hello again (PROTOCOL.md §2).
            await silent.send(Heartbeat())
            assert (await next_error(silent)).code == errors.NO_HANDSHAKE
            await silent.send(Hello(protocol=1))
            assert isinstance(await silent.next_event(), Welcome)

    run(scenario)


def test_any_message_counts_as_a_sign_of_life() -> None:
    async def scenario() -> None:
        brain = RecordingBrain()
        async with (
            running(brain, heartbeat_ms=50, timeout_ms=200) as server,
            engine(server, heartbeat=False) as talker,
        ):
            s = await talker.open_session(session="busy")
            # No heartbeats for 2.5x the timeout, only malformed messages paced like a
            # slow engine's (this sleep is the engine's pace, not a wait for the peer).
            for _ in range(6):
                await asyncio.sleep(0.08)
                await talker.send_frames([b"\xc1"])
                assert (await next_error(talker)).code == errors.BAD_FRAME
            await s.say("alive")
            assert (await s.turn()).text == "alive"
            assert "busy" not in brain.closed and len(server.connections) == 1

    run(scenario)
