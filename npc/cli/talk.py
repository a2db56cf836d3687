"""`npc-bridge talk`: play the engine for one exchange with an NPC and show what comes back."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bridge.config import DEFAULT_BIND
from bridge.errors import ConfigError
from bridge.messages import ActionCall, Message
from plugin_stubs.client import ClientCurve, EngineClient
from plugin_stubs.playback import Turn
from plugin_stubs.record import describe, save_turn
from plugin_stubs.wav import read_wav


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "talk",
        help="send a WAV file or a line of text to an NPC, print what comes back",
        description=(
            "Connect like an engine, open a session with an NPC, send the player's speech "
            "(--wav, streamed in 20 ms chunks) or a typed line (--text), and print the NPC's "
            "reply until its turn ends. Action calls are answered as done."
        ),
    )
    p.add_argument(
        "--connect", default=DEFAULT_BIND, help=f"server address (default {DEFAULT_BIND})"
    )
    p.add_argument("--npc", default="", help="NPC id (default: the server's first NPC)")
    p.add_argument("--player", default="player-1", help="player id (default player-1)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--wav", type=Path, help="16-bit PCM WAV file of the player speaking")
    what.add_argument("--text", help="a typed line from the player")
    p.add_argument(
        "--actions", type=Path, help="JSON file: a list of engine actions in OpenAI tools form"
    )
    p.add_argument(
        "--realtime",
        action="store_true",
        help="stream the WAV at real-time pace, as a live microphone would",
    )
    p.add_argument(
        "--rate", type=int, default=24000, help="NPC audio rate wanted, Hz (default 24000)"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print every message received as one JSON object per line",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="save the NPC audio (npc.wav), face frames (face.json) and all "
        "messages (messages.jsonl) into this folder",
    )
    p.add_argument(
        "--livelink",
        metavar="HOST:PORT",
        help="also play the NPC's face frames in real time as Live Link Face UDP packets "
        "to Unreal's Live Link (e.g. 127.0.0.1:11111), after the reply arrives",
    )
    p.add_argument(
        "--livelink-subject", default="NPC", help="Live Link subject name (default NPC)"
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the reply")
    p.add_argument("--server-key", type=Path, help="server's public .key (CURVE)")
    p.add_argument("--client-key", type=Path, help="this engine's .key_secret (CURVE)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_talk(args))


async def _talk(args: argparse.Namespace) -> int:
    actions = _read_actions(args.actions) if args.actions else []
    curve = None
    if args.server_key or args.client_key:
        if not (args.server_key and args.client_key):
            raise ConfigError("CURVE needs both --server-key and --client-key")
        curve = ClientCurve(args.client_key, args.server_key)
    audio = read_wav(args.wav) if args.wav else None
    if args.livelink:
        _address(args.livelink)  # a bad address fails now, not after the reply
    client = EngineClient(args.connect, name="npc-bridge-talk", curve=curve)
    try:
        await client.connect(timeout=min(args.timeout, 10.0))
    except TimeoutError:
        print(
            f"npc-bridge talk: no answer from {args.connect}: is `npc-bridge serve` running "
            "(and are the CURVE keys right)?",
            file=sys.stderr,
        )
        await client.close(bye=False)
        return 2
    try:
        session = await client.open_session(
            args.npc,
            args.player,
            audio_out_rate=args.rate,
            actions=actions,
            on_action=_done,
        )
        _show(session.opened, args.json)
        if audio is not None:
            await session.stream(audio, realtime=args.realtime)
        else:
            await session.say(args.text)
        turn = await session.turn(args.timeout, on_message=lambda m: _show(m, args.json))
        if args.out:
            save_turn(args.out, turn)
            print(f"saved to {args.out}", file=sys.stderr)
        if args.livelink and len(turn.face_times):
            sent = await asyncio.to_thread(_live_link, args, turn)
            print(f"sent {sent} face frames to Live Link at {args.livelink}", file=sys.stderr)
        await session.close()
    except TimeoutError:
        print(
            f"npc-bridge talk: the NPC did not finish within {args.timeout:.0f} s", file=sys.stderr
        )
        return 1
    finally:
        await client.close()
    return 0 if turn.end is not None and turn.end.reason == "done" else 1


def _live_link(args: argparse.Namespace, turn: Turn) -> int:
    """Play the turn's face to Live Link on a real-time clock from now (blocking)."""
    from npc.face.livelink import LiveLinkSender

    host, port = _address(args.livelink)
    sender = LiveLinkSender(host, port, subject=args.livelink_subject, fps=int(turn.fps))
    try:
        return sender.send(
            turn.channels, turn.face_times, turn.face_weights, turn.sample_rate,
            start=time.monotonic(),
        )
    finally:
        sender.close()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--livelink wants HOST:PORT (e.g. 127.0.0.1:11111), got {text!r}")
    return host, int(port)


def _show(msg: Message | None, as_json: bool) -> None:
    if msg is None:
        return
    if as_json:
        print(json.dumps(describe(msg)), flush=True)
    else:
        line = _human(msg)
        if line:
            print(line, flush=True)


def _human(msg: Message) -> str:
    d = describe(msg)
    kind = d.pop("type")
    d.pop("session", None)
    if kind in ("dialogue-delta", "npc-audio", "face-frames"):
        return ""
    return f"{kind}: " + ", ".join(f"{k}={v}" for k, v in d.items())


def _done(call: ActionCall) -> tuple[bool, Any, str]:
    return True, {"done": True}, ""


def _read_actions(path: Path) -> list[dict[str, Any]]:
    try:
        tools = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    if not isinstance(tools, list):
        raise ConfigError(f"{path}: must hold a JSON list of tools in OpenAI form")
    return tools
