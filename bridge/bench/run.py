"""`npc-bridge bench bridge`: every measurement in one run, progress on stderr."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from bridge.bench.brain import COUNT, ECHO
from bridge.bench.grpc_echo import AIO, THREAD, grpc_round_trips, serve_grpc
from bridge.bench.ingest import Ingest, run_ingest
from bridge.bench.procs import server_process
from bridge.bench.report import BRIDGE, RAW, BenchResult, format_report, machine_info
from bridge.bench.roundtrip import Latency, build_requests, zmq_round_trips
from bridge.bench.servers import BENCH_LIMITS, serve_bridge, serve_raw_echo, serve_raw_ingest

Progress = Callable[[str], None]


def _stderr(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _quiet(text: str) -> None:
    """No progress output (tests)."""


def measure_round_trips(
    rounds: int, warmup: int, progress: Progress = _quiet
) -> tuple[dict[str, Latency], str]:
    """p50/p99 of the same requests through raw pyzmq, the bridge and grpcio (both servers);
    returns the figures and which grpc server is the baseline (the lower p50)."""
    requests = build_requests(warmup + rounds)
    blobs, header_lens = requests.blobs()
    out: dict[str, Latency] = {}
    progress(f"round trip: raw pyzmq echo, {rounds} rounds")
    with server_process(serve_raw_echo) as server:
        out[RAW] = Latency.of(
            zmq_round_trips(server.endpoint, requests, warmup, "audio-chunk", handshake=False)
        )
    progress(f"round trip: bridge, {rounds} rounds")
    with server_process(serve_bridge, ECHO) as server:
        out[BRIDGE] = Latency.of(
            zmq_round_trips(server.endpoint, requests, warmup, "transcript", handshake=True)
        )
    for kind in (THREAD, AIO):
        progress(f"round trip: grpcio {kind} server, {rounds} rounds")
        with server_process(serve_grpc, kind) as server:
            times = grpc_round_trips(server.endpoint, blobs, header_lens, warmup, "audio-chunk")
        out[f"grpc-{kind}"] = Latency.of(times)
    baseline = min((k for k in out if k.startswith("grpc-")), key=lambda k: out[k].p50_us)
    return out, baseline


def measure_ingest(
    sessions: int, chunks: int, senders: int, progress: Progress = _quiet
) -> dict[str, Ingest]:
    """Server-side chunks/s of the bridge and of a raw ROUTER, the same senders for both."""
    out: dict[str, Ingest] = {}
    progress(f"ingest: bridge, {sessions} sessions x {chunks} chunks, {senders} senders")
    out[BRIDGE] = run_ingest(serve_bridge, (COUNT,), sessions, chunks, senders)
    progress(f"ingest: raw ROUTER, {sessions} sessions x {chunks} chunks, {senders} senders")
    out[RAW] = run_ingest(serve_raw_ingest, (), sessions, chunks, senders)
    return out


def run_bridge_bench(args: argparse.Namespace) -> int:
    started = time.monotonic()
    limits = BENCH_LIMITS
    _stderr(
        f"bench servers run with raised per-connection limits: rate_per_s={limits.rate_per_s}, "
        f"burst={limits.burst}, max_sessions={limits.max_sessions} (defaults unchanged)"
    )
    round_trip, baseline = measure_round_trips(args.rounds, args.warmup, _stderr)
    ingest = measure_ingest(args.sessions, args.chunks, args.senders, _stderr)
    request = build_requests(1).chunks[0]
    result = BenchResult(
        machine=machine_info(),
        settings={
            "rounds": args.rounds,
            "warmup": args.warmup,
            "sessions": args.sessions,
            "chunks": args.chunks,
            "senders": max(1, min(args.senders, args.sessions)),
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
