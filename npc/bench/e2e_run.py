"""`npc-bridge bench e2e` from the command line: arguments, the brain of a config, the table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from npc.bench.e2e import LINES, QUICK_LINES, Measured, Voices, bench, percentiles
from npc.trace import STAGES

ENGINE_TOTAL = "engine first_audio"  # the total: input end -> first NPC audio at the engine
WARMUP = "Hello."


def session_counts(text: str) -> list[int]:
    """"1,4,16" -> [1, 4, 16]; each a whole number from 1 to 64."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': give whole numbers like 1,4,16") from None
    if not counts or any(not 1 <= n <= 64 for n in counts):
        raise argparse.ArgumentTypeError(f"'{text}': each count must be 1 to 64")
    return counts


def brain_setting(text: str) -> tuple[str, Any]:
    """"lore_k=1" -> ("lore_k", 1): the value read as TOML."""
    key, eq, value = text.partition("=")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"] if eq and key.strip() else None
    except tomllib.TOMLDecodeError:
        parsed = None
    if parsed is None:
        raise argparse.ArgumentTypeError(f"'{text}': give KEY=VALUE, the value as TOML "
                                         "(speculate=true, lore_k=1)")
    return key.strip(), parsed


def line_count(text: str) -> int:
    n = int(text) if text.isdigit() else 0
    if not 1 <= n <= len(LINES):
        raise argparse.ArgumentTypeError(f"'{text}': give 1 to {len(LINES)} lines")
    return n


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None,
                   help="server config whose brain answers (default: the sample game's "
                   "hangar.toml; its state goes to a temporary folder)")
    p.add_argument("--sessions", type=session_counts, default=[1], metavar="N[,N...]",
                   help="conversations at once, one run per count (default 1; e.g. 1,4,16)")
    p.add_argument("--lines", type=line_count, default=len(LINES), metavar="N",
                   help=f"the first N of the {len(LINES)} player lines per session "
                   "(spoken and typed, plain, with an action, with a lore question)")
    p.add_argument("--quick", action="store_true",
                   help=f"{len(QUICK_LINES)} lines, one of each kind (spoken and typed; plain, "
                   "action, lore)")
    p.add_argument("--no-warmup", action="store_true",
                   help=f"measure from the first turn (by default each session first types "
                   f"'{WARMUP}' to each NPC, unmeasured: opening a session warms its prompt)")
    p.add_argument("--brain", type=brain_setting, action="append", default=[],
                   metavar="KEY=VALUE",
                   help="change one [brain] setting for the run, as TOML (repeatable): "
                   "speculate=true (prefill on partial transcripts), lore_k=1, ...")
    p.add_argument("--speech", type=brain_setting, action="append", default=[],
                   metavar="KEY=VALUE",
                   help="change one [speech] setting for the run, as TOML (repeatable): "
                   "acknowledge=true (the NPC's \"Hm.\" while its answer is on its way)")
    p.add_argument("--scripts", action="store_true",
                   help="keep the brain's behaviour scripts (off by default: an idle NPC's "
                   "banter between the bench's turns would share the model with them)")
    p.add_argument("--turn-s", type=float, default=240.0,
                   help="longest wait for one NPC turn, s (default 240: 16 sessions on 2 "
                   "cores are slow)")
    p.add_argument("--cache", type=Path, default=Path("out/bench-e2e/player_lines"),
                   help="folder for the spoken player lines (made once with the brain's voice)")
    p.add_argument("--turns", action="store_true",
                   help="print each turn too: the line, what was heard, the action taken "
                   "and its main marks (a p50 of a few turns hides which line is slow)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")


def run_from_args(args: argparse.Namespace) -> int:
    from bridge.config import load
    from npc.factory import build_brain
    from sample_game import CONFIG, HERE

    config = args.config or CONFIG
    lines = QUICK_LINES if args.quick else LINES[: args.lines]
    _, rest = load(config)
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        if rest.get("brain", {}).get("kind", "mind") == "mind":
            cache = HERE / "state" / "cache"
            if config == CONFIG and cache.is_dir():  # the lore index, not the memory
                shutil.copytree(cache, Path(tmp) / "cache")
            rest["brain"] = {**rest.get("brain", {}), "state_dir": tmp, "seed": 7}
            rest["brain"].update(dict(args.brain))
            rest["speech"] = {**rest.get("speech", {}), **dict(args.speech)}
            if not args.scripts:  # an empty scripts folder: no hooks, goals or banter
                (Path(tmp) / "no-scripts").mkdir()
                rest["brain"]["scripts_dir"] = str(Path(tmp) / "no-scripts")
        brain = build_brain(rest, config.parent)
        hears = "asr" in brain.capabilities()
        if not hears:
            print("this brain has no ears: the spoken lines are left out")
            lines = [line for line in lines if line.kind == "typed"]
        voices = Voices(lambda: _tts(brain), args.cache) if hears else None
        warmup = "" if args.no_warmup else WARMUP
        measured = asyncio.run(bench(brain, lines, args.sessions, voices, args.turn_s, warmup))
    figures = summarise(measured)
    print_tables(figures, config)
    if args.turns:
        print_turns(figures)
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0 if all(not m.failed for m in measured) else 1


def _tts(brain: Any) -> Any:
    voices = getattr(brain, "voices", None)
    if voices is not None:
        return voices.tts
    from npc.tts.registry import build_tts

    return build_tts("piper")


# Issue 9's targets, from the player's last speech sample to the first NPC audio chunk at
# the engine: spoken lines without an action (plain talk and lore questions), with one.
TARGETS = (
    ("spoken, no action", ("plain", "lore"), 500),
    ("spoken, with an action", ("action",), 800),
)


