"""The scripted scene `npc-bridge demo` plays: server and game in one process, real sockets.

The brain is the hangar's config (sample_game/hangar.toml): it hears for real (Silero VAD,
Whisper), thinks for real (the embedded Qwen2.5-Coder-0.5B through llama.cpp) and speaks
(the embedded piper voice, clause by clause, with ARKit face frames and the line's
emotion). The game is sample_game/world.py on its 20 Hz tick: the NPCs' engine actions
paint the pilot's mech, hand out supplies and repair parts, or are refused when the pilot
cannot pay. The player's spoken lines are made with the same TTS and streamed in real time
into an open microphone, as a headset would.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.config import ServerConfig, load
from bridge.messages import DialogueFinal, Message, Transcript
from npc.factory import build_brain
from plugin_stubs.client import EngineClient, Session
from plugin_stubs.playback import Turn
from plugin_stubs.record import save_turn
from sample_game import CONFIG, HERE
from sample_game.scene import MIC_TAIL_S, Arrivals, Game, player_voice
from sample_game.world import World, tools

TURN_S = 240.0  # a whole turn, spoken: generous, as a busy 2-core machine can be slow
PLAYER = "pilot-1"
CREDITS = 500  # enough for a red paint job and a repair, not for a second paint job
# (npc, "voice" or "text", the player's line)
SCRIPT = [
    ("brakka", "text", "What powers the north hangar?"),
    ("brakka", "voice", "Paint my mech red."),
    ("quartermaster", "text", "When is the stores window open?"),
    ("quartermaster", "voice", "Give me a wrench, please."),
    ("brakka", "text", "Can you fix my mech's legs?"),
    ("brakka", "voice", "Now paint my mech blue."),
]
# Stages, in ms from the end of the player's input (the last speech sample sent, or the
# typed line): end of turn and the final transcript from the brain's turn-end latency_ms,
# the rest as they reached the engine.
STAGES = ("end_of_turn", "transcript", "first_token", "first_audio", "first_face", "turn_end")


@dataclass
class SceneTurn:
    """One turn of the scene as it went."""

    npc: str  # the NPC's display name
    kind: str  # "voice" or "text"
    said: str  # what the player typed, or what the brain heard
    line: str  # what the NPC said
    actions: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)  # STAGES that happened
    reply: str = ""  # the saved reply's folder, relative to the output folder


async def play(out: Path, config: Path = CONFIG) -> tuple[list[SceneTurn], dict[str, Any]]:
    """Play the scene on the brain of `config`; the turns and the world at the end."""
    print("loading the brain, its models and the hangar's NPCs ...", flush=True)
    _, rest = load(config)
    if rest["brain"].get("kind", "mind") == "mind":
        rest["brain"] = {**rest["brain"], "state_dir": str(_fresh_state(out)), "seed": 7}
    brain = build_brain(rest, config.parent)
    from bridge.server import BridgeServer

    server = BridgeServer(brain, ServerConfig(bind="tcp://127.0.0.1:*"))
    await server.start()
    game = Game(World({PLAYER: CREDITS}))
    ticking = asyncio.ensure_future(game.tick())
    turns: list[SceneTurn] = []
    try:
        tts = _tts(brain)
        async with EngineClient(server.endpoint, name="hangar-demo") as engine:
            assert engine.welcome is not None
            print(f"connected to {server.endpoint}: NPCs {', '.join(engine.welcome.npcs)}")
            print(f"{PLAYER} walks in with {CREDITS} credits and a grey mech")
            sessions: dict[str, Session] = {}
            for npc, _, _ in SCRIPT:  # the NPCs the pilot will talk to, before the scene
                if npc not in sessions:
                    sessions[npc] = await engine.open_session(
                        npc, PLAYER, actions=tools(npc), on_action=game.on_action(PLAYER),
                        timeout=TURN_S,
                    )
            for npc, kind, line in SCRIPT:
                try:
                    turns.append(await _turn(sessions[npc], kind, line, tts, game, out))
                except TimeoutError:
                    print(f"  (no reply within {TURN_S:.0f} s: the scene stops here)")
                    break
            await asyncio.sleep(2.5)  # the last repair and the paint finish on the tick
            if turns:
                turns[-1].changes += game.news()
    finally:
        ticking.cancel()
        await server.stop()
    return turns, game.world.snapshot()


async def _turn(
    session: Session, kind: str, line: str, tts: Any, game: Game, out: Path
) -> SceneTurn:
    assert session.opened is not None
    who, seen = session.opened.npc_name, len(game.world.changes)

    def show(msg: Message) -> None:
        arrivals.see(msg)
        if isinstance(msg, Transcript) and msg.final:
            print(f"  heard: {msg.text!r}", flush=True)
        elif isinstance(msg, DialogueFinal):
            print(f"  {who}: {msg.text}", flush=True)

    if kind == "text":
        print(f"\nplayer -> {who}: {line}", flush=True)
        arrivals = Arrivals()
        await session.say(line)
        turn = await session.turn(TURN_S, on_message=show)
    else:
        voice = player_voice(tts, line)
        speech_s = voice.seconds - MIC_TAIL_S
        print(f"\nplayer -> {who}: ({speech_s:.1f} s of speech into an open microphone)",
              flush=True)
        arrivals = Arrivals(since=time.perf_counter() + speech_s)
        talking = asyncio.ensure_future(session.stream(voice, realtime=True, end=False))
        try:
            turn = await session.turn(TURN_S, on_message=show)
        finally:
            await talking
    reply = ""
    if turn.audio:
        reply = f"{session.opened.npc}-turn{turn.number}"
        save_turn(out / reply, turn)
    done = SceneTurn(
        npc=who, kind=kind, said=turn.transcript if kind == "voice" else line, line=turn.text,
        actions=[_action(c.name, c.arguments, game) for c in turn.actions],
        changes=game.world.changes[seen:], latency_ms=_latency(turn, arrivals), reply=reply,
    )
    _report(done, turn)
    return done


def _action(name: str, arguments: dict[str, Any], game: Game) -> str:
    outcome = next((ok, error) for n, ok, error in reversed(game.log) if n == name)
    how = "ok" if outcome[0] else f"refused: {outcome[1]}"
    return f"{name} {json.dumps(arguments, ensure_ascii=False)} -> {how}"


def _latency(turn: Turn, arrivals: Arrivals) -> dict[str, float]:
    brain = turn.end.latency_ms if turn.end is not None else {}
    ms: dict[str, float] = {}
    if "end_of_turn" in brain:
        ms["end_of_turn"] = round(brain["end_of_turn"], 1)
    if "transcript" in arrivals.ms:
        ms["transcript"] = arrivals.ms["transcript"]
    for stage, key in (("first_token", "first_text"), ("first_audio", "first_audio"),
                       ("first_face", "first_face"), ("turn_end", "turn_end")):
        if key in arrivals.ms:
            ms[stage] = arrivals.ms[key]
    return ms


def _report(t: SceneTurn, turn: Turn) -> None:
    if turn.audio:
        secs = len(turn.audio) / 2 / turn.sample_rate
        feeling = ", ".join(e.emotion for e in turn.emotions) or "none"
        print(f"  ({secs:.1f} s of voice, {len(turn.face_times)} face frames, emotion "
              f"{feeling})")
    stages = ", ".join(f"{k} {v:.0f}" for k, v in t.latency_ms.items())
    print(f"  ms after the player's input: {stages}", flush=True)


def _fresh_state(out: Path) -> Path:
    """A state folder with no memory of earlier runs (the lore index cache is kept)."""
    state = out / "state"
    cache = HERE / "state" / "cache"
    if not (state / "cache").is_dir() and cache.is_dir():
        shutil.copytree(cache, state / "cache")
    for name in ("memory.sqlite3", "steerlm.jsonl"):
        (state / name).unlink(missing_ok=True)
    return state


def _tts(brain: Any) -> Any:
    """The brain's own voice, loaded at start, for the player's lines too."""
    voices = getattr(brain, "voices", None)
    if voices is not None:
        return voices.tts
    from npc.tts.registry import build_tts

    return build_tts("piper")
