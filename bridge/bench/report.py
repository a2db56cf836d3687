"""The bench's figures: machine info, ratios against targets, a table and a JSON object."""

from __future__ import annotations

import dataclasses
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import zmq

from bridge.bench.ingest import Ingest
from bridge.bench.roundtrip import Latency

RAW, BRIDGE = "raw", "bridge"
TARGET_BRIDGE_VS_RAW = 1.3  # bridge p50 / raw p50 at most
TARGET_GRPC_VS_BRIDGE = 5.0  # grpc p50 / bridge p50 at least
TARGET_INGEST_VS_RAW = 0.5  # bridge chunks/s / raw chunks/s at least
MICS_100 = 5000.0  # chunks/s of 100 real-time microphones (50 chunks/s each)

LABELS = {
    RAW: "raw pyzmq ROUTER echo (floor)",
    BRIDGE: "bridge: BridgeServer + BenchBrain",
    "grpc-thread": "grpcio bidi stream, grpc.server",
    "grpc-aio": "grpcio bidi stream, grpc.aio",
}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 0,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "pyzmq": zmq.pyzmq_version(),
        "libzmq": zmq.zmq_version(),
        "msgpack": _version("msgpack"),
        "grpcio": _version("grpcio"),
    }


@dataclass(frozen=True, slots=True)
class BenchResult:
    """Every figure of one `npc-bridge bench bridge` run."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    round_trip: dict[str, Latency]  # RAW, BRIDGE, and each grpc server tried
    grpc_baseline: str  # the grpc entry with the lower p50
    ingest: dict[str, Ingest]  # BRIDGE and RAW

    def ratios(self) -> dict[str, float]:
        rt = self.round_trip
        return {
            "bridge_vs_raw_p50": rt[BRIDGE].p50_us / rt[RAW].p50_us,
            "grpc_vs_bridge_p50": rt[self.grpc_baseline].p50_us / rt[BRIDGE].p50_us,
            "ingest_bridge_vs_raw": self.ingest[BRIDGE].chunks_per_s
            / self.ingest[RAW].chunks_per_s,
            "ingest_bridge_x_100_mics": self.ingest[BRIDGE].chunks_per_s / MICS_100,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings,
            "round_trip": {k: dataclasses.asdict(v) for k, v in self.round_trip.items()},
            "grpc_baseline": self.grpc_baseline,
            "ingest": {
                k: {
                    "sessions": v.sessions,
                    "chunks": v.chunks,
                    "server_s": v.server_s,
                    "chunks_per_s": v.chunks_per_s,
                    "send_chunks_per_s": v.send_chunks_per_s,
                    "microphones": v.microphones,
                }
                for k, v in self.ingest.items()
            },
            "ratios": self.ratios(),
            "targets": {
                "bridge_vs_raw_p50_max": TARGET_BRIDGE_VS_RAW,
                "grpc_vs_bridge_p50_min": TARGET_GRPC_VS_BRIDGE,
                "ingest_bridge_vs_raw_min": TARGET_INGEST_VS_RAW,
            },
        }


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def format_report(r: BenchResult) -> str:
    m, s, ratios = r.machine, r.settings, r.ratios()
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['os']}",
        f"python {m['python']}, pyzmq {m['pyzmq']} (libzmq {m['libzmq']}), "
        f"msgpack {m['msgpack']}, grpcio {m['grpcio']}",
        f"bench server limits: {s['limits']} (raised for the bench; defaults unchanged)",
        "",
        f"Round trip: one {s['request_bytes']}-byte audio-chunk request in flight, "
        f"{s['rounds']} timed after {s['warmup']} warm-up, loopback TCP, systems taking "
        f"turns in {s['round_trip_blocks']} blocks",
        f"  {'system':<36} {'p50 us':>9} {'p99 us':>9} {'mean us':>9} {'msgs/s':>9}",
    ]
    for key, lat in r.round_trip.items():
        mark = "  <- grpc baseline (lower p50)" if key == r.grpc_baseline else ""
        lines.append(
            f"  {LABELS.get(key, key):<36} {lat.p50_us:>9.1f} {lat.p99_us:>9.1f} "
            f"{lat.mean_us:>9.1f} {lat.msgs_per_s:>9.0f}{mark}"
        )
    a, b = ratios["bridge_vs_raw_p50"], ratios["grpc_vs_bridge_p50"]
    lines += [
        f"  bridge p50 / raw p50   = {a:5.3f}  (target <= {TARGET_BRIDGE_VS_RAW}: "
        f"{_verdict(a <= TARGET_BRIDGE_VS_RAW)})",
        f"  grpc p50 / bridge p50  = {b:5.3f}  (target >= {TARGET_GRPC_VS_BRIDGE}: "
        f"{_verdict(b >= TARGET_GRPC_VS_BRIDGE)}; baseline {r.grpc_baseline})",
        "",
        f"Audio ingest: {s['sessions']} sessions x {s['chunks']} chunks of 640 bytes "
        f"(20 ms at 16 kHz), {s['senders']} sender processes, best of "
        f"{s['ingest_repeats']} alternating runs each",
        f"  {'server':<36} {'chunks':>9} {'server s':>9} {'chunks/s':>9} {'x 5k/s':>7} "
        f"{'sent/s':>9}",
    ]
    for key in (BRIDGE, RAW):
        ing = r.ingest[key]
        label = LABELS[BRIDGE] if key == BRIDGE else "raw ROUTER, header decode only"
        lines.append(
            f"  {label:<36} {ing.chunks:>9} {ing.server_s:>9.3f} {ing.chunks_per_s:>9.0f} "
            f"{ing.chunks_per_s / MICS_100:>7.1f} {ing.send_chunks_per_s:>9.0f}"
        )
    c = ratios["ingest_bridge_vs_raw"]
    lines += [
        f"  bridge / raw           = {c:5.3f}  (target >= {TARGET_INGEST_VS_RAW}: "
        f"{_verdict(c >= TARGET_INGEST_VS_RAW)})",
        f"  bridge = {ratios['ingest_bridge_x_100_mics']:.1f} x 5,000 chunks/s "
        "(100 real-time microphones)",
        "  (chunks/s: server side, first chunk to last audio-end processed; sent/s: how "
        "fast the senders handed chunks to ZeroMQ)",
    ]
    return "\n".join(lines)
