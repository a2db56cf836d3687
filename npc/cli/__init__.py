"""`npc-bridge`: serve the NPC brain, play the engine, benchmark, make keys."""

from __future__ import annotations

import argparse
import logging
import os
import sys

# OpenMP threads spin for long while waiting by default, which starves everything else on
# a small CPU (measured: docs/llm.md, docs/latency.md): a short spin instead, for
# CTranslate2's (Whisper) and an OpenMP build of llama.cpp (`make` builds it without).
# Set before anything imports them (npc/llm/llama.py: spin_briefly).
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from bridge.errors import BridgeError
from npc.cli import bench, demo, face, keys, play, serve, talk, view

COMMANDS = (serve, talk, play, demo, bench, face, keys, view)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="npc-bridge",
        description=(
            "NPC Bridge: an open backend for talking game characters. The brain listens "
            "on a ZeroMQ ROUTER socket; engines (or `talk`) connect with the protocol in "
            "docs/PROTOCOL.md."
        ),
        epilog="Run `npc-bridge COMMAND --help` for each command's options.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one line per decode
    try:
        return int(args.run(args) or 0)
    except BridgeError as e:
        print(f"npc-bridge {args.command}: {e.reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
