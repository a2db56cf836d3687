"""Messages as JSON for people and files: binary frames summarised, never dumped."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from bridge.messages import Message
from plugin_stubs.playback import Turn
from plugin_stubs.wav import Pcm, write_wav


def describe(msg: Message) -> dict[str, Any]:
    """A JSON-ready dict: `type` as on the wire, fields, and binary frames by size."""
    out: dict[str, Any] = {"type": msg.TYPE}
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        if f.name in msg.FRAMES:
            out[f.name] = {"bytes": len(value)}
        else:
            out[f.name] = value
    return out


def save_turn(folder: Path, turn: Turn) -> None:
    """npc.wav (the NPC's voice), face.json (frames with times and channel names) and
    messages.jsonl (every message, binary frames summarised)."""
    folder.mkdir(parents=True, exist_ok=True)
    if turn.sample_rate:
        write_wav(folder / "npc.wav", Pcm(turn.audio, turn.sample_rate))
    times, weights = turn.face_times, turn.face_weights
    face = {
        "channels": turn.channels,
        "fps": turn.fps,
        "sample_rate": turn.sample_rate,
        "frames": [
            {
                "sample": int(t),
                "time_s": round(int(t) / turn.sample_rate, 6) if turn.sample_rate else 0.0,
                "weights": [round(float(w), 5) for w in row],
            }
            for t, row in zip(times, weights, strict=True)
        ],
    }
    (folder / "face.json").write_text(json.dumps(face), encoding="utf-8")
    with (folder / "messages.jsonl").open("w", encoding="utf-8") as f:
        for msg in turn.messages:
            f.write(json.dumps(describe(msg)) + "\n")
