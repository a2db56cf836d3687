"""`npc-bridge view`: the face viewer, on saved replies or live with an NPC."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "view",
        help="a local web page that plays NPC replies with a drawn face, in sync",
        description=(
            "Serve the face viewer on loopback and print its URL. It plays saved replies "
            "(folders of npc.wav, face.json and messages.jsonl, as `talk --out` and the demo "
            "write them; a folder of such folders adds each) and, with --connect, talks to "
            "an NPC live: type a line in the page, watch the reply stream, then hear it with "
            "the face. Open REPLY?reply=NAME&t=SECONDS for the face at one instant."
        ),
    )
    p.add_argument("replies", nargs="*", type=Path, metavar="REPLY_DIR", help="saved replies")
    p.add_argument("--connect", metavar="ADDRESS", help="server address to talk to live")
    p.add_argument("--npc", default="", help="NPC id when live (default: the server's first)")
    p.add_argument("--player", default="viewer", help="player id when live (default viewer)")
    p.add_argument("--rate", type=int, default=24000, help="NPC audio rate when live, Hz")
    p.add_argument("--save", type=Path, help="folder for live replies (default: a temp folder)")
    p.add_argument("--server-key", type=Path, help="server's public .key (CURVE)")
    p.add_argument("--client-key", type=Path, help="this engine's .key_secret (CURVE)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default loopback)")
    p.add_argument("--port", type=int, default=0, help="port to serve on (default: a free one)")
    p.add_argument(
        "--screenshot", type=Path, metavar="PNG",
        help="do not serve: write a headless-Chromium screenshot of the first reply and exit",
    )  # fmt: skip
    p.add_argument("--at", type=float, default=0.0, help="--screenshot: seconds into the reply")
    p.add_argument("--size", default="800x560", help="--screenshot: window WIDTHxHEIGHT")
    p.set_defaults(run=run)


def reply_folders(paths: list[Path]) -> list[Path]:
    """Each path as a reply folder, or the reply folders inside it (sorted by name)."""
    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise ConfigError(f"{path}: no such folder")
        if _is_reply(path):
            out.append(path)
            continue
        inner = sorted(p for p in path.iterdir() if p.is_dir() and _is_reply(p))
        if not inner:
            raise ConfigError(f"{path}: no saved reply here (face.json or messages.jsonl)")
        out += inner
    return out


def _is_reply(folder: Path) -> bool:
    return (folder / "face.json").is_file() or (folder / "messages.jsonl").is_file()


def run(args: argparse.Namespace) -> int:
    from npc.viewer.live import LiveNpc
    from npc.viewer.server import Events, Library, ViewerServer
    from npc.viewer.shot import screenshot
    from plugin_stubs.client import ClientCurve

    if not args.replies and not args.connect:
        raise ConfigError("nothing to show: give saved REPLY_DIRs, or --connect to talk live")
    library = Library()
    names = [library.add(folder) for folder in reply_folders(args.replies)]
    if args.screenshot is not None:
        if not names:
            raise ConfigError("--screenshot needs a REPLY_DIR")
        width, _, height = args.size.partition("x")
        with_server = ViewerServer(library, args.host, args.port).start()
        try:
            url = f"{with_server.url}?reply={names[0]}&t={args.at:g}"
            out = screenshot(url, args.screenshot, (int(width), int(height)))
        finally:
            with_server.stop()
        print(f"wrote {out} ({url})")
        return 0
    events = Events()
    live: LiveNpc | None = None
    if args.connect:
        curve = None
        if args.server_key or args.client_key:
            if not (args.server_key and args.client_key):
                raise ConfigError("CURVE needs both --server-key and --client-key")
            curve = ClientCurve(args.client_key, args.server_key)
        save = args.save or Path(tempfile.mkdtemp(prefix="npc-view-"))
        live = LiveNpc(
            args.connect, args.npc, save, library, events,
            player=args.player, rate=args.rate, curve=curve,
        ).start()  # fmt: skip
        print(f"live: talking to {live.npc} at {args.connect}; replies saved in {save}")
    server = ViewerServer(
        library, args.host, args.port, events,
        say=live.say if live else None, live_npc=live.npc if live else "",
    )  # fmt: skip
    print(f"viewer at {server.url} ({len(names)} saved replies; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if live is not None:
            live.close()
    return 0
