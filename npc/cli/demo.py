"""`npc-bridge demo`: play the sample game's scripted scene end to end and report it."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

STAGE_NAMES = {
    "end_of_turn": "end of turn",
    "transcript": "transcript",
    "first_token": "first token",
    "first_audio": "first audio",
    "first_face": "first face",
    "turn_end": "reply done",
}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="play the sample game's scripted scene end to end",
        description="Start the brain and the hangar game in one process, play a scripted "
        "scene through real sockets on loopback (spoken and typed lines, actions that change "
        "the world), print what happens and a latency table by stage, and write an HTML "
        "report that replays each turn's audio, text and face.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("out/demo"),
        help="folder for the report, the saved replies and the scene's state (default "
        "out/demo)",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="play the scene on the brain of this server config instead of the sample "
        "game's hangar.toml (its NPC ids must be the hangar's)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sample_game import CONFIG
    from sample_game.demo import SCRIPT, floor_complete, play

    turns, world = asyncio.run(play(args.out, args.config or CONFIG))
    print("\nLatency by stage, ms after the end of the player's input (the last speech "
          "sample sent, or the typed line):")
    head = "".join(f"{name:>13}" for name in STAGE_NAMES.values())
    print(f"{'turn':<22}{'input':<7}{head}")
    for i, t in enumerate(turns, 1):
        cells = "".join(
            f"{t.latency_ms[k]:>13.0f}" if k in t.latency_ms else f"{'-':>13}"
            for k in STAGE_NAMES
        )
        print(f"{f'{i} {t.npc}':<22}{t.kind:<7}{cells}")
    player = next(iter(world["players"].values()))
    mech = world["mechs"][player["mech"]]
    print(f"\nthe world at the end: {player['id']} has {player['credits']} credits and "
          f"{player['inventory'] or 'nothing'}; mech {mech['color']}, legs at "
          f"{mech['parts']['legs']['condition']}%")
    path = _report(args.out, turns)
    print(f"\nreport: {path} (open it in a browser to replay the scene)")
    act_one = [t for t in turns if t.act == 1]
    act_two = len(act_one) < len(turns)
    return 0 if len(act_one) == len(SCRIPT) and (not act_two or floor_complete(turns)) else 1


def _report(out: Path, turns: list[Any]) -> Path:
    from npc.viewer.report import ReportTurn, write_report

    rows = [
        ReportTurn(
            npc=t.npc, player=t.said, line=t.line, actions=t.actions, changes=t.changes,
            latency_ms={STAGE_NAMES[k]: v for k, v in t.latency_ms.items()}, reply=t.reply,
        )
        for t in turns
    ]
    return write_report(out, rows, title="NPC Bridge demo: Hangar Bay 7")
