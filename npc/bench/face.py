"""`npc-bridge bench face`: NPC faces one CPU core animates at 60 fps, and audio-to-face sync."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bridge.bench.report import cpu_model
from npc.face.animator import FaceAnimator
from npc.face.arkit import INDEX
from npc.face.loudness import jaw_frames
from npc.face.sync import loudness_envelope, sync_lag
from npc.tts.base import Phone

TARGET_FACES = 200.0  # faces per core at 60 fps
TARGET_LAG = 1  # frames, either way
LINES = (
    "Welcome to the hangar, pilot. Mind the cables on the floor.",
    "Bob, stop! Paint my mech bright blue, please, father.",
    "I can fix your actuator for two hundred credits, but the reactor coupling takes a week.",
    "Never trust a merchant who smiles before you have paid him.",
    "The north hangar lost power again last night; nobody knows why.",
    "Two spare power cells and a cooling pump? That will cost you, friend.",
    "Quiet now. Do you hear that humming behind the blast doors?",
    "Oh, wonderful. Another rookie who thinks a mech is a toy.",
)


@dataclass(slots=True)
class Spoken:
    """One line's clips as the TTS made them: (pcm int16, phones) each, at `rate`."""

    text: str
    rate: int
    clips: list[tuple[np.ndarray, list[Phone]]]

    @property
    def pcm(self) -> np.ndarray:
        return np.concatenate([c[0] for c in self.clips])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=20.0, help="speech per timed pass")
    p.add_argument("--repeats", type=int, default=5, help="timed passes (the median counts)")
    p.add_argument("--fps", type=int, default=60, choices=(30, 60))
    p.add_argument("--tts", default="piper", help="TTS backend that speaks the lines")
    p.add_argument("--no-recorded", action="store_true", help="skip tests/data/speech lines")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def synthesise(tts_name: str, lines: tuple[str, ...] = LINES) -> list[Spoken]:
    from npc.tts import Voice, build_tts

    tts = build_tts(tts_name)
    try:
        out = []
        for text in lines:
            clips = [(c.pcm, c.phones) for c in tts.synthesize(text, Voice())]
            out.append(Spoken(text, tts.capabilities.sample_rate, clips))
        return out
    finally:
        tts.close()


