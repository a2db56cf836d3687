"""`npc-bridge keys`: make a CURVE key pair for the server or an engine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bridge.security import create_keys


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "keys",
        help="make a CURVE key pair",
        description=(
            "Write NAME.key (public: give it to the other side) and NAME.key_secret (keep it "
            "private) into FOLDER. The server needs its own .key_secret and a folder with "
            "the public .key of every engine allowed in; each engine needs its own "
            ".key_secret and the server's public .key."
        ),
    )
    p.add_argument("folder", type=Path, help="where to write the key files")
    p.add_argument("--name", default="server", help="file name stem (default: server)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    public, secret = create_keys(args.folder, args.name)
    print(f"public key: {public}\nsecret key: {secret} (keep private)")
    return 0
