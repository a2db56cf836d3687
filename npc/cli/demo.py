"""`npc-bridge demo`: play the sample game's scripted scene end to end and report it."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="play the sample game's scripted scene end to end",
        description="Start the brain and the hangar game in one process, play a scripted "
        "scene through real sockets on loopback, print what happens and a latency table, "
        "and save the NPC audio and face frames.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("out/demo"),
        help="folder for the saved replies (default out/demo)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sample_game.demo import play

    rows = asyncio.run(play(args.out))
    print(f"\n{'NPC':<20} {'input':<6} {'brain ms':>9} {'round trip ms':>14}")
    for who, kind, reply, wall in rows:
        print(f"{who:<20} {kind:<6} {reply:>9.2f} {wall:>14.2f}")
    print(f"\nsaved replies to {args.out}")
    return 0
