"""`npc-bridge bench bridge`: the bridge against raw pyzmq and grpcio, on loopback."""

from bridge.bench.run import measure_ingest, measure_round_trips, run_bridge_bench

__all__ = ["measure_ingest", "measure_round_trips", "run_bridge_bench"]