def animate(line: Spoken, fps: int, phones: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A turn as the brain runs it: a new face, an emotion, clips fed as they come, finish."""
    face = FaceAnimator(line.rate, fps, seed=1)
    face.set_emotion("joy", 0.6)
    times, weights = [], []
    for pcm, ph in line.clips:
        t, w = face.feed(pcm, ph if phones else [])
        times.append(t)
        weights.append(w)
    t, w = face.finish()
    return np.concatenate([*times, t]), np.concatenate([*weights, w])


def _timed(work: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Median (wall seconds, CPU seconds of the whole process) over `repeats` runs."""
    wall, cpu = [], []
    work()  # warm caches and imports
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def speed(lines: list[Spoken], seconds: float, repeats: int, fps: int) -> dict[str, Any]:
    """Faces per core: animated seconds per CPU second, for the full animator and baselines."""
    turns: list[Spoken] = []
    while sum(len(t.pcm) / t.rate for t in turns) < seconds:
        turns.append(lines[len(turns) % len(lines)])
    audio_s = sum(len(t.pcm) / t.rate for t in turns)
    frames = sum(int(np.ceil(len(t.pcm) * fps / t.rate)) + 1 for t in turns)
    pcms = [t.pcm for t in turns]

    def full() -> None:
        for t in turns:
            animate(t, fps)

    def audio_only() -> None:
        for t in turns:
            animate(t, fps, phones=False)

    def baseline() -> None:
        for t, pcm in zip(turns, pcms, strict=True):
            jaw_frames(pcm, t.rate, fps)

    rows = {}
    for name, work in (("animator", full), ("animator, no phones", audio_only),
                       ("baseline: loudness.jaw_frames", baseline)):  # fmt: skip
        wall, cpu = _timed(work, repeats)
        rows[name] = {
            "wall_s": wall, "cpu_s": cpu, "faces_per_core": audio_s / max(cpu, 1e-9),
            "faces_per_wall_s": audio_s / max(wall, 1e-9), "us_per_frame": 1e6 * cpu / frames,
        }  # fmt: skip
    base = rows["baseline: loudness.jaw_frames"]["faces_per_core"]
    for r in rows.values():
        r["vs_baseline"] = r["faces_per_core"] / base
    return {"audio_s": audio_s, "frames": frames, "turns": len(turns), "rows": rows}


def sync(lines: list[Spoken], fps: int, recorded: bool) -> list[dict[str, Any]]:
    """Lag (frames) maximising corr(jawOpen, audio RMS) per line and mode."""
    rows = []
    for line in lines:
        for phones in (True, False):
            times, weights = animate(line, fps, phones)
            env = loudness_envelope(line.pcm, line.rate, times, fps)
            lag, r = sync_lag(weights[:, INDEX["jawOpen"]], env)
            mode = "phones+audio" if phones else "audio only"
            rows.append({"line": line.text, "mode": mode, "lag": lag, "corr": r})
    if recorded:
        from npc.bench.asr import DEFAULT_SET
        from npc.bench.speech import load_set

        for item in load_set(DEFAULT_SET, backchannels=True):
            pcm = np.round(item.audio * 32767.0).astype(np.int16)
            rec = Spoken(item.text, 16000, [(pcm, [])])
            times, weights = animate(rec, fps, phones=False)
            env = loudness_envelope(rec.pcm, rec.rate, times, fps)
            lag, r = sync_lag(weights[:, INDEX["jawOpen"]], env)
            rows.append({"line": item.text, "mode": "recorded", "lag": lag, "corr": r})
    return rows


def run_face_bench(args: argparse.Namespace) -> dict[str, Any]:
    _say(f"bench face: speaking {len(LINES)} lines with {args.tts} ...")
    lines = synthesise(args.tts)
    _say(f"bench face: timing {args.repeats} passes over {args.seconds:g} s of speech ...")
    figures: dict[str, Any] = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count() or 0},
        "fps": args.fps, "tts": args.tts,
        "speed": speed(lines, args.seconds, args.repeats, args.fps),
        "sync": sync(lines, args.fps, not args.no_recorded),
    }  # fmt: skip
    lags = [abs(r["lag"]) for r in figures["sync"]]
    figures["sync_max_abs_lag"] = max(lags)
    figures["sync_mean_lag"] = statistics.mean(r["lag"] for r in figures["sync"])
    return figures


def table(f: dict[str, Any]) -> str:
    s = f["speed"]
    out = [
        f"Face animation, {f['fps']} fps, {s['audio_s']:.1f} s of {f['tts']} speech in "
        f"{s['turns']} turns ({s['frames']} frames), one thread; {f['machine']['cpu']}",
        f"{'':32} {'CPU s':>7} {'us/frame':>9} {'faces/core':>11} {'vs baseline':>12}",
    ]
    for name, r in s["rows"].items():
        out.append(f"{name:32} {r['cpu_s']:7.3f} {r['us_per_frame']:9.1f} "
                   f"{r['faces_per_core']:11.0f} {r['vs_baseline']:11.2f}x")  # fmt: skip
    faces = s["rows"]["animator"]["faces_per_core"]
    verdict = "met" if faces >= TARGET_FACES else "MISSED"
    out.append(f"target >= {TARGET_FACES:.0f} faces/core: {verdict}")
    out += ["", f"Sync: lag (frames at {f['fps']} fps) maximising corr(jawOpen, audio RMS); "
            "+ = jaw late", f"{'mode':14} {'lag':>4} {'corr':>6}  line"]  # fmt: skip
    for r in f["sync"]:
        out.append(f"{r['mode']:14} {r['lag']:+4d} {r['corr']:6.3f}  {r['line'][:60]}")
    ok = f["sync_max_abs_lag"] <= TARGET_LAG
    out.append(f"max |lag| {f['sync_max_abs_lag']} frame(s), mean {f['sync_mean_lag']:+.2f}; "
               f"target 0 +/- {TARGET_LAG}: {'met' if ok else 'MISSED'}")  # fmt: skip
    return "\n".join(out)


def run_from_args(args: argparse.Namespace) -> int:
    figures = run_face_bench(args)
    print(table(figures))
    if args.json:
        print(json.dumps(figures, indent=1, default=str))
    return 0
