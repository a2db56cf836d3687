"""`npc-bridge bench TARGET`: measured figures for docs/benchmarks.md."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="run a benchmark",
        description="Benchmarks print a table of figures with the baseline measured in "
        "the same run; copy them into docs/benchmarks.md with the command and machine.",
    )
    targets = p.add_subparsers(dest="target", required=True, metavar="TARGET")
    b = targets.add_parser(
        "bridge",
        help="wire round trip and audio ingest vs raw pyzmq and grpcio",
        description=(
            "All on loopback in one run: round trip of the same bytes through a raw pyzmq "
            "DEALER/ROUTER echo (the floor), through the bridge's full decode/validate/"
            "dispatch path, and through a grpcio bidirectional-streaming echo; then audio "
            "ingest with many sessions streaming at once, bridge vs a raw ROUTER that only "
            "decodes the same messages."
        ),
    )
    b.add_argument("--rounds", type=int, default=20000, help="timed round trips per system")
    b.add_argument("--warmup", type=int, default=2000, help="untimed round trips first")
    b.add_argument("--sessions", type=int, default=100, help="sessions streaming at once")
    b.add_argument("--chunks", type=int, default=1000, help="20 ms chunks per session")
    b.add_argument("--senders", type=int, default=4, help="client processes for ingest")
    b.add_argument("--json", action="store_true", help="print the figures as JSON too")
    b.set_defaults(run=_bridge)
    a = targets.add_parser(
        "asr",
        help="hearing: end-of-turn hangover, WER and speed offline and through the bridge",
        description=(
            "Over a set of recorded player lines: the VAD's end-of-turn at several "
            "hangovers (false ends vs delay); each Whisper model's WER and decode time "
            "offline; then every line streamed in real time through a real bridge to the "
            "hearing echo brain: WER, and the delay from the player's last speech sample to "
            "the final transcript."
        ),
    )
    a.add_argument(
        "--speech",
        type=Path,
        default=None,
        help="folder with manifest.json and 16 kHz WAVs (default: tests/data/speech)",
    )
    a.add_argument("--models", default="tiny.en,base", help="comma list (default tiny.en,base)")
    a.add_argument("--hangover-ms", type=int, default=480, help="end-of-turn hangover to test")
    a.add_argument("--no-bridge", action="store_true", help="offline figures only")
    a.add_argument("--json", action="store_true", help="print the figures as JSON too")
    a.set_defaults(run=_asr)
    _add_brain(targets)
    _add_rag(targets)
    _add_face(targets)
    _add_tts(targets)
    _add_cpp(targets)
    _add_e2e(targets)
    _add_weights(targets)


def _add_brain(targets: Any) -> None:
    from npc.bench.brain import add_arguments

    b = targets.add_parser(
        "brain",
        help="LLM speed per backend, action accuracy, retrieval, steering",
        description=(
            "The thinking brain on the sample game: time to first token and tokens/s per "
            "LLM backend (embedded llama.cpp, and an OpenAI-compatible llama-cpp-python "
            "server started on loopback); action accuracy on the sample game's scenario "
            "set; retrieval recall@5 and latency at 10,000 chunks; and whether the SteerLM "
            "attributes move the output (length for verbosity, a judge for humor and "
            "toxicity)."
        ),
    )
    add_arguments(b)
    b.set_defaults(run=_brain)


def _add_rag(targets: Any) -> None:
    from npc.bench.rag import add_arguments

    r = targets.add_parser(
        "rag",
        help="retrieval alone: recall@5 and latency per embedder and mode",
        description=(
            "Retrieval over the sample game's lore padded with synthetic distractor chunks "
            "(10,000 by default): recall@5 on the lore question set and query latency for "
            "bm25 alone, dense alone and the hybrid (reciprocal-rank fusion), per embedder; "
            "index build time uncached and cached."
        ),
    )
    add_arguments(r)
    r.set_defaults(run=_rag)


def _add_face(targets: Any) -> None:
    from npc.bench.face import add_arguments

    f = targets.add_parser(
        "face",
        help="face animation: NPC faces per CPU core at 60 fps, audio-to-face sync",
        description=(
            "Speaks a set of NPC lines with the TTS (embedded piper by default), then times "
            "the face animator (phonemes, loudness, emotion, blinks, gaze, head) over about "
            "20 s of speech on one thread against the plain loudness jaw as a baseline, and "
            "measures per line the lag (in frames) that best aligns jawOpen with the audio's "
            "loudness envelope, with phonemes, audio only, and on recorded lines."
        ),
    )
    add_arguments(f)
    f.set_defaults(run=_face)


def _add_tts(targets: Any) -> None:
    from npc.bench.voice import add_arguments

    t = targets.add_parser(
        "tts",
        help="voices: first clip and real-time factor per backend; first audio in the brain",
        description=(
            "Per TTS backend: time to the first clip of short clauses (warm) and the "
            "real-time factor. Then the thinking brain on the embedded model speaks the "
            "sample game's action scenarios: milliseconds from each line's first clause "
            "being written to its first audio leaving, against the same clause "
            "synthesised alone on an idle CPU."
        ),
    )
    add_arguments(t)
    t.set_defaults(run=_tts)


def _add_cpp(targets: Any) -> None:
    from plugin_stubs.cpp.bench import add_arguments

    c = targets.add_parser(
        "cpp",
        help="the C++ engine client's round trip against the Python one (build: make cpp)",
        description=(
            "Starts `npc-bridge serve` with the echo brain on loopback and times text-input "
            "-> dialogue-final round trips with the C++ client (npc_talk --bench) and the "
            "Python reference client in alternating blocks; prints p50/p99 and the ratio."
        ),
    )
    add_arguments(c)
    c.set_defaults(run=_cpp)


def _add_e2e(targets: Any) -> None:
    from npc.bench.e2e_run import add_arguments

    e = targets.add_parser(
        "e2e",
        help="the whole loop: player's last speech sample to the NPC's first audio, by stage",
        description=(
            "Starts a real server with the brain of a config (the sample game's hangar by "
            "default, state in a temporary folder) and an engine client that opens N "
            "conversations at once with the sample game's NPCs. Each plays the same player "
            "lines: typed, and spoken in real time into an open microphone (made once with "
            "piper and cached), plain, with an action, with a lore question. Prints p50/p90 "
            "of each stage of the brain's latency trace (ms after the player's input ended) "
            "and of the total at the engine: the last speech chunk sent (or the typed line) "
            "to the first NPC audio chunk received. docs/latency.md explains the stages."
        ),
    )
    add_arguments(e)
    e.set_defaults(run=_e2e)


def _add_weights(targets: Any) -> None:
    from npc.bench.weights import add_arguments

    w = targets.add_parser(
        "weights",
        help="the embedded LLM's shipped weights against its fast ones: speed and quality",
        description=(
            "Loads the embedded model as shipped and with its fast weights (the feed-forward "
            "gate and up matrices in IQ4_NL, derived once: docs/llm.md). Times one decode "
            "step on one and two threads and batches of 45 and 100 tokens after the same "
            "900-token context, the two models alternating; then each model's perplexity "
            "on the sample game's lore and the KL divergence between their next-token "
            "distributions."
        ),
    )
    add_arguments(w)
    w.set_defaults(run=_weights)


def _weights(args: argparse.Namespace) -> int:
    from npc.bench.weights import run_from_args

    return run_from_args(args)


def _e2e(args: argparse.Namespace) -> int:
    from npc.bench.e2e_run import run_from_args

    return run_from_args(args)


def _cpp(args: argparse.Namespace) -> int:
    from plugin_stubs.cpp.bench import run

    return run(args)


def _tts(args: argparse.Namespace) -> int:
    from npc.bench.voice import run_tts_bench

    return run_tts_bench(args)


def _face(args: argparse.Namespace) -> int:
    from npc.bench.face import run_from_args

    return run_from_args(args)


def _rag(args: argparse.Namespace) -> int:
    from npc.bench.rag import run_from_args

    return run_from_args(args)


def _brain(args: argparse.Namespace) -> int:
    from npc.bench.brain import run_brain_bench

    return run_brain_bench(args)


def _bridge(args: argparse.Namespace) -> int:
    from bridge.bench import run_bridge_bench

    return int(run_bridge_bench(args))


def _asr(args: argparse.Namespace) -> int:
    from npc.bench.asr import DEFAULT_SET, run_asr_bench

    args.speech = args.speech or DEFAULT_SET
    return run_asr_bench(args)
