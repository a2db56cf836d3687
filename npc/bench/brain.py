"""`npc-bridge bench brain`: the LLM backends, action accuracy, retrieval and steering.

Parts (``--parts``): ``llm`` time to first token and tokens/s per backend (npc/bench/llm.py);
``actions`` the sample game's action scenarios through the thinking brain on the
embedded model; ``answers`` whether its replies to the lore questions state the fact
(npc/bench/answers.py); ``rag`` retrieval recall@5 and latency at 10,000 chunks
(npc/bench/rag.py); ``steer`` whether the SteerLM knobs move the output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from npc.bench import llm as llm_bench

PARTS = ("llm", "actions", "answers", "rag", "steer")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)} (default all)"
    )
    p.add_argument("--seed", type=int, default=7, help="sampling seed for the brain's turns")
    p.add_argument("--weights", choices=("fast", "shipped"), default="fast",
                   help="the embedded model's weights for actions, answers and steer "
                   "(docs/llm.md: fast weights)")
    p.add_argument("--lore-cache", choices=("on", "off"), default="off",
                   help="the lore's KV cells kept and spliced into prompts, or evaluated "
                   "every turn (docs/llm.md: lore segments)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    llm_bench.add_arguments(p)


def run_brain_bench(args: argparse.Namespace) -> int:
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown --parts {', '.join(unknown)}; known: {', '.join(PARTS)}")
    figures: dict[str, Any] = {}
    if "llm" in parts:
        figures["llm"] = llm_bench.run_llm_bench(args)
    if "rag" in parts:
        from npc.bench import rag

        figures["rag"] = rag.run_rag_bench()
        print(rag.table(figures["rag"]))
    if {"actions", "answers", "steer"} & set(parts):
        figures.update(asyncio.run(_brain_parts(
            parts, args.seed, args.weights == "fast", args.lore_cache == "on")))
    if args.json:
        print(json.dumps(figures, indent=1, default=str))
    return 0


async def _brain_parts(
    parts: list[str], seed: int, fast: bool = True, lore_cache: bool = False
) -> dict[str, Any]:
    from npc.bench.scenarios import run_scenarios
    from npc.bench.steering import print_steering, run_steering
    from npc.designer.reload import Designs
    from npc.llm.llama import LlamaCppLlm
    from npc.memory import Memory
    from npc.mind.brain import MindBrain, MindOptions
    from sample_game import HERE

    state = Path(tempfile.mkdtemp(prefix="npc-bench-"))
    designs = Designs.load(HERE / "npcs", HERE / "actions", HERE / "lore")
    brain = MindBrain(
        designs,
        LlamaCppLlm(n_ctx=4096, fast_weights=fast, lore_cache_mb=256 if lore_cache else 0),
        Memory(state / "memory.sqlite3"),
        options=MindOptions(seed=seed, reload_s=0, cache_dir=state),
    )
    await brain.start()
    if lore_cache:  # each NPC's lore after its prompts' head, as a game's sessions open
        from npc.bench.scenarios import load, tools_for
        from npc.mind.acting import available

        data = load()
        for npc in designs.npcs.values():
            actions = available(npc, designs.actions, tools_for(data, npc.id))
            await asyncio.to_thread(brain.keep_npc_lore, npc, actions)
    out: dict[str, Any] = {}
    try:
        if "actions" in parts:
            began = time.perf_counter()
            results = await run_scenarios(brain)
            took = time.perf_counter() - began
            right = sum(r.correct for r in results)
            print(f"\nAction scenarios ({len(results)}, sample_game/scenarios/actions.json):")
            for r in results:
                mark = "ok " if r.correct else "BAD"
                print(f"  {mark} {r.npc:<13} {r.player[:44]:<44} expected {_call(r.expected)}"
                      f", got {_call(r.got)}")
            print(f"  accuracy {right}/{len(results)} = {right / len(results):.1%}; "
                  f"{took / len(results):.1f} s per scenario")
            out["actions"] = {
                "accuracy": right / len(results), "right": right, "total": len(results),
                "seconds_per_scenario": took / len(results),
                "wrong": [r.player for r in results if not r.correct],
            }
        if "answers" in parts:
            from npc.bench.answers import report, run_answers

            began = time.perf_counter()
            found = await run_answers(brain)
            out["answers"] = report(found, time.perf_counter() - began)
        if "steer" in parts:
            steering = await run_steering(brain)
            print_steering(steering)
            out["steer"] = steering
    finally:
        await brain.stop()
    return out


def _call(call: dict[str, Any] | None) -> str:
    if call is None:
        return "none"
    args = ", ".join(f"{k}={v}" for k, v in call["arguments"].items())
    return f"{call['name']}({args})"



