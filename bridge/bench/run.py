"""`npc-bridge bench bridge`: every measurement in one run, progress on stderr."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Protocol

from bridge.bench.brain import COUNT, ECHO
from bridge.bench.grpc_echo import AIO, THREAD, GrpcClient, serve_grpc
from bridge.bench.ingest import Ingest, run_ingest
from bridge.bench.procs import server_process
from bridge.bench.report import BRIDGE, RAW, BenchResult, format_report, machine_info
from bridge.bench.roundtrip import Latency, ZmqClient, build_requests
from bridge.bench.servers import BENCH_LIMITS, serve_bridge, serve_raw_echo, serve_raw_ingest

Progress = Callable[[str], None]
BLOCKS = 10  # round-trip turns per system
INGEST_REPEATS = 3  # ingest runs per server, alternating; the best counts


class RoundTripClient(Protocol):
    def run(self, lo: int, hi: int) -> list[int]: ...

    def close(self) -> None: ...


def _stderr(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _quiet(text: str) -> None:
    """No progress output (tests)."""


def measure_round_trips(
    rounds: int, warmup: int, progress: Progress = _quiet
) -> tuple[dict[str, Latency], str]:
    """p50/p99 of the same requests through raw pyzmq, the bridge and grpcio (both servers);
    returns the figures and which grpc server is the baseline (the lower p50).

    Every server runs the whole time and the systems take turns in blocks, so a noisy
    neighbour on the machine slows them all alike rather than whichever ran at the time.
    """
    requests = build_requests(warmup + rounds)
    blobs, header_lens = requests.blobs()
    times: dict[str, list[int]] = {}
    with ExitStack() as stack:
        progress("round trip: starting raw pyzmq, bridge and grpcio servers")
        raw = stack.enter_context(server_process(serve_raw_echo))
        bridge = stack.enter_context(server_process(serve_bridge, ECHO))
        grpcs = {k: stack.enter_context(server_process(serve_grpc, k)) for k in (THREAD, AIO)}
        clients: dict[str, RoundTripClient] = {
            RAW: ZmqClient(raw.endpoint, requests, "audio-chunk", handshake=False),
            BRIDGE: ZmqClient(bridge.endpoint, requests, "transcript", handshake=True),
        }
        for kind, server in grpcs.items():
            clients[f"grpc-{kind}"] = GrpcClient(server.endpoint, blobs, header_lens, "audio-chunk")
        for client in clients.values():
            stack.callback(client.close)
        for client in clients.values():
            client.run(0, warmup)
        blocks = max(1, min(BLOCKS, rounds))
        for b in range(blocks):
            lo = warmup + rounds * b // blocks
            hi = warmup + rounds * (b + 1) // blocks
            progress(f"round trip: block {b + 1}/{blocks}, {hi - lo} rounds per system")
            for name, client in clients.items():
                times.setdefault(name, []).extend(client.run(lo, hi))
    out = {name: Latency.of(t) for name, t in times.items()}
    baseline = min((k for k in out if k.startswith("grpc-")), key=lambda k: out[k].p50_us)
    return out, baseline


def measure_ingest(
    sessions: int, chunks: int, senders: int, repeats: int = 1, progress: Progress = _quiet
) -> dict[str, Ingest]:
    """Server-side chunks/s of the bridge and of a raw ROUTER, the same senders for both;
    with `repeats` > 1 the two alternate and each keeps its best run."""
    out: dict[str, Ingest] = {}
    systems = ((BRIDGE, serve_bridge, (COUNT,)), (RAW, serve_raw_ingest, ()))
    for r in range(repeats):
        for name, serve, serve_args in systems:
            progress(
                f"ingest {r + 1}/{repeats}: {name}, {sessions} sessions x {chunks} chunks, "
                f"{senders} senders"
            )
            got = run_ingest(serve, serve_args, sessions, chunks, senders)
            progress(f"  {got.chunks_per_s:,.0f} chunks/s")
            if name not in out or got.chunks_per_s > out[name].chunks_per_s:
                out[name] = got
    return out


def run_bridge_bench(args: argparse.Namespace) -> int:
    started = time.monotonic()
    limits = BENCH_LIMITS
    _stderr(
        f"bench servers run with raised per-connection limits: rate_per_s={limits.rate_per_s}, "
        f"burst={limits.burst}, max_sessions={limits.max_sessions} (defaults unchanged)"
    )
    round_trip, baseline = measure_round_trips(args.rounds, args.warmup, _stderr)
    ingest = measure_ingest(args.sessions, args.chunks, args.senders, INGEST_REPEATS, _stderr)
    request = build_requests(1).chunks[0]
    result = BenchResult(
        machine=machine_info(),
        settings={
            "rounds": args.rounds,
            "warmup": args.warmup,
            "sessions": args.sessions,
            "chunks": args.chunks,
            "senders": max(1, min(args.senders, args.sessions)),
            "round_trip_blocks": BLOCKS,
            "ingest_repeats": INGEST_REPEATS,
            "request_bytes": sum(len(f) for f in request),
            "limits": (
                f"rate_per_s={limits.rate_per_s}, burst={limits.burst}, "
                f"max_sessions={limits.max_sessions}"
            ),
        },
        round_trip=round_trip,
        grpc_baseline=baseline,
        ingest=ingest,
    )
    _stderr(f"done in {time.monotonic() - started:.1f} s")
    print(format_report(result))
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    return 0
