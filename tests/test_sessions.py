"""Sessions over a real socket: many engines and NPCs at once, actions, audio, cancel."""

from __future__ import annotations

import asyncio

import pytest
from helpers import (
    engine,
    next_error,
    pcm16,
    run,
    running,
    sine,
    talk,
)

from bridge import errors
from bridge.config import Limits
from bridge.errors import ProtocolError
from bridge.messages import (
    ActionCall,
    ActionResult,
    Cancel,
    DialogueDelta,
    DialogueFinal,
    Interrupted,
    NpcAudio,
    SessionClose,
    SessionOpen,
    TextInput,
    TurnEnd,
    TurnStart,
)
from bridge.messages.base import SessionMessage
from plugin_stubs.client import Session
from plugin_stubs.playback import Turn
from plugin_stubs.wav import Pcm

PAINT = {
    "type": "function",
    "function": {
        "name": "paint",
        "description": "Paint the mech",
        "parameters": {
            "type": "object",
            "properties": {"color": {"type": "string"}},
            "required": ["color"],
        },
    },
}


def assert_clean_turn(turn: Turn, session: Session, number: int, text: str) -> None:
    """Every message is this session's and this turn's; deltas add up to the final line."""
    assert turn.number == number
    for msg in turn.messages:
        assert isinstance(msg, SessionMessage) and msg.session == session.id, msg
        assert msg.turn == number, msg  # type: ignore[attr-defined]
    deltas = "".join(m.text for m in turn.of(DialogueDelta))  # type: ignore[attr-defined]
    assert deltas.strip() == text
    assert turn.text == text
    assert turn.end is not None and turn.end.reason == "done"
    assert turn.messages[-1] is turn.end


def test_many_engines_many_sessions_interleaved_turns_never_mix() -> None:
    async def converse(client_no: int, session: Session) -> None:
        for k in range(1, 4):
            text = f"engine {client_no} session {session.id} turn {k} over"
            turn = await talk(session, text)
            assert_clean_turn(turn, session, k, text)

    async def scenario() -> None:
        async with (
            running() as server,
            engine(server) as a,
            engine(server) as b,
            engine(server) as c,
        ):
            clients = [a, b, c]
            sessions: list[tuple[int, Session]] = []
            for n, client in enumerate(clients):
                for npc in ("brakka", "quartermaster", "", "quartermaster"):
                    s = await client.open_session(npc, player=f"player-{n}")
                    assert s.opened is not None
                    want = npc or "brakka"
                    assert s.opened.npc == want
                    assert s.opened.npc_name == {"brakka": "Brakka",
                                                 "quartermaster": "Quartermaster Ilse"}[want]
                    assert s.opened.player == f"player-{n}"
                    sessions.append((n, s))
            # The same session ids exist on every connection: sessions are per connection.
            assert {s.id for _, s in sessions if _ == 0} == {s.id for _, s in sessions if _ == 1}
            assert sum(len(c.sessions) for c in server.connections.values()) == 12
            await asyncio.gather(*(converse(n, s) for n, s in sessions))
            for client in clients:
                assert client.gaps == 0
                assert client.events.empty()

    run(scenario)


def test_unknown_npc_is_refused() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            seq = await client.send(SessionOpen(session="x", npc="nobody", player="p"))
            err = await next_error(client)
            assert err.code == errors.UNKNOWN_NPC
            assert err.ref_seq == seq and err.session == "x"
            assert "nobody" in err.reason and "brakka" in err.reason
            with pytest.raises(ProtocolError) as info:
                await client.open_session("nobody", session="y")
            assert info.value.code == errors.UNKNOWN_NPC
            assert not client.sessions
            # Refused opens leave nothing behind: both ids open now.
            for sid in ("x", "y"):
                ok = await client.open_session("quartermaster", session=sid)
                assert ok.opened is not None and ok.opened.npc == "quartermaster"

    run(scenario)


def test_duplicate_session_id_is_session_exists_and_the_first_goes_on() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            first = await client.open_session("brakka", session="dup")
            seq = await client.send(SessionOpen(session="dup", npc="quartermaster", player="p"))
            err = await next_error(client, first)
            assert err.code == errors.SESSION_EXISTS
            assert err.ref_seq == seq and err.session == "dup"
            turn = await talk(first, "still brakka")
            assert_clean_turn(turn, first, 1, "still brakka")

    run(scenario)


def test_too_many_sessions_per_connection() -> None:
    async def scenario() -> None:
        async with running(limits=Limits(max_sessions=2)) as server, engine(server) as client:
            one = await client.open_session(session="one")
            await client.open_session(session="two")
            with pytest.raises(ProtocolError) as info:
                await client.open_session(session="three")
            assert info.value.code == errors.TOO_MANY_SESSIONS
            # The limit is per connection: another engine still gets its two.
            async with engine(server) as other:
                await other.open_session(session="one")
                await other.open_session(session="two")
            # Closing one frees a place.
            await one.close()
            three = await client.open_session(session="three")
            assert_clean_turn(await talk(three, "third"), three, 1, "third")

    run(scenario)


