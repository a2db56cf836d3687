"""`npc-bridge bench e2e`: player lines through a real bridge to the sample game's NPCs, timed.

A real server runs the brain of a config (the sample game's hangar by default, its state
in a temporary folder); an engine client opens N sessions at once and each plays the same
player lines: typed, and spoken in real time into an open microphone (the line, then
silence until the NPC's turn ends, as a headset sends), with and without an action, and
with a lore question. Per turn it keeps the brain's latency trace (turn-end `latency_ms`,
ms after the player's input ended, on the brain's clock) and, at the engine, the time from
the last speech chunk sent (or the typed line) to the first NPC audio chunk received.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bridge.messages import ActionCall, DialogueDelta, Error, Message, NpcAudio
from bridge.seam import Brain
from plugin_stubs.client import EngineClient, Session
from plugin_stubs.wav import Pcm, read_wav, write_wav

CHUNK_MS = 20  # the microphone's chunk
PLAYBACK_CAP_S = 20.0  # the player listens to at most this much of a reply before going on


@dataclass(frozen=True, slots=True)
class PlayerLine:
    npc: str
    text: str
    kind: str  # "spoken" or "typed"
    what: str  # "plain", "action" (the NPC should act) or "lore" (a question its lore answers)

    @property
    def group(self) -> str:
        return f"{self.kind} {self.what}"


# One of each kind of line per NPC pair; spoken and typed alternate so a short run has both.
_TEXTS = [
    ("quartermaster", "plain", "Good morning. How is the day going?"),
    ("brakka", "action", "Paint my mech red."),
    ("brakka", "lore", "What powers the north hangar?"),
    ("quartermaster", "action", "Give me a wrench, please."),
    ("brakka", "plain", "Thanks for the help earlier."),
    ("quartermaster", "lore", "When is the stores window open?"),
]
LINES = [
    PlayerLine(npc, text, kind, what)
    for i, (npc, what, text) in enumerate(_TEXTS)
    for kind in (("spoken", "typed") if i % 2 == 0 else ("typed", "spoken"))
]
QUICK_LINES = LINES[:6]  # one of each: spoken and typed; plain, action, lore


@dataclass
class Measured:
    """One turn: the brain's marks and what the engine saw, ms after the input ended."""

    line: PlayerLine
    sessions: int  # conversations running at once
    marks: dict[str, float] = field(default_factory=dict)  # the brain's trace
    engine: dict[str, float] = field(default_factory=dict)  # first_text, first_audio arrivals
    heard: str = ""  # the final transcript of a spoken line
    actions: list[str] = field(default_factory=list)
    failed: str = ""  # "timeout", an error the turn sent, or its end reason when not "done"


class Voices:
    """The player's spoken lines, made once with a TTS and cached as WAVs."""

    def __init__(self, tts: Callable[[], Any], cache: Path) -> None:
        self.tts, self.cache = tts, cache  # tts: the voice, once the brain has loaded it
        self._made: dict[str, Pcm] = {}

    def speech(self, text: str) -> Pcm:
        """`text` spoken at 16 kHz, its quiet ending cut (the last sample is speech)."""
        if text not in self._made:
            name = hashlib.sha1(text.encode()).hexdigest()[:12] + ".wav"
            path = self.cache / name
            if path.is_file():
                self._made[text] = read_wav(path)
            else:
                from sample_game.scene import player_voice

                pcm = player_voice(self.tts(), text, tail_s=0.0)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_wav(path, pcm)
                self._made[text] = pcm
        return self._made[text]


