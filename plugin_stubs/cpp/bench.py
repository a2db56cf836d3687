"""C++ against Python: text-input -> dialogue-final round trips through one echo server."""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bridge.bench.procs import BenchError
from bridge.bench.report import machine_info
from bridge.bench.roundtrip import Latency
from bridge.messages import DialogueFinal, TurnEnd
from plugin_stubs.client import EngineClient, Session

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "data" / "echo_hangar.toml"
NPC_TALK = ROOT / "build" / "cpp" / "npc_talk"
START_S = 60.0  # the echo config loads Whisper and Silero before it serves
WAIT_S = 10.0


@contextmanager
def serving(config: Path, address: str) -> Iterator[subprocess.Popen[str]]:
    """`npc-bridge serve --config CONFIG --bind ADDRESS`, serving, until the block ends."""
    serve = Path(sys.executable).parent / "npc-bridge"
    proc = subprocess.Popen(
        [str(serve), "serve", "--config", str(config), "--bind", address],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    out = proc.stdout
    assert out is not None

    def pump() -> None:
        for line in out:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        try:
            first = lines.get(timeout=START_S)
        except queue.Empty as e:
            raise BenchError(f"npc-bridge serve did not start in {START_S:.0f} s") from e
        if "serving" not in first:
            raise BenchError(f"npc-bridge serve: {first.strip()}")
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()


async def python_block(session: Session, rounds: int, tag: str) -> list[int]:
    """Round trips (ns) through the reference client, timed as npc_talk times them."""
    times = []
    for i in range(rounds):
        text = f"ping {tag} {i}"
        t0 = time.perf_counter_ns()
        await session.say(text)
        while not isinstance(msg := await session.next(WAIT_S), DialogueFinal):
            pass
        times.append(time.perf_counter_ns() - t0)
        if msg.text != text:
            raise BenchError(f"expected {text!r} back, got {msg.text!r}")
        while not isinstance(await session.next(WAIT_S), TurnEnd):
            pass
    return times


async def cpp_block(binary: Path, address: str, rounds: int, warmup: int) -> list[int]:
    proc = await asyncio.create_subprocess_exec(
        str(binary), "--connect", address, "--bench", str(rounds), "--warmup", str(warmup),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"npc_talk --bench failed: {err.decode()[-2000:]}")
    times: list[int] = json.loads(out.decode().strip().splitlines()[-1])["times_ns"]
    return times


async def measure(
    binary: Path, address: str, rounds: int, blocks: int, warmup: int
) -> dict[str, Latency]:
    """The clients take turns in blocks against the same server (noise hits both alike)."""
    times: dict[str, list[int]] = {"cpp": [], "python": []}
    async with EngineClient(address, name="npc-bridge-bench-python") as client:
        session = await client.open_session(session="bench-py")
        await python_block(session, warmup, "warm")
        for b in range(blocks):
            n = rounds * (b + 1) // blocks - rounds * b // blocks
            print(f"[bench-cpp] block {b + 1}/{blocks}: {n} rounds each", file=sys.stderr)
            times["cpp"] += await cpp_block(binary, address, n, warmup)
            times["python"] += await python_block(session, n, str(b))
    return {k: Latency.of(v) for k, v in times.items()}


def report(result: dict[str, Latency], settings: dict[str, Any]) -> str:
    cpp, py = result["cpp"], result["python"]
    m = machine_info()
    rows = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['os']}, libzmq {m['libzmq']}",
        f"text round trip (text-input -> dialogue-final), echo brain, {settings}",
        "| client | p50 us | p99 us | mean us |",
        "|---|---|---|---|",
        f"| C++ (npc_talk, plugin_stubs/cpp) | {cpp.p50_us:.0f} | {cpp.p99_us:.0f} "
        f"| {cpp.mean_us:.0f} |",
        f"| Python (EngineClient) | {py.p50_us:.0f} | {py.p99_us:.0f} | {py.mean_us:.0f} |",
        f"Python / C++: p50 {py.p50_us / cpp.p50_us:.2f}x, p99 {py.p99_us / cpp.p99_us:.2f}x",
    ]
    return "\n".join(rows)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rounds", type=int, default=2000, help="timed round trips per client")
    p.add_argument("--blocks", type=int, default=10, help="alternating blocks")
    p.add_argument("--warmup", type=int, default=50, help="untimed round trips per block")
    p.add_argument("--port", type=int, default=5599, help="loopback port for the server")
    p.add_argument("--npc-talk", type=Path, default=NPC_TALK, help="the built npc_talk")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


def run(args: argparse.Namespace) -> int:
    """The bench with parsed arguments (`npc-bridge bench cpp` and `python -m` both)."""
    if not args.npc_talk.exists():
        print(f"{args.npc_talk} is missing: run `make cpp` first", file=sys.stderr)
        return 2
    address = f"tcp://127.0.0.1:{args.port}"
    settings = {"rounds": args.rounds, "blocks": args.blocks, "warmup": args.warmup}
    with serving(CONFIG, address):
        result = asyncio.run(
            measure(args.npc_talk, address, args.rounds, args.blocks, args.warmup)
        )
    if args.json:
        figures = {k: {f: getattr(v, f) for f in v.__slots__} for k, v in result.items()}
        print(json.dumps({"machine": machine_info(), "settings": settings, **figures}))
    else:
        print(report(result, settings))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m plugin_stubs.cpp.bench", description=__doc__)
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
