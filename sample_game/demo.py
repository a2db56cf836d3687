"""The scripted scene `npc-bridge demo` plays: server and engine in one process, real sockets.

The brain is the hangar's config (sample_game/hangar.toml): it hears for real (Silero VAD,
Whisper) and thinks for real (the embedded Qwen2.5-Coder-0.5B through llama.cpp): NPCs
answer in character from their lore and memory, hand out supplies (a Python action),
paint the mech (an engine action that changes the world), and refuse what they may not
do; and they speak (the embedded piper voice, clause by clause) with ARKit face frames
and the line's emotion. Each spoken turn is saved as a WAV with its face frames.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bridge.config import ServerConfig, load
from bridge.messages import ActionCall
from bridge.server import BridgeServer
from npc.factory import build_brain
from plugin_stubs.client import EngineClient
from plugin_stubs.playback import Turn
from plugin_stubs.record import save_turn
from plugin_stubs.wav import read_wav, with_silence
from sample_game import CONFIG, HERE

TURN_S = 120.0  # a whole turn, spoken: generous, as a busy 2-core machine can be slow
# The engine actions the hangar declares (the same as the action scenarios use).
ENGINE_ACTIONS = json.loads((HERE / "scenarios" / "actions.json").read_text())["engine_actions"]


class World:
    """The hangar's state as the engine holds it; actions from the NPC change it."""

    def __init__(self) -> None:
        self.mech_color = "grey"

    def apply(self, call: ActionCall) -> tuple[bool, Any, str]:
        if call.name == "paint_mech":
            before, self.mech_color = self.mech_color, str(call.arguments["color"])
            print(f"  world: mech paint {before} -> {self.mech_color}")
            return True, {"color": self.mech_color}, ""
        if call.name == "open_door":
            print(f"  world: the {call.arguments['door']} door opens")
            return True, {"open": call.arguments["door"]}, ""
        return False, None, f"the hangar cannot {call.name}"


async def play(out: Path) -> list[tuple[str, str, float, float]]:
    """Play the scene; returns (npc, what, reply ms, wall ms) per turn."""
    world = World()
    print("loading the brain, its models and the hangar's NPCs ...", flush=True)
    _, rest = load(CONFIG)
    brain = build_brain(rest, CONFIG.parent)
    server = BridgeServer(brain, ServerConfig(bind="tcp://127.0.0.1:*"))
    await server.start()
    rows: list[tuple[str, str, float, float]] = []
    try:
        async with EngineClient(server.endpoint, name="hangar-demo") as engine:
            assert engine.welcome is not None
            print(f"connected to {server.endpoint}: NPCs {', '.join(engine.welcome.npcs)}")
            tools = list(ENGINE_ACTIONS.values())
            brakka = await engine.open_session(
                "brakka", "pilot-1", actions=tools, on_action=world.apply
            )
            ilse = await engine.open_session("quartermaster", "pilot-1")
            okoro = await engine.open_session(
                "guard", "pilot-1", actions=[ENGINE_ACTIONS["open_door"]], on_action=world.apply
            )
            script = [
                (brakka, "text", "Morning, Brakka. Busy day?"),
                (brakka, "text", "What powers the north hangar?"),
                (ilse, "text", "I need two spare power cells."),
                (okoro, "text", "Give me a power cell."),
                (okoro, "voice", "quartermaster.wav"),
                (brakka, "voice", "paint_red.wav"),
            ]
            for session, kind, line in script:
                assert session.opened is not None
                who = session.opened.npc_name
                started = time.perf_counter()
                if kind == "text":
                    print(f"player -> {who}: {line}")
                    await session.say(line)
                else:
                    # A live microphone goes on sending silence after the player stops; the
                    # brain's VAD hears the end of the turn in it.
                    voice = with_silence(read_wav(HERE / "player_lines" / line), 1.0)
                    print(f"player -> {who}: ({voice.seconds:.1f} s of microphone audio)")
                    await session.stream(voice, realtime=True, end=False)
                turn = await session.turn(timeout=TURN_S)
                wall = (time.perf_counter() - started) * 1000
                _report(who, turn)
                if turn.audio:
                    save_turn(out / f"{session.opened.npc}-turn{turn.number}", turn)
                assert turn.end is not None
                rows.append((who, kind, turn.end.latency_ms.get("reply", 0.0), wall))
    finally:
        await server.stop()
    return rows


def _report(who: str, turn: Turn) -> None:
    if turn.transcript:
        assert turn.end is not None
        ms = turn.end.latency_ms
        print(
            f"  heard: {turn.transcript!r} (final transcript "
            f"{ms.get('last_speech_to_final_ms', 0):.0f} ms after the last speech, "
            f"{ms.get('final_after_eot_ms', 0):.0f} ms after end of turn)"
        )
    for call in turn.actions:
        print(f"  {who} acts: {call.name}({call.arguments})")
    print(f"  {who}: {turn.text}")
    if turn.audio:
        ms = turn.end.latency_ms if turn.end is not None else {}
        secs = len(turn.audio) / 2 / turn.sample_rate
        feeling = ", ".join(e.emotion for e in turn.emotions) or "none"
        print(
            f"  {who} voice: {secs:.2f} s at {turn.sample_rate} Hz, {len(turn.face_times)} "
            f"face frames x {len(turn.channels)} channels, emotion {feeling}; first audio "
            f"{ms.get('first_audio', 0):.0f} ms after its clause was written"
        )
