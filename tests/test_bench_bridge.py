"""Smoke test of `npc-bridge bench bridge` with tiny counts: the figures come out, positive."""

from __future__ import annotations

import pytest

from bridge.bench import measure_ingest, measure_round_trips
from bridge.bench.report import BRIDGE, RAW


def test_round_trips_measure_every_system() -> None:
    pytest.importorskip("grpc", reason="the gRPC baseline needs grpcio (the dev or bench extra)")
    figures, baseline = measure_round_trips(rounds=50, warmup=10)
    assert set(figures) == {RAW, BRIDGE, "grpc-thread", "grpc-aio"}
    assert baseline in ("grpc-thread", "grpc-aio")
    for lat in figures.values():
        assert lat.rounds == 50
        assert 0 < lat.p50_us <= lat.p99_us
        assert lat.mean_us > 0 and lat.msgs_per_s > 0


def test_ingest_counts_every_chunk_on_both_servers() -> None:
    figures = measure_ingest(sessions=4, chunks=20, senders=1)
    assert set(figures) == {BRIDGE, RAW}
    for ing in figures.values():
        assert ing.chunks == 80
        assert ing.server_s > 0 and ing.chunks_per_s > 0 and ing.send_chunks_per_s > 0
