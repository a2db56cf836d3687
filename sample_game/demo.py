"""The scripted scene `npc-bridge demo` plays: server and engine in one process, real sockets.

Until the NPC pipeline lands (issues 3-6) the brain behind the seam is the echo brain, so
the scene shows the wire end to end: sessions with both NPCs, typed lines, an engine action
that changes the world, and player audio echoed back with face frames.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bridge.config import ServerConfig
from bridge.messages import ActionCall
from bridge.server import BridgeServer
from npc.echo import EchoBrain
from npc.roster import load_roster
from plugin_stubs.client import EngineClient
from plugin_stubs.playback import Playback, Turn
from plugin_stubs.record import save_turn
from plugin_stubs.wav import Pcm
from sample_game import NPCS_DIR

PAINT = {
    "type": "function",
    "function": {
        "name": "paint_mech",
        "description": "Repaint the player's mech.",
        "parameters": {
            "type": "object",
            "properties": {"color": {"type": "string"}},
            "required": ["color"],
        },
    },
}


class World:
    """The hangar's state as the engine holds it; actions from the NPC change it."""

    def __init__(self) -> None:
        self.mech_color = "grey"

    def apply(self, call: ActionCall) -> tuple[bool, Any, str]:
        if call.name == "paint_mech":
            before, self.mech_color = self.mech_color, str(call.arguments["color"])
            print(f"  world: mech paint {before} -> {self.mech_color}")
            return True, {"color": self.mech_color}, ""
        return False, None, f"the hangar cannot {call.name}"


def player_voice(seconds: float = 1.5, rate: int = 48000) -> Pcm:
    """A voiced, syllable-shaped test signal (no TTS yet): 140 Hz harmonics, 4 Hz syllables."""
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None)
    pcm = (voice * envelope * 6000).astype("<i2")
    return Pcm(pcm.tobytes(), rate)


async def play(out: Path) -> list[tuple[str, str, float, float]]:
    """Play the scene; returns (npc, what, reply ms, wall ms) per turn."""
    world = World()
    print("loading the brain and the hangar's NPCs ...", flush=True)
    server = BridgeServer(EchoBrain(load_roster(NPCS_DIR)), ServerConfig(bind="tcp://127.0.0.1:*"))
    await server.start()
    rows: list[tuple[str, str, float, float]] = []
    try:
        async with EngineClient(server.endpoint, name="hangar-demo") as engine:
            assert engine.welcome is not None
            print(f"connected to {server.endpoint}: NPCs {', '.join(engine.welcome.npcs)}")
            brakka = await engine.open_session(
                "brakka", "pilot-1", actions=[PAINT], on_action=world.apply
            )
            ilse = await engine.open_session("quartermaster", "pilot-1")
            script = [
                (brakka, "text", "Morning, Brakka. Busy day?"),
                (brakka, "text", 'call paint_mech {"color": "red"}'),
                (ilse, "text", "Where do I find spare actuators?"),
                (ilse, "voice", ""),
            ]
            for session, kind, line in script:
                assert session.opened is not None
                who = session.opened.npc_name
                started = time.perf_counter()
                if kind == "text":
                    print(f"player -> {who}: {line}")
                    await session.say(line)
                else:
                    voice = player_voice()
                    print(f"player -> {who}: ({voice.seconds:.1f} s of microphone audio, 48 kHz)")
                    await session.stream(voice)
                turn = await session.turn()
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
    for call in turn.actions:
        print(f"  {who} acts: {call.name}({call.arguments})")
    print(f"  {who}: {turn.text}")
    if turn.audio:
        playback = Playback(turn, clock=lambda: 0.3125)  # a syllable peak
        playback.started = 0.0
        jaw = playback.face()[turn.channels.index("jawOpen")]
        secs = len(turn.audio) / 2 / turn.sample_rate
        print(
            f"  {who} voice: {secs:.2f} s at {turn.sample_rate} Hz, "
            f"{len(turn.face_times)} face frames, jawOpen {jaw:.2f} at 0.31 s"
        )
