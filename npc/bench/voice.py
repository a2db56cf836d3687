"""How soon a spoken reply's first audio leaves after its first clause is written.

From the turns of a speaking brain (the action scenarios with `bench brain --speak`):
each turn-end reports `first_audio`, the milliseconds from the moment the first clause
of the line was complete to the moment its first `npc-audio` was sent (synthesis on the
worker thread, resampling, face frames, the send), measured while the model goes on
writing the rest of the line. The baseline is the same clause synthesised alone
afterwards, on an otherwise idle CPU, in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from npc.bench.scenarios import Outcome
from npc.clauses import ClauseSplitter
from npc.tts.base import Tts, Voice, speak

RATE = 24000  # the bench sessions' audio_out_rate


def first_clause(line: str) -> str:
    s = ClauseSplitter()
    clauses = s.feed(line) + s.flush()
    return clauses[0] if clauses else ""


def first_audio(turns: Sequence[Outcome], tts: Tts, voice: Voice | None = None) -> dict[str, Any]:
    """Pipeline first-audio latency over `turns` and the idle synthesis of the same clauses."""
    voice = voice or Voice()
    piped = [t.latency_ms["first_audio"] for t in turns if "first_audio" in t.latency_ms]
    alone = []
    for t in turns:
        clause = first_clause(t.line)
        if not clause:
            continue
        began = time.perf_counter()
        next(iter(speak(tts, clause, voice, RATE)))
        alone.append((time.perf_counter() - began) * 1000)
    return {"pipeline_ms": _stats(piped), "alone_ms": _stats(alone), "turns": len(piped)}


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values)
    return {
        "p50": round(float(np.percentile(a, 50)), 1),
        "p95": round(float(np.percentile(a, 95)), 1),
        "max": round(float(a.max()), 1),
        "within_100ms": round(float(np.mean(a <= 100.0)), 3),
    }


def print_first_audio(r: dict[str, Any]) -> None:
    p, a = r["pipeline_ms"], r["alone_ms"]
    print(f"\nFirst audio after the first clause is written ({r['turns']} spoken turns, "
          f"{RATE} Hz out):")
    print("  | measured | p50 ms | p95 ms | max ms | share <= 100 ms |")
    print("  |---|---:|---:|---:|---:|")
    for name, s in (("in the brain, model still writing", p), ("clause synthesised alone", a)):
        if s:
            print(f"  | {name} | {s['p50']} | {s['p95']} | {s['max']} | {s['within_100ms']:.0%} |")
    if p and a:
        print(f"  pipeline / alone (p50): {p['p50'] / a['p50']:.2f}")
