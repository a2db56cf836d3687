"""Steering, game events and fatal stage errors over real sockets."""

from __future__ import annotations

from bridge.errors import BackendError
from bridge.messages import Error, GameEvent, SessionClosed, SessionMessage, Steer, TextInput
from bridge.seam import Conversation, Opened, Outbox, SessionInfo
from npc.echo import EchoBrain, EchoConversation
from tests.helpers import WAIT, echo_brain, engine, run, running, talk


class EventBrain(EchoBrain):
    """The echo brain, keeping the world events it hears and failing fatally on request."""

    def __init__(self) -> None:
        super().__init__(list(echo_brain().roster.values()))
        self.events: list[GameEvent] = []
        self.conversations: list[EchoConversation] = []

    def event(self, msg: GameEvent) -> None:
        self.events.append(msg)

    def open(self, info: SessionInfo, out: Outbox) -> Opened:
        opened = super().open(info, out)
        conv = opened.conversation
        assert isinstance(conv, EchoConversation)
        self.conversations.append(conv)
        return Opened(FailingConversation(conv, self), opened.npc, opened.npc_name, opened.actions)


class FailingConversation(Conversation):
    def __init__(self, inner: EchoConversation, brain: EventBrain) -> None:
        self.inner = inner
        self.brain = brain

    def receive(self, msg: SessionMessage | GameEvent) -> None:
        if isinstance(msg, GameEvent):
            self.brain.events.append(msg)
        elif isinstance(msg, TextInput) and msg.text == "break":
            raise BackendError("the voice model crashed", fatal=True, stage="tts")
        else:
            self.inner.receive(msg)

    async def close(self) -> None:
        await self.inner.close()


def test_steer_reaches_the_conversation_and_bad_values_are_refused() -> None:
    async def scenario() -> None:
        brain = EventBrain()
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("brakka", steer={"humor": 1})
            await s.steer(humor=4, verbosity=0)
            await talk(s, "hello")  # in order after the steer
            assert brain.conversations[0].steer == {"humor": 4, "verbosity": 0}
            await client.send(Steer(session=s.id, attributes={"humor": 9}))
            err = await s.next(WAIT)
            assert isinstance(err, Error) and err.code == "bad-field" and "humor" in err.reason
            await client.send(Steer(session=s.id, attributes={"charm": 2}))
            err = await s.next(WAIT)
            assert isinstance(err, Error) and err.code == "bad-field" and "charm" in err.reason
            assert brain.conversations[0].steer == {"humor": 4, "verbosity": 0}

    run(scenario)


def test_game_events_go_to_the_brain_or_to_one_session() -> None:
    async def scenario() -> None:
        brain = EventBrain()
        async with running(brain) as server, engine(server) as client:
            s = await client.open_session("quartermaster")
            await client.send(GameEvent(name="mech-damaged", payload={"mech": "m1", "hp": 40}))
            await client.send(GameEvent(name="player-near", session=s.id, players=["player-1"]))
            await talk(s, "hello")  # both events were handled before this turn
            assert [(e.name, e.session) for e in brain.events] == [
                ("mech-damaged", None),
                ("player-near", s.id),
            ]
            assert brain.events[0].payload == {"mech": "m1", "hp": 40}
            await client.send(GameEvent(name="x", session="nope"))
            err = await client.next_event(WAIT)
            assert isinstance(err, Error) and err.code == "unknown-session"

    run(scenario)


def test_a_fatal_stage_error_closes_only_its_session() -> None:
    async def scenario() -> None:
        async with running(EventBrain()) as server, engine(server) as client:
            doomed = await client.open_session("brakka")
            other = await client.open_session("brakka")
            await doomed.say("break")
            err = await doomed.next(WAIT)
            assert isinstance(err, Error)
            assert (err.code, err.stage, err.fatal) == ("backend-failed", "tts", True)
            closed = await doomed.next(WAIT)
            assert isinstance(closed, SessionClosed) and closed.reason == "error"
            assert (await talk(other, "still here")).text == "still here"

    run(scenario)
