"""Hearing a session's players: whose speech it is, transcripts, barge-in, spoken turns.

A talking conversation is the Listener of its session player's hearing; each other player
of a group session gets hearing of their own on their first audio, with a PlayerEars that
says whose speech it is. Every player's speech is transcribed, may interrupt the NPC, and
ends in a turn for the NPC it addresses.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from bridge import errors
from bridge.errors import BridgeError, ProtocolError
from bridge.messages import Error, Transcript
from bridge.seam import Outbox, SessionInfo
from npc.hearing import Hearing, Listener, is_backchannel
from npc.trace import Trace

Reply = Callable[[], Coroutine[Any, Any, None]]  # a turn, made when it starts
Cause = Literal["player", "script", "banter"]  # why a turn happens (`turn-start.cause`)


class Listening(abc.ABC):
    """The hearing side of TalkingConversation (npc/talking.py), which provides the rest."""

    info: SessionInfo
    out: Outbox
    turn: int
    interruptible: bool
    players: list[str]  # every player of the session, the session's player first
    hearing: Hearing | None  # the session player's
    hearings: dict[str, Hearing]  # each other player's
    listen: Callable[[Listener], Hearing] | None  # the brain's ears, for other players

    @abc.abstractmethod
    def npc_speaking(self) -> bool:
        """A turn is in flight or its audio is still playing."""

    @abc.abstractmethod
    def interrupt(self, reason: str) -> None: ...

    @abc.abstractmethod
    def start(self, reply: Reply, *, npc: str = "", player: str = "", cause: Cause = "player",
              trace: Trace | None = None) -> None: ...

    @abc.abstractmethod
    def addressee(self, text: str, player: str) -> str: ...

    @abc.abstractmethod
    def joined(self, player: str) -> None: ...

    @abc.abstractmethod
    def on_heard(self, text: str, player: str, npc: str) -> Reply: ...

    @abc.abstractmethod
    def on_partial(self, text: str, player: str) -> None: ...

    def on_tentative(self, text: str, player: str) -> None:
        """`player` paused after saying `text` ("": they went on); a brain may start on it."""

    def player_of(self, player: str) -> str:
        """The player a message names ("" = the session's); unknown-player if not in it."""
        if not player:
            return self.info.player
        if player not in self.players:
            raise ProtocolError(
                f"no player '{player[:64]}' in this session; it has {', '.join(self.players)}",
                code=errors.UNKNOWN_PLAYER,
            )
        return player

    def hearing_of(self, player: str) -> Hearing | None:
        """`player`'s hearing: each player's speech has its own VAD, ASR and turn state."""
        if player == self.info.player:
            return self.hearing
        hearing = self.hearings.get(player)
        if hearing is None and self.listen is not None:
            hearing = self.hearings[player] = self.listen(PlayerEars(self, player))
        return hearing

    def player_speaking(self) -> bool:
        """True while any player of the session is in the middle of an utterance."""
        ears = [self.hearing, *self.hearings.values()]
        return any(h is not None and h.utterance is not None for h in ears)

    def speech_started(self) -> None:
        """The player started talking; barge-in waits for words (see `partial`)."""

    def failed(self, error: BridgeError) -> None:
        """Hearing failed on an utterance: tell the engine; the session keeps listening."""
        self.out.send(Error.of(error, session=self.info.session, stage="asr"))

    def partial(self, text: str, speech_ms: float) -> None:
        self.heard_partial(self.info.player, text, speech_ms)

    def heard_partial(self, player: str, text: str, speech_ms: float) -> None:
        s = self.info.session
        self.out.send(
            Transcript(session=s, turn=self.turn + 1, text=text, final=False, player=player)
        )
        speaking = self.npc_speaking()
        long_enough = speech_ms >= self._barge_in_ms()
        if speaking and self.interruptible and long_enough and not is_backchannel(text):
            self.joined(player)
            self.interrupt("barge-in")
        self.on_partial(text, player)

    def tentative(self, text: str) -> None:
        self.heard_tentative(self.info.player, text)

    def heard_tentative(self, player: str, text: str) -> None:
        """`player` paused and this is what they said ("": they went on); not yet a turn."""
        self.on_tentative(text, player)

    def _barge_in_ms(self) -> int:
        return self.hearing.config.barge_in_ms if self.hearing is not None else 0

    def final(self, text: str, trace: dict[str, float]) -> None:
        self.heard_final(self.info.player, text, trace)

    def heard_final(self, player: str, text: str, trace: dict[str, float]) -> None:
        s = self.info.session
        self.out.send(
            Transcript(session=s, turn=self.turn + 1, text=text, final=True, player=player)
        )
        speaking = self.npc_speaking()
        short = trace.get("speech_ms", 0.0) < self._barge_in_ms()
        if speaking and (short or is_backchannel(text)):
            return  # "mhm" while the NPC talks is not a turn
        if not text:
            self.start(_no_speech, player=player)
            return
        self.joined(player)
        if not isinstance(trace, Trace):  # a listener that keeps no clock of its own
            trace = Trace(kind="spoken")
        npc = self.addressee(text, player)
        self.start(self.on_heard(text, player, npc), npc=npc, player=player, trace=trace)


class PlayerEars:
    """The Listener of another player's hearing in a group session: says whose speech it is."""

    def __init__(self, conv: Listening, player: str) -> None:
        self.conv, self.player = conv, player

    def speech_started(self) -> None:
        self.conv.speech_started()

    def npc_speaking(self) -> bool:
        return self.conv.npc_speaking()

    def partial(self, text: str, speech_ms: float) -> None:
        self.conv.heard_partial(self.player, text, speech_ms)

    def final(self, text: str, trace: dict[str, float]) -> None:
        self.conv.heard_final(self.player, text, trace)

    def tentative(self, text: str) -> None:
        self.conv.heard_tentative(self.player, text)

    def failed(self, error: BridgeError) -> None:
        self.conv.failed(error)


async def _no_speech() -> None:
    """Push-to-talk with nothing said: the turn ends with no reply."""
