"""`npc-bridge play`: play the hangar in the terminal, typing (or speaking) to its NPCs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.config import DEFAULT_BIND, load
from bridge.errors import BridgeError, ConfigError
from bridge.messages import (
    ActionCall,
    DialogueDelta,
    Error,
    Interrupted,
    Message,
    Transcript,
    TurnEnd,
)
from bridge.server import BridgeServer
from plugin_stubs.client import EngineClient, Session
from plugin_stubs.wav import Pcm
from sample_game import CONFIG

if TYPE_CHECKING:
    from sample_game.scene import Game
    from sample_game.world import World

HELP = (
    "Type a line and press Enter to say it. Commands: /npc NAME (talk to another NPC), "
    "/steer humor=3 verbosity=1 (0-4), /world (what the hangar looks like), "
    "/mic [SECONDS] (speak, where a microphone exists), /help, /quit."
)
MIC_RATE = 16000


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "play",
        help="play the sample game in the terminal: type to its NPCs",
        description="Connect to a running server (or start the sample game's brain in this "
        "process with --local), open a session with an NPC and type lines to it. The NPC's "
        "line streams as it is written; its actions change the hangar's world "
        "(sample_game/world.py), and every change is shown. " + HELP,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--connect", default=DEFAULT_BIND, help=f"server address (default {DEFAULT_BIND})"
    )
    where.add_argument(
        "--local", action="store_true", help="start the brain of --config in this process"
    )
    p.add_argument(
        "--config", type=Path, default=CONFIG,
        help="server config for --local (default: the sample game's hangar.toml)",
    )
    p.add_argument("--npc", default="", help="NPC id to talk to first (default: the first)")
    p.add_argument("--player", default="pilot-1", help="player id (default pilot-1)")
    p.add_argument("--credits", type=int, default=1000, help="the player's credits (1000)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds one reply may take")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_play(args))


async def _play(args: argparse.Namespace) -> int:
    from sample_game.scene import Game
    from sample_game.world import World

    server = None
    endpoint = args.connect
    if args.local:
        _, rest = load(args.config)
        from npc.factory import build_brain

        server = BridgeServer(build_brain(rest, args.config.parent), _loopback())
        await server.start()
        endpoint = server.endpoint
    game = Game(World({args.player: args.credits}), tell=_out)
    client = EngineClient(endpoint, name="npc-bridge-play")
    ticking = asyncio.ensure_future(game.tick())
    try:
        try:
            welcome = await client.connect(timeout=10.0)
        except TimeoutError:
            _out(f"npc-bridge play: no answer from {endpoint}: is `npc-bridge serve` running?")
            return 2
        _out(f"connected to {endpoint}: NPCs {', '.join(welcome.npcs)}")
        player = Player(client, game, args)
        game.tell = player.note
        await player.switch(args.npc or welcome.npcs[0])
        _out(HELP)
        await player.loop()
    finally:
        ticking.cancel()
        await client.close()
        if server is not None:
            await server.stop()
    return 0


def _loopback() -> Any:
    from bridge.config import ServerConfig

    return ServerConfig(bind="tcp://127.0.0.1:*")


class Player:
    """The person at the keyboard: one session at a time, lines in, the NPC's turn out."""

    def __init__(self, client: EngineClient, game: Game, args: argparse.Namespace) -> None:
        self.client = client
        self.game = game
        self.args = args
        self.session: Session | None = None
        self.name = ""
        self.streaming = False  # an NPC line is being printed

    async def switch(self, npc: str) -> None:
        from sample_game.world import tools

        try:
            s = await self.client.open_session(
                npc, self.args.player, actions=tools(npc),
                on_action=self.game.on_action(self.args.player), timeout=self.args.timeout,
            )
        except BridgeError as e:
            _out(f"cannot talk to {npc}: {e.reason}")
            return
        if self.session is not None:  # the new NPC is there: leave the old one
            with contextlib.suppress(TimeoutError):
                await self.session.close()
        assert s.opened is not None
        self.session, self.name = s, s.opened.npc_name
        _out(f"you are talking to {self.name} ({npc}) as {self.args.player}")

    async def loop(self) -> None:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return  # end of input
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not await self.command(line):
                    return
            elif self.session is not None:
                _out(f"you: {line}")
                await self.session.say(line)
                await self.reply()

    async def command(self, line: str) -> bool:
        """Run a /command; False to quit."""
        name, _, rest = line[1:].partition(" ")
        if name in ("quit", "q", "exit"):
            return False
        if name == "npc" and rest.strip():
            await self.switch(rest.strip())
        elif name == "steer" and self.session is not None:
            try:
                attrs = _steer(rest)
            except ConfigError as e:
                _out(e.reason)
                return True
            await self.session.steer(**attrs)
            _out(f"steer: {attrs} from the next line")
        elif name == "world":
            _out(_describe(self.game.world, self.args.player))
        elif name == "mic":
            await self.mic(rest)
        else:
            _out(HELP)
        return True

    async def mic(self, rest: str) -> None:
        try:
            sd: Any = importlib.import_module("sounddevice")
        except ImportError:
            _out("no microphone here: `pip install sounddevice` (and a sound card) to speak")
            return
        seconds = float(rest) if rest.strip() else 4.0
        _out(f"speak now ({seconds:.0f} s)...")
        try:
            rec = await asyncio.to_thread(sd.rec, int(seconds * MIC_RATE), MIC_RATE, 1, "int16")
            await asyncio.to_thread(sd.wait)
        except Exception as e:  # PortAudio errors: no device, busy, ...
            _out(f"the microphone failed: {e}")
            return
        if self.session is not None:
            await self.session.stream(Pcm(rec.tobytes(), MIC_RATE))
            await self.reply()

    async def reply(self) -> None:
        assert self.session is not None
        try:
            await self.session.turn(self.args.timeout, on_message=self.show)
        except TimeoutError:
            _out(f"\n({self.name} did not finish within {self.args.timeout:.0f} s)")

    def show(self, msg: Message) -> None:
        if isinstance(msg, DialogueDelta):
            if not self.streaming:
                sys.stdout.write(f"{self.name}: ")
                self.streaming = True
            sys.stdout.write(msg.text)
            sys.stdout.flush()
            return
        if self.streaming and not isinstance(msg, ActionCall):
            self._break()
        if isinstance(msg, Transcript) and msg.final:
            _out(f"you (heard): {msg.text}")
        elif isinstance(msg, Interrupted):
            _out(f"  ({self.name} stops: {msg.reason})")
        elif isinstance(msg, Error):
            _out(f"  [error] {msg.code}: {msg.reason}")
        elif isinstance(msg, TurnEnd):
            self._break()

    def note(self, line: str) -> None:
        """A line of the game's (an action, a world change), kept off the NPC's line."""
        self._break()
        _out(line)

    def _break(self) -> None:
        if self.streaming:
            sys.stdout.write("\n")
            self.streaming = False


def _steer(text: str) -> dict[str, int]:
    attrs: dict[str, int] = {}
    for part in text.replace(",", " ").split():
        key, _, value = part.partition("=")
        if not value.isdigit() or not 0 <= int(value) <= 4:
            raise ConfigError(f"steer wants NAME=LEVEL with LEVEL 0-4, got {part!r}")
        attrs[key] = int(value)
    if not attrs:
        raise ConfigError("steer wants NAME=LEVEL pairs, e.g. /steer humor=3 verbosity=1")
    return attrs


def _describe(world: World, player: str) -> str:
    p = world.players[player]
    mech = world.mech_of(player)
    parts = ", ".join(f"{slot} {part.model} {part.condition}%"
                      for slot, part in mech.parts.items())
    doors = ", ".join(d for d, is_open in world.doors.items() if is_open) or "none"
    held = ", ".join(f"{n} x {item}" for item, n in p.inventory.items()) or "nothing"
    return (f"{player}: {p.credits} credits, at the {p.place}, holding {held}\n"
            f"mech {mech.id}: {mech.color} paint, {parts}\nopen doors: {doors}")


def _out(line: str) -> None:
    print(line, flush=True)
