"""What the hangar's player does in a scene: speak a line into an open microphone, watch a turn.

Shared by the demo, `npc-bridge play` and the scripted play tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bridge.messages import (
    ActionCall,
    DialogueDelta,
    FaceFrames,
    GameEvent,
    Message,
    NpcAudio,
    Transcript,
    TurnEnd,
)
from npc.tts.base import Tts, Voice, speak
from plugin_stubs.client import EngineClient
from plugin_stubs.wav import Pcm, with_silence
from sample_game.world import TICK_HZ, World

MIC_RATE = 16000
MIC_TAIL_S = 1.0  # the open microphone after the player stops: the VAD ends the turn in it
QUIET = 330  # |sample| at or below this (-40 dBFS) after the last word counts as silence


def player_voice(
    tts: Tts, line: str, voice: Voice | None = None, tail_s: float = MIC_TAIL_S
) -> Pcm:
    """`line` spoken by the project's TTS at the microphone's rate, then `tail_s` of silence.

    The voice's own quiet ending is cut, so the speech ends `tail_s` before the audio does.
    """
    clips = list(speak(tts, line, voice or Voice("joe-us"), MIC_RATE))
    pcm = np.concatenate([c.pcm for c in clips]).astype("<i2") if clips else np.zeros(0, "<i2")
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > QUIET)
    pcm = pcm[: loud[-1] + 1] if len(loud) else pcm[:0]
    return with_silence(Pcm(pcm.tobytes(), MIC_RATE), tail_s)


@dataclass
class Arrivals:
    """When the parts of an NPC turn reached the engine, in ms from `since` (monotonic s).

    `since` is the end of the player's input: the last speech sample sent, or the typed line.
    """

    since: float = field(default_factory=time.perf_counter)
    ms: dict[str, float] = field(default_factory=dict)

    def see(self, msg: Message) -> None:
        now = round((time.perf_counter() - self.since) * 1000, 1)
        if isinstance(msg, Transcript) and msg.final:
            self.ms.setdefault("transcript", now)
        elif isinstance(msg, DialogueDelta) and msg.text.strip():
            self.ms.setdefault("first_text", now)
        elif isinstance(msg, NpcAudio):
            self.ms.setdefault("first_audio", now)
        elif isinstance(msg, FaceFrames) and msg.count:
            self.ms.setdefault("first_face", now)
        elif isinstance(msg, TurnEnd):
            self.ms.setdefault("turn_end", now)


class Game:
    """The hangar's engine side: the world on its tick, applying the NPCs' engine actions.

    Every action and world change is told to `tell` as a line as it happens. With an
    `engine`, the world's events (a pilot walks in, a mech is damaged) go to the brain as
    `game-event` messages on each tick, for the NPCs' scripts to react to.
    """

    def __init__(
        self,
        world: World | None = None,
        tell: Callable[[str], None] = print,
        engine: EngineClient | None = None,
    ) -> None:
        self.world = world or World()
        self.tell = tell
        self.engine = engine
        self.log: list[tuple[str, bool, str]] = []  # (action, ok, error) in order
        self._seen = len(self.world.changes)
        self._sent = len(self.world.events)

    def on_action(self, player: str) -> Callable[[ActionCall], tuple[bool, Any, str]]:
        """The session's action handler for `player`."""
        apply = self.world.handler(player)

        def answer(call: ActionCall) -> tuple[bool, Any, str]:
            ok, result, error = apply(call)
            self.log.append((call.name, ok, error))
            args = json.dumps(call.arguments, ensure_ascii=False)
            self.tell(f"  [action] {call.name} {args} -> " + ("ok" if ok else f"refused: {error}"))
            self.news()
            return ok, result, error

        return answer

    def news(self) -> list[str]:
        """World changes since the last call, each told as `[world] ...`."""
        new = self.world.changes[self._seen :]
        self._seen = len(self.world.changes)
        for change in new:
            self.tell(f"  [world] {change}")
        return new

    async def publish(self) -> int:
        """Send the world's events not sent yet to the brain; how many were sent."""
        new = self.world.events[self._sent :]
        if self.engine is None:
            return 0
        self._sent += len(new)
        for event in new:
            self.tell(f"  [event] {event.name} {json.dumps(event.payload, ensure_ascii=False)}")
            await self.engine.send(
                GameEvent(name=event.name, payload=event.payload, players=event.players)
            )
        return len(new)

    async def tick(self) -> None:
        """Run the world at TICK_HZ until cancelled (as a game loop would)."""
        while True:
            await asyncio.sleep(1 / TICK_HZ)
            self.world.step()
            self.news()
            await self.publish()
