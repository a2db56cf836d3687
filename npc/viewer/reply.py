"""A saved reply folder (plugin_stubs/record.py save_turn) as the face page reads it."""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

DIGITS = 3  # weights and frame times are rounded to this many decimals for the page


@dataclass(frozen=True, slots=True)
class Reply:
    """One NPC turn from its folder: npc.wav, face.json and messages.jsonl."""

    name: str
    folder: Path
    text: str  # the NPC's line (dialogue-final, else the deltas joined)
    transcript: str = ""  # what the player said, when they spoke
    emotions: list[dict[str, Any]] = field(default_factory=list)  # {t, emotion, intensity}
    actions: list[str] = field(default_factory=list)  # "name {json arguments}"
    latency_ms: dict[str, float] = field(default_factory=dict)
    face: dict[str, Any] = field(default_factory=dict)  # compact: see compact_face
    seconds: float = 0.0  # length of npc.wav; 0 when the turn had no audio

    @property
    def audio(self) -> Path | None:
        wav = self.folder / "npc.wav"
        return wav if wav.is_file() else None

    def page(self, audio_url: str | None) -> dict[str, Any]:
        """What the page's Player loads (JSON-ready)."""
        return {
            "name": self.name,
            "text": self.text,
            "transcript": self.transcript,
            "emotions": self.emotions,
            "actions": self.actions,
            "latency_ms": self.latency_ms,
            "seconds": round(self.seconds, DIGITS),
            "audio": audio_url if self.audio is not None else None,
            "face": self.face,
        }


def compact_face(face: dict[str, Any], digits: int = DIGITS) -> dict[str, Any]:
    """face.json made small: times in seconds and weights rounded to `digits`, channels that
    stay 0 in every frame left out (the page reads a missing channel as 0)."""
    names: list[str] = list(face.get("channels", []))
    frames: list[dict[str, Any]] = list(face.get("frames", []))
    rate = float(face.get("sample_rate") or 0)
    rows = [[_num(w, digits) for w in f.get("weights", [])] for f in frames]
    keep = [i for i in range(len(names)) if any(i < len(r) and r[i] for r in rows)]
    times = [
        _num(f["sample"] / rate if rate else f.get("time_s", 0.0), digits + 1) for f in frames
    ]
    return {
        "channels": [names[i] for i in keep],
        "fps": face.get("fps", 0),
        "times": times,
        "weights": [[r[i] if i < len(r) else 0 for i in keep] for r in rows],
    }


def _num(x: float, digits: int) -> float | int:
    """round(x); an integral result as an int, so zeros cost one character in JSON."""
    r = round(float(x), digits)
    return int(r) if r == int(r) else r


def load_reply(folder: Path, name: str = "") -> Reply:
    """Read a saved reply folder; a folder that is not one is a ConfigError saying why."""
    face_file = folder / "face.json"
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder (a saved reply has npc.wav, face.json)")
    try:
        face = json.loads(face_file.read_text(encoding="utf-8")) if face_file.is_file() else {}
    except (OSError, ValueError) as e:
        raise ConfigError(f"{face_file}: not a readable face.json ({e})") from e
    messages = _messages(folder / "messages.jsonl")
    if not face and not messages:
        raise ConfigError(f"{folder}: not a saved reply (no face.json or messages.jsonl)")
    rate = float(face.get("sample_rate") or 0)
    finals = [m.get("text", "") for m in messages if m.get("type") == "dialogue-final"]
    deltas = "".join(m.get("text", "") for m in messages if m.get("type") == "dialogue-delta")
    transcripts = [m for m in messages if m.get("type") == "transcript"]
    ends = [m for m in messages if m.get("type") == "turn-end"]
    return Reply(
        name=name or folder.name,
        folder=folder,
        text=finals[-1] if finals else deltas,
        transcript=str(transcripts[-1].get("text", "")) if transcripts else "",
        emotions=[
            {
                "t": round(m.get("start_sample", 0) / rate, DIGITS) if rate else 0,
                "emotion": m.get("emotion", ""),
                "intensity": m.get("intensity", 0.0),
            }
            for m in messages
            if m.get("type") == "emotion"
        ],
        actions=[
            f"{m.get('name', '')} {json.dumps(m.get('arguments', {}))}"
            for m in messages
            if m.get("type") == "action-call"
        ],
        latency_ms=dict(ends[-1].get("latency_ms") or {}) if ends else {},
        face=compact_face(face),
        seconds=_seconds(folder / "npc.wav"),
    )


def _messages(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"{path}: not readable ({e})") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
        except ValueError as e:
            raise ConfigError(f"{path}:{number}: not JSON ({e})") from e
        if isinstance(msg, dict):
            out.append(msg)
    return out


def _seconds(wav: Path) -> float:
    if not wav.is_file():
        return 0.0
    try:
        with wave.open(str(wav), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (OSError, wave.Error, EOFError) as e:
        raise ConfigError(f"{wav}: not a readable WAV file ({e})") from e
