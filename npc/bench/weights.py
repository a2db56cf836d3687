"""`npc-bridge bench weights`: the embedded model's shipped weights against its fast ones.

Speed: after the same 900-token context (the sample game's lore), one decode step on one
thread and on two, and batches of 45 and 100 tokens on two (a reply's prompt batch, a
lore question's), the two models alternating round by round; medians and the ratio.
Quality: each model's perplexity on the lore, and how far the fast model's next-token
distributions are from the shipped one's (mean KL divergence, top-1 agreement).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bridge.bench.report import cpu_model
from npc.llm.fastweights import fast_model_path
from npc.llm.gguf import embedded_model_path
from npc.llm.llama import spin_briefly
from npc.registry import require

LORE = Path(__file__).resolve().parents[2] / "sample_game" / "lore"
CONTEXT = 900  # tokens before the timed ones: a turn's depth in the sample game
TIMED = (("step, 1 thread", 1, 1), ("step, 2 threads", 1, 2), ("45 tokens, 2 threads", 45, 2),
         ("100 tokens, 2 threads", 100, 2))
QUALITY_TOKENS = 1000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per figure and model")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")


def run_from_args(args: argparse.Namespace) -> int:
    if args.rounds < 1:
        print("--rounds must be at least 1", file=sys.stderr)
        return 2
    spin_briefly()
    llama_cpp = require("llama_cpp", "embedded", "llama-cpp-python")
    shipped = embedded_model_path()
    models = {"shipped": shipped, "fast": fast_model_path(shipped)}
    text = "\n\n".join(p.read_text() for p in sorted(LORE.glob("*.md")))
    results: dict[str, Any] = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "load_avg_before": os.getloadavg()[0],
        "models": {k: p.name for k, p in models.items()},
        "rounds": args.rounds,
    }
    _say("timing both models ...")
    results["ms"] = _speed(llama_cpp, models, text, args.rounds)
    _say("comparing their next-token distributions ...")
    results["quality"] = _quality(llama_cpp, models, text)
    results["load_avg_after"] = os.getloadavg()[0]
    _print(results)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def _load(llama_cpp: Any, path: Path, n_ctx: int, logits_all: bool = False) -> Any:
    return llama_cpp.Llama(
        model_path=str(path), n_ctx=n_ctx, n_threads=2, n_threads_batch=2, n_batch=512,
        logits_all=logits_all, verbose=False,
    )


def _speed(llama_cpp: Any, models: dict[str, Path], text: str, rounds: int) -> dict[str, Any]:
    loaded = {k: _load(llama_cpp, p, 2048) for k, p in models.items()}
    tokens = loaded["shipped"].tokenize(text.encode())[: CONTEXT + 100]
    for llm in loaded.values():
        llm.eval(tokens[:CONTEXT])
    times: dict[str, dict[str, list[float]]] = {k: {t[0]: [] for t in TIMED} for k in loaded}
    for _ in range(rounds):
        for name, llm in loaded.items():
            for label, n, threads in TIMED:
                llm._ctx.kv_cache_seq_rm(-1, CONTEXT, -1)
                llm.n_tokens = CONTEXT
                llm._ctx.set_n_threads(threads, threads)
                began = time.perf_counter()
                llm.eval(tokens[CONTEXT : CONTEXT + n])
                times[name][label].append((time.perf_counter() - began) * 1000)
    for llm in loaded.values():
        llm.close()
    return {k: {label: statistics.median(v) for label, v in rows.items()} for k, rows in
            times.items()}


def _quality(llama_cpp: Any, models: dict[str, Path], text: str) -> dict[str, Any]:
    log_probs: dict[str, np.ndarray] = {}
    tokens: list[int] = []
    for name, path in models.items():
        llm = _load(llama_cpp, path, QUALITY_TOKENS + 24, logits_all=True)
        tokens = llm.tokenize(text.encode())[:QUALITY_TOKENS]
        llm.eval(tokens)
        logits = np.asarray(llm.scores[: len(tokens)], dtype=np.float64)
        llm.close()
        logits -= logits.max(axis=1, keepdims=True)
        log_probs[name] = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    nxt = np.asarray(tokens[1:])
    out: dict[str, Any] = {"tokens": len(tokens)}
    for name, lp in log_probs.items():
        out[f"perplexity_{name}"] = float(np.exp(-lp[np.arange(len(nxt)), nxt].mean()))
    p, q = log_probs["shipped"], log_probs["fast"]
    out["kl_mean"] = float((np.exp(p) * (p - q)).sum(axis=1).mean())
    out["top1_agree"] = float((p.argmax(axis=1) == q.argmax(axis=1)).mean())
    return out


def _print(r: dict[str, Any]) -> None:
    print(
        f"machine: {r['machine']}; {r['rounds']} rounds, alternating; load average "
        f"{r['load_avg_before']:.1f} -> {r['load_avg_after']:.1f}"
    )
    print(f"  shipped: {r['models']['shipped']}\n  fast:    {r['models']['fast']}")
    print(f"  {'after ' + str(CONTEXT) + ' tokens, ms (median)':<34} {'shipped':>8} "
          f"{'fast':>8} {'ratio':>6}")
    for label, *_ in TIMED:
        a, b = r["ms"]["shipped"][label], r["ms"]["fast"][label]
        print(f"  {label:<34} {a:>8.1f} {b:>8.1f} {b / a:>6.2f}")
    q = r["quality"]
    print(
        f"  on {q['tokens']} tokens of lore: perplexity {q['perplexity_shipped']:.2f} shipped, "
        f"{q['perplexity_fast']:.2f} fast; KL(shipped || fast) {q['kl_mean']:.4f} nats a "
        f"token; the same most likely token {q['top1_agree']:.1%}"
    )


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