async def _open_mic(s: Session, speech: Pcm, said: list[float]) -> None:
    """The line in real time, then silence until cancelled; `said` gets the last speech
    chunk's send time (perf_counter s)."""
    await s.stream(speech, chunk_ms=CHUNK_MS, realtime=True, end=False)
    said.append(time.perf_counter())
    quiet = Pcm(bytes(2 * speech.sample_rate * CHUNK_MS // 1000), speech.sample_rate)
    while True:
        await s.stream(quiet, chunk_ms=CHUNK_MS, realtime=True, end=False)


async def play_line(
    s: Session, line: PlayerLine, voices: Voices | None, turn_s: float, sessions: int
) -> Measured:
    """One player line and the NPC's whole turn; then the player listens to the reply."""
    m = Measured(line, sessions)
    seen: dict[str, float] = {}

    def see(msg: Message) -> None:
        now = time.perf_counter()
        if isinstance(msg, NpcAudio):
            seen.setdefault("first_audio", now)
        elif isinstance(msg, DialogueDelta) and msg.text.strip():
            seen.setdefault("first_text", now)
        elif isinstance(msg, ActionCall):
            m.actions.append(msg.name)
        elif isinstance(msg, Error):  # e.g. the model gave no first piece in time
            m.failed = m.failed or f"error from {msg.stage or 'the brain'}: {msg.reason[:80]}"

    said: list[float] = []
    mic: asyncio.Future[None] | None = None
    if line.kind == "spoken":
        assert voices is not None
        mic = asyncio.ensure_future(_open_mic(s, voices.speech(line.text), said))
    else:
        said.append(time.perf_counter())
        await s.say(line.text)
    try:
        turn = await s.turn(turn_s, on_message=see)
    except TimeoutError:
        m.failed = "timeout"
        return m
    finally:
        if mic is not None:
            mic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mic
    end = turn.end
    if end is None or end.reason != "done":
        m.failed = end.reason if end is not None else "no turn-end"
    m.marks = dict(end.latency_ms) if end is not None else {}
    m.heard = turn.transcript
    if said:
        m.engine = {k: round((t - said[0]) * 1000, 1) for k, t in seen.items()}
    if turn.audio and "first_audio" in seen:  # listen, as a player would, before going on
        playing = len(turn.audio) / 2 / turn.sample_rate
        left = seen["first_audio"] + min(playing, PLAYBACK_CAP_S) - time.perf_counter()
        await asyncio.sleep(max(0.0, left))
    return m


async def run_sessions(
    endpoint: str,
    lines: list[PlayerLine],
    sessions: int,
    voices: Voices | None,
    turn_s: float,
    warmup: str = "",
) -> list[Measured]:
    """`sessions` conversations at once, each playing `lines` in order (a different player
    in each, NPCs taken in turn); after an unmeasured `warmup` typed line, if given."""
    from sample_game.world import World, tools

    world = World({f"bench-{i}": 100_000 for i in range(sessions)})
    for line in lines:  # made before the clock runs: piper would hold the event loop
        if line.kind == "spoken" and voices is not None:
            voices.speech(line.text)
    async with EngineClient(endpoint, name="bench-e2e") as client:
        opened: dict[tuple[int, str], Session] = {}
        for i in range(sessions):
            for npc in dict.fromkeys(line.npc for line in lines):
                player = f"bench-{i}"
                handler = world.handler(player)
                opened[(i, npc)] = await client.open_session(
                    npc, player, actions=tools(npc), on_action=handler, timeout=turn_s
                )

        async def one(i: int) -> list[Measured]:
            if warmup:
                for npc in dict.fromkeys(line.npc for line in lines):
                    await play_line(opened[(i, npc)], PlayerLine(npc, warmup, "typed", "warmup"),
                                    None, turn_s, sessions)
            return [
                await play_line(opened[(i, line.npc)], line, voices, turn_s, sessions)
                for line in lines
            ]

        results = await asyncio.gather(*(one(i) for i in range(sessions)))
        for s in opened.values():
            with contextlib.suppress(TimeoutError):
                await s.close()
    return [m for per in results for m in per]


async def bench(
    brain: Brain,
    lines: list[PlayerLine],
    session_counts: list[int],
    voices: Voices | None,
    turn_s: float,
    warmup: str = "",
) -> list[Measured]:
    """Start a server for `brain` on loopback and run every session count on it."""
    from bridge.config import ServerConfig
    from bridge.server import BridgeServer

    server = BridgeServer(brain, ServerConfig(bind="tcp://127.0.0.1:*"))
    await server.start()
    try:
        out: list[Measured] = []
        for n in session_counts:
            out += await run_sessions(server.endpoint, lines, n, voices, turn_s, warmup)
        return out
    finally:
        await server.stop()


def percentiles(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    p50, p90 = np.percentile(np.asarray(values, dtype=np.float64), [50, 90])
    return float(p50), float(p90)
