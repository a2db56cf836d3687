"""`npc-bridge bench tts`: how fast each voice speaks, and how soon a reply is heard.

Two parts. ``voices``: for each TTS backend, the time to the first clip of short clauses
(warm, through `speak()` to 48 kHz, the rate an engine usually asks for) and the
real-time factor over a few sentences. ``brain``: the thinking brain on the embedded
model speaks the sample game's action scenarios; each turn-end reports `first_audio`,
the milliseconds from the moment the line's first clause was complete to its first
`npc-audio` leaving (synthesis on the worker thread while the model goes on writing,
resampling, face frames, the send). The baseline, in the same run, is the same clause
synthesised alone afterwards on an otherwise idle CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from npc.bench.scenarios import Outcome
from npc.clauses import ClauseSplitter
from npc.tts.base import Tts, Voice, speak

RATE = 48000  # the rate the voices part converts to
BRAIN_RATE = 24000  # the bench sessions' audio_out_rate
CLAUSES = ("Hold still, pilot.", "Legs again, kid?", "Stores, north end.", "Three busted reactors.")
PASSAGE = (
    "Legs again, kid? Fine. Hold still while I bolt them back on. "
    "Three busted reactors and a pilot who thinks armor is optional."
)
PARTS = ("voices", "brain")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parts", default=",".join(PARTS), help="comma list of voices, brain")
    p.add_argument("--tts", default="piper,espeak", help="backends for the voices part")
    p.add_argument("--rounds", type=int, default=10, help="passes over the clauses per backend")
    p.add_argument("--turns", type=int, default=12, help="action scenarios the brain speaks")
    p.add_argument("--seed", type=int, default=7, help="sampling seed for the brain's turns")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")


def first_clause(line: str) -> str:
    s = ClauseSplitter()
    clauses = s.feed(line) + s.flush()
    return clauses[0] if clauses else ""


def stats(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(a, 50)), 1),
        "p95": round(float(np.percentile(a, 95)), 1),
        "min": round(float(a.min()), 1),
        "max": round(float(a.max()), 1),
        "within_100ms": round(float(np.mean(a <= 100.0)), 3),
        "n": len(values),
    }


def first_clip_ms(tts: Tts, text: str, voice: Voice, rate: int) -> float:
    began = time.perf_counter()
    next(iter(speak(tts, text, voice, rate)))
    return (time.perf_counter() - began) * 1000


def voice_speed(tts: Tts, rounds: int) -> dict[str, Any]:
    """First clip of each short clause (warm) and the real-time factor over a passage."""
    voice = Voice()
    tts.warm(voice)
    first = [first_clip_ms(tts, c, voice, RATE) for _ in range(rounds) for c in CLAUSES]
    rtf = []
    for _ in range(max(1, rounds // 2)):
        began = time.perf_counter()
        clips = list(tts.synthesize(PASSAGE, voice))
        secs = sum(len(c.pcm) / c.rate for c in clips)
        rtf.append((time.perf_counter() - began) / secs)
    return {"first_clip_ms": stats(first), "rtf": round(statistics.median(rtf), 4)}


def first_audio(turns: Sequence[Outcome], tts: Tts, voice: Voice | None = None) -> dict[str, Any]:
    """First audio of each spoken turn in the brain, and its first clause synthesised alone."""
    voice = voice or Voice()
    piped = [
        t.latency_ms["first_audio"] - t.latency_ms["first_clause"]
        for t in turns
        if "first_audio" in t.latency_ms and "first_clause" in t.latency_ms
    ]
    alone = [
        first_clip_ms(tts, clause, voice, BRAIN_RATE)
        for clause in (first_clause(t.line) for t in turns)
        if clause
    ]
    return {"pipeline_ms": stats(piped), "alone_ms": stats(alone), "turns": len(piped)}


async def speak_scenarios(turns: int, seed: int) -> tuple[list[Outcome], dict[str, Any]]:
    """The speaking brain on the first `turns` action scenarios; (outcomes, first audio)."""
    from npc.bench.scenarios import load, run_scenarios
    from npc.designer.reload import Designs
    from npc.llm.llama import LlamaCppLlm
    from npc.memory import Memory
    from npc.mind.brain import MindBrain, MindOptions
    from npc.speaking import Voices
    from npc.tts.registry import build_tts
    from sample_game import HERE

    state = Path(tempfile.mkdtemp(prefix="npc-bench-"))
    designs = Designs.load(HERE / "npcs", HERE / "actions", HERE / "lore")
    brain = MindBrain(
        designs, LlamaCppLlm(n_ctx=4096), Memory(state / "memory.sqlite3"),
        options=MindOptions(seed=seed, reload_s=0, cache_dir=state),
        voices=Voices(lambda: build_tts("piper")),
    )
    await brain.start()
    try:
        data = load()
        data["scenarios"] = data["scenarios"][:turns]
        results = await run_scenarios(brain, data)
        assert brain.voices is not None
        return results, first_audio(results, brain.voices.tts)
    finally:
        await brain.stop()


def run_tts_bench(args: argparse.Namespace) -> int:
    from npc.tts.registry import build_tts

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown --parts {', '.join(unknown)}; known: {', '.join(PARTS)}")
    figures: dict[str, Any] = {}
    if "voices" in parts:
        figures["voices"] = {}
        for name in [n.strip() for n in args.tts.split(",") if n.strip()]:
            tts = build_tts(name)
            try:
                figures["voices"][name] = voice_speed(tts, args.rounds)
            finally:
                tts.close()
        print_voices(figures["voices"], args.rounds)
    if "brain" in parts:
        results, figures["first_audio"] = asyncio.run(speak_scenarios(args.turns, args.seed))
        right = sum(r.correct for r in results)
        figures["actions"] = {"right": right, "total": len(results)}
        print_first_audio(figures["first_audio"])
        print(f"  (the same turns' actions: {right}/{len(results)} right)")
    if args.json:
        print(json.dumps(figures, indent=1))
    return 0


def print_voices(r: dict[str, Any], rounds: int) -> None:
    print(f"\nVoices: first clip of a short clause, warm, to {RATE} Hz ({rounds} x "
          f"{len(CLAUSES)} clauses), and real-time factor over {len(PASSAGE.split())} words:")
    print("| backend | first clip p50 ms | p95 ms | min | max | real-time factor |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, f in r.items():
        s = f["first_clip_ms"]
        print(f"| {name} | {s['p50']} | {s['p95']} | {s['min']} | {s['max']} | {f['rtf']} |")


def print_first_audio(r: dict[str, Any]) -> None:
    p, a = r["pipeline_ms"], r["alone_ms"]
    print(f"\nFirst audio after the first clause is written ({r['turns']} spoken turns, "
          f"{BRAIN_RATE} Hz out):")
    print("| measured | p50 ms | p95 ms | max ms | share <= 100 ms |")
    print("|---|---:|---:|---:|---:|")
    for name, s in (("in the brain, model still writing", p), ("clause synthesised alone", a)):
        if s:
            print(f"| {name} | {s['p50']} | {s['p95']} | {s['max']} | {s['within_100ms']:.0%} |")
    if p and a:
        print(f"pipeline / alone (p50): {p['p50'] / a['p50']:.2f}")