def test_unknown_and_closed_sessions_are_unknown_session() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            seq = await client.send(TextInput(session="never", text="hello?"))
            err = await next_error(client)
            assert err.code == errors.UNKNOWN_SESSION
            assert (err.ref_seq, err.session) == (seq, "never")
            assert "closed" not in err.reason

            s = await client.open_session(session="gone")
            await talk(s, "before")
            await s.close()
            assert "gone" not in client.sessions
            for msg in (TextInput(session="gone", text="after"), SessionClose(session="gone"),
                        Cancel(session="gone")):
                seq = await client.send(msg)
                err = await next_error(client)
                assert err.code == errors.UNKNOWN_SESSION, msg
                assert (err.ref_seq, err.session) == (seq, "gone")
                assert "closed" in err.reason
            # A closed id may be opened again, as a new conversation from turn 1.
            again = await client.open_session(session="gone")
            assert_clean_turn(await talk(again, "new"), again, 1, "new")

    run(scenario)


def test_engine_action_round_trip() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            s = await client.open_session("brakka", actions=[PAINT])
            assert s.opened is not None and s.opened.actions == ["paint"]
            await s.say('call paint {"color":"red"}')
            start = await s.next()  # every NPC turn begins by saying whose it is
            assert isinstance(start, TurnStart)
            assert (start.turn, start.npc, start.player, start.cause) == (
                1, "brakka", "player-1", "player")
            call = await s.next()
            assert isinstance(call, ActionCall)
            assert (call.name, call.arguments, call.turn) == ("paint", {"color": "red"}, 1)
            # A result for a call that is not pending is refused; the real one still counts.
            seq = await client.send(ActionResult(session=s.id, call_id="nope", ok=True))
            err = await next_error(client, s)
            assert err.code == errors.UNKNOWN_ACTION and err.ref_seq == seq
            await s.action_result(call.call_id, True, {"painted": "red"})
            turn = await s.turn()
            assert turn.text == 'paint done: {"painted": "red"}'
            assert turn.end is not None and turn.end.reason == "done"

            # The same through the client's action handler, with a failure this time.
            def refuse(c: ActionCall) -> tuple[bool, object, str]:
                assert c.arguments == {"color": "blue"}
                return False, None, "out of blue paint"

            h = await client.open_session("brakka", actions=[PAINT], on_action=refuse)
            turn = await talk(h, 'call paint {"color": "blue"}')
            assert [a.name for a in turn.actions] == ["paint"]
            assert turn.text == "paint failed: out of blue paint"

    run(scenario)


def test_cancel_while_waiting_for_an_action_ends_the_turn_cancelled() -> None:
    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            s = await client.open_session(actions=[PAINT])
            await s.say('call paint {"color": "red"}')
            assert isinstance(await s.next(), TurnStart)
            call = await s.next()
            assert isinstance(call, ActionCall)
            await s.cancel()
            interrupted = await s.next()
            assert isinstance(interrupted, Interrupted)
            assert (interrupted.turn, interrupted.reason) == (1, "cancel")
            assert interrupted.stop_sample == 0
            end = await s.next()
            assert isinstance(end, TurnEnd) and (end.turn, end.reason) == (1, "cancelled")
            # Nothing more of turn 1; the next turn is 2 and clean.
            assert_clean_turn(await talk(s, "next"), s, 2, "next")

    run(scenario)


def test_cancel_mid_audio_echo() -> None:
    seconds, rate = 20.0, 16000
    voice = Pcm(pcm16(sine(seconds, rate, amp=0.3)), rate)

    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            s = await client.open_session(audio_out_rate=48000)
            await s.stream(voice)
            turn = Turn(number=1)
            while True:
                msg = await s.next()
                turn.add(msg)
                if isinstance(msg, NpcAudio):
                    break
            await s.cancel()
            while turn.end is None:
                turn.add(await s.next())
            if turn.end.reason == "done":
                pytest.skip("the echo finished before the cancel arrived; timing, not a bug")
            stop = turn.interrupted
            assert stop is not None and stop.reason == "cancel"
            assert turn.end.reason == "cancelled"
            received = sum(len(m.pcm) // 2 for m in turn.of(NpcAudio))  # type: ignore[attr-defined]
            # The brain sent `received` samples, but the engine has played (on its real-time
            # clock) only what the time since the first chunk allows: that is the stop.
            assert received == turn.end.audio_samples
            assert 0 <= stop.stop_sample <= received
            assert stop.stop_sample < 48000  # the cancel left right after the first chunk
            assert 0 < received < seconds * 48000
            # Interrupted is the last word on turn 1 before its turn-end.
            assert turn.messages[-2] is stop
            assert not turn.of(DialogueFinal)

    run(scenario)


def test_a_timed_out_next_loses_nothing() -> None:
    """Session.next is cancel-safe: timeouts racing a streaming reply drop no message."""
    words = [f"w{i}" for i in range(300)]

    async def scenario() -> None:
        async with running() as server, engine(server) as client:
            s = await client.open_session()
            with pytest.raises(TimeoutError):
                await s.next(0.01)
            await s.say(" ".join(words))
            got: list[object] = []
            timeouts = 0
            while not got or not isinstance(got[-1], TurnEnd):
                try:
                    got.append(await s.next(0.0005))
                except TimeoutError:
                    timeouts += 1
                    assert timeouts < 100_000
            deltas = [m.text.strip() for m in got if isinstance(m, DialogueDelta)]
            assert deltas == words
            assert [type(m).__name__ for m in got[-2:]] == ["DialogueFinal", "TurnEnd"]

    run(scenario)