def summarise(measured: list[Measured]) -> dict[str, Any]:
    """Per session count, per group of lines: p50/p90 of each stage and of the total."""
    out: dict[str, Any] = {"machine": _machine(), "runs": {}}
    for n in dict.fromkeys(m.sessions for m in measured):
        turns = [m for m in measured if m.sessions == n]
        groups: dict[str, Any] = {}
        for group in dict.fromkeys(m.line.group for m in turns):
            mine = [m for m in turns if m.line.group == group and not m.failed]
            stages: dict[str, Any] = {}
            for stage in [*STAGES, ENGINE_TOTAL]:
                values = [_value(m, stage) for m in mine]
                got = percentiles([v for v in values if v is not None])
                if got is not None:
                    stages[stage] = [round(got[0], 1), round(got[1], 1)]
            acted = sum(1 for m in mine if m.actions)
            groups[group] = {"turns": len(mine), "acted": acted, "stages": stages}
        failed = [f"{m.line.group}: {m.failed}" for m in turns if m.failed]
        targets: dict[str, Any] = {}
        for name, whats, target in TARGETS:
            totals = [m.engine["first_audio"] for m in turns if not m.failed
                      and m.line.kind == "spoken" and m.line.what in whats
                      and "first_audio" in m.engine]
            got = percentiles(totals)
            if got is not None:
                targets[name] = {"p50": round(got[0], 1), "p90": round(got[1], 1),
                                 "turns": len(totals), "target": target}
                lines = percentiles([m.marks["line_audio"] for m in turns if not m.failed
                                     and m.line.kind == "spoken" and m.line.what in whats
                                     and "line_audio" in m.marks and "acknowledged" in m.marks])
                if lines is not None:  # the acknowledgement came first: the line's own
                    targets[name]["line_p50"] = round(lines[0], 1)
                    targets[name]["line_p90"] = round(lines[1], 1)
        out["runs"][str(n)] = {
            "turns": len(turns), "failed": failed, "groups": groups, "targets": targets,
            "each": [_one(m) for m in turns],
        }
    return out


# The marks a turn's row shows, in the order a spoken turn reaches them.
TURN_MARKS = ("ahead", "end_of_turn", "first_token", "first_clause", "first_audio")


def _one(m: Measured) -> dict[str, Any]:
    """One turn as the JSON and `--turns` give it."""
    return {
        "npc": m.line.npc, "line": m.line.text, "group": m.line.group, "heard": m.heard,
        "actions": list(m.actions), "failed": m.failed,
        "marks": {k: round(v, 1) for k, v in m.marks.items() if isinstance(v, int | float)},
        "engine_first_audio": m.engine.get("first_audio"),
    }


def print_turns(figures: dict[str, Any]) -> None:
    """Each turn on a line: its group, the line (and what was heard, when it differs), the
    actions it took, the brain's main marks and the engine's first audio."""
    head = "".join(f"{k:>13}" for k in (*TURN_MARKS, "engine audio"))
    for n, run in figures["runs"].items():
        print(f"\n{n} session(s) at once, each turn (ms; '-': not reached)")
        print(f"{'group':<15}{head}  line")
        for t in run["each"]:
            cells = [t["marks"].get(k) for k in TURN_MARKS] + [t["engine_first_audio"]]
            text = "".join(f"{'-' if c is None else f'{c:.0f}':>13}" for c in cells)
            said = t["line"]
            if t["heard"] and t["heard"].strip() != said:
                said += f" (heard: {t['heard'].strip()})"
            if t["actions"]:
                said += f" [{', '.join(t['actions'])}]"
            if t["failed"]:
                said += f" FAILED: {t['failed']}"
            print(f"{t['group']:<15}{text}  {t['npc']}: {said}")


def _value(m: Measured, stage: str) -> float | None:
    if stage == ENGINE_TOTAL:
        return m.engine.get("first_audio")
    return m.marks.get(stage)


def print_tables(figures: dict[str, Any], config: Path) -> None:
    print(f"\nbench e2e on {config} ({figures['machine']})")
    print("ms after the player's input ended (the last speech sample, or the typed line), "
          "p50/p90; brain stages on the brain's clock, the last row at the engine")
    for n, run in figures["runs"].items():
        groups = run["groups"]
        print(f"\n{n} session(s) at once: {run['turns']} turns, {len(run['failed'])} failed")
        for f in run["failed"]:
            print(f"  failed: {f}")
        names = list(groups)
        print(f"{'stage':<20}" + "".join(f"{g:>16}" for g in names))
        for stage in [*STAGES, ENGINE_TOTAL]:
            cells = [groups[g]["stages"].get(stage) for g in names]
            if not any(cells):
                continue
            text = ["-" if c is None else f"{c[0]:.0f}/{c[1]:.0f}" for c in cells]
            print(f"{stage:<20}" + "".join(f"{t:>16}" for t in text))
        print(f"{'turns (acted)':<20}" + "".join(
            f"{groups[g]['turns']:>12} ({groups[g]['acted']})" for g in names))
        for name, t in run.get("targets", {}).items():
            print(f"{name}: p50 {t['p50']:.0f} ms, p90 {t['p90']:.0f} ms over {t['turns']} "
                  f"turns (issue 9's target: p50 at most {t['target']} ms)")
            if "line_p50" in t:
                print(f"  the line itself (after the acknowledgement, brain's line_audio): "
                      f"p50 {t['line_p50']:.0f} ms, p90 {t['line_p90']:.0f} ms")


def _machine() -> str:
    from bridge.bench.report import cpu_model

    return f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"

