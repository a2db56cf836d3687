"""`npc-bridge serve`: run the NPC brain behind the ZeroMQ bridge until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

from bridge.config import load
from bridge.server import BridgeServer
from npc.factory import build_brain
from sample_game import CONFIG


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run the NPC brain server",
        description=(
            "Run the NPC brain on a ZeroMQ ROUTER socket. Engines connect with a DEALER "
            "socket and speak protocol v1 (docs/PROTOCOL.md). Binding beyond loopback needs "
            "CURVE keys ([security] in the config) or --insecure."
        ),
    )
    p.add_argument(
        "--config",
        type=Path,
        default=CONFIG,
        help="TOML config with [server], [limits], [security] and [brain] (default: the "
        "sample game's hangar.toml)",
    )
    p.add_argument(
        "--bind", help="ZeroMQ address to bind, e.g. tcp://127.0.0.1:5555 (overrides the config)"
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="allow a non-loopback bind without CURVE authentication",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config, rest = load(args.config, bind=args.bind, insecure=args.insecure)
    brain = build_brain(rest, args.config.parent)
    asyncio.run(_serve(BridgeServer(brain, config)))
    return 0


async def _serve(server: BridgeServer) -> None:
    await server.start()
    print(f"npc-bridge: serving {', '.join(server.brain.npcs())} on {server.endpoint}", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
