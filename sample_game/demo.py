"""The scripted scene `npc-bridge demo` plays: server and game in one process, real sockets.

The brain is the hangar's config (sample_game/hangar.toml): it hears for real (Silero VAD,
Whisper), thinks for real (the embedded Qwen2.5-Coder-0.5B through llama.cpp) and speaks
(the embedded piper voice, clause by clause, with ARKit face frames and the line's
emotion). The game is sample_game/world.py on its 20 Hz tick: the NPCs' engine actions
paint the pilot's mech, hand out supplies and repair parts, or are refused when the pilot
cannot pay. The player's spoken lines are made with the same TTS and streamed in real time
into an open microphone, as a headset would.

Act two (with the thinking brain) is the hangar floor: one group session with Brakka and
Quartermaster Ilse, where the NPCs' scripts (sample_game/scripts/hangar.py) act on their
own: the pilot walks in and is greeted, a mech takes a hit and Ilse reacts, the pilot asks
about the reactor aloud and hears Brakka's secret, then the bay goes quiet and the two
banter.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.config import ServerConfig, load
from bridge.messages import DialogueFinal, Message, Transcript, TurnStart
from npc.designer.persona import load_npcs
from npc.factory import build_brain
from plugin_stubs.client import EngineClient, Session
from plugin_stubs.playback import Turn
from plugin_stubs.record import save_turn
from sample_game import CONFIG, HERE, NPCS_DIR
from sample_game.scene import MIC_TAIL_S, Arrivals, Game, player_voice
from sample_game.world import World, tools

TURN_S = 240.0  # a whole turn, spoken: generous, as a busy 2-core machine can be slow
QUIET_S = 90.0  # act two: the idle goal's 30 s of quiet, then the first banter line
BANTER_GAP_S = 60.0  # no next banter line in this long: the exchange is over
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
# Act two, on the hangar floor: (what happens, the player's line or the place or part)
FLOOR = [
    ("enter", "mech bay"),  # Brakka's greeting goal
    ("damage", "arms"),  # Ilse's reaction goal
    ("voice", "Brakka, what's wrong with the reactor?"),  # his secret: a goal on the intent
    ("quiet", ""),  # Brakka's idle goal: he and Ilse banter
]
# Stages, in ms from the end of the player's input (the last speech sample sent, or the
# typed line): end of turn and the final transcript from the brain's turn-end latency_ms,
# the rest as they reached the engine.
STAGES = ("end_of_turn", "transcript", "first_token", "first_audio", "first_face", "turn_end")


@dataclass
class SceneTurn:
    """One turn of the scene as it went."""

    npc: str  # the NPC's display name
    kind: str  # "voice", "text", "event" (a world event) or "quiet" (nobody speaks)
    said: str  # what the player typed, what the brain heard, or what happened
    line: str  # what the NPC said
    actions: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)  # STAGES that happened
    reply: str = ""  # the saved reply's folder, relative to the output folder
    act: int = 1  # 2: on the hangar floor, the NPCs' scripts at work


def floor_complete(turns: list[SceneTurn]) -> bool:
    """Act two happened as written: greeted, the secret told, the reaction, a banter."""
    kinds = [t.kind for t in turns if t.act == 2]
    return kinds[:3] == ["event", "event", "voice"] and kinds[3:].count("quiet") >= 2


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
            if len(turns) == len(SCRIPT) and getattr(brain, "scripts", None) is not None:
                for session in sessions.values():  # the pilot leaves the counter and the bench
                    await session.close()
                game.engine = engine
                turns += await _floor(engine, game, tts, out)
    finally:
        ticking.cancel()
        await server.stop()
    return turns, game.world.snapshot()


async def _floor(engine: EngineClient, game: Game, tts: Any, out: Path) -> list[SceneTurn]:
    """Act two: the NPCs' scripts at work in a group session with Brakka and Ilse."""
    names = {n.id: n.name for n in load_npcs(NPCS_DIR)}
    print("\nAct two, the hangar floor: Brakka and Quartermaster Ilse in one conversation, "
          "their scripts acting on their own", flush=True)
    s = await engine.open_session(
        "brakka", PLAYER, npcs=["quartermaster"], on_action=game.on_action(PLAYER),
        actions=tools("brakka") + [t for t in tools("quartermaster")
                                   if t not in tools("brakka")],
        timeout=TURN_S,
    )
    turns: list[SceneTurn] = []
    for kind, what in FLOOR:
        try:
            if kind == "enter":
                print(f"\n{PLAYER} walks into the {what}", flush=True)
                game.world.enter(PLAYER, what)
                turns.append(await _turn(s, "event", f"walks into the {what}", tts, game, out,
                                         names, game.publish))
            elif kind == "damage":
                print(f"\na loading arm swings into {PLAYER}'s mech", flush=True)
                game.world.damage(PLAYER, what, 35)
                turns.append(await _turn(s, "event", f"the mech's {what} are hit", tts, game,
                                         out, names, game.publish))
            elif kind == "voice":
                turns.append(await _turn(s, kind, what, tts, game, out, names))
            else:
                print("\nthe bay goes quiet ...", flush=True)
                wait = QUIET_S
                while True:  # the banter, line by line, until nobody speaks for a while
                    turns.append(await _turn(s, "quiet", "(nobody speaks)", tts, game, out,
                                             names, timeout=wait))
                    wait = BANTER_GAP_S
        except TimeoutError:
            if kind != "quiet" or turns[-1].kind != "quiet":
                print("  (nothing within the time: act two stops here)")
                break
    for t in turns:
        t.act = 2
    return turns


async def _turn(
    session: Session,
    kind: str,
    line: str,
    tts: Any,
    game: Game,
    out: Path,
    names: dict[str, str] | None = None,
    happen: Callable[[], Awaitable[Any]] | None = None,
    timeout: float = TURN_S,
) -> SceneTurn:
    assert session.opened is not None
    who, seen = session.opened.npc_name, len(game.world.changes)

    def show(msg: Message) -> None:
        nonlocal who
        arrivals.see(msg)
        if isinstance(msg, TurnStart) and names:
            who = names.get(msg.npc, msg.npc)
        if isinstance(msg, Transcript) and msg.final:
            print(f"  heard: {msg.text!r}", flush=True)
        elif isinstance(msg, DialogueFinal):
            print(f"  {who}: {msg.text}", flush=True)

    if kind in ("event", "quiet"):
        arrivals = Arrivals()
        if happen is not None:
            await happen()
        turn = await session.turn(timeout, on_message=show)
    elif kind == "text":
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
