"""`npc-bridge bench asr`: accuracy and speed of hearing, offline and through the bridge."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from math import nan
from typing import Any

import numpy as np

from bridge.bench.report import cpu_model
from bridge.config import ServerConfig
from bridge.messages import Transcript, TurnEnd
from bridge.server import BridgeServer
from npc.asr.base import Hints
from npc.audio import float_to_pcm16
from npc.bench.speech import DEFAULT_SET, Line, edits, load_set
from npc.ears import Ears
from npc.echo import EchoBrain
from npc.hearing import HearingConfig
from npc.registry import ASR, VAD
from npc.roster import load_roster
from npc.turns import Event, TurnConfig, TurnDetector
from plugin_stubs.client import EngineClient
from sample_game import NPCS_DIR

VOCABULARY = ["mech", "actuator", "hangar", "quartermaster"]


def _hints() -> list[str]:
    """What the bridge's hearing gives the recogniser for a session with Brakka: the NPC
    names (its own first), then the game's vocabulary. Offline decodes get the same."""
    names = [e.name for e in load_roster(NPCS_DIR)]
    return list(dict.fromkeys(["Brakka", *names, *VOCABULARY]))


HANGOVERS_MS = (240, 320, 400, 480, 560, 640, 800)
TAIL_S = 1.2  # silence after each line, as a live microphone keeps sending
CHUNK_S = 0.02


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def offline(model: str, lines: list[Line]) -> dict[str, Any]:
    """Each line decoded whole by the recogniser, no bridge: WER and decode time."""
    _say(f"loading Whisper {model} ...")
    asr = ASR.create("whisper", model=model)
    warm = asr.open_stream(Hints(_hints()))
    warm.feed(lines[0].audio)
    warm.final()
    errs = total = 0
    times = []
    texts = {}
    for line in lines:
        stream = asr.open_stream(Hints(_hints()))
        stream.feed(line.audio)
        began = time.perf_counter()
        texts[line.name] = stream.final()
        times.append(time.perf_counter() - began)
        e, n = edits(line.text, texts[line.name])
        errs, total = errs + e, total + n
    audio = sum(line.seconds for line in lines)
    return {
        "model": model,
        "wer": errs / total,
        "decode_ms_mean": 1000 * statistics.mean(times),
        "rtf": sum(times) / audio,
        "texts": texts,
    }


def hangover_sweep(lines: list[Line]) -> list[dict[str, Any]]:
    """End-of-turn from VAD alone at each hangover: false ends mid-line and the delay."""
    rows = []
    for hangover in HANGOVERS_MS:
        splits, delays = 0, []
        for line in lines:
            vad = VAD.create("silero")
            turns = TurnDetector(TurnConfig(hangover_ms=hangover), vad.capabilities.frame_samples)
            x = np.concatenate([line.audio, np.zeros(int(16000 * TAIL_S), np.float32)])
            n = vad.capabilities.frame_samples
            ends = []
            for i in range(0, len(x) - n + 1, n):
                ev = turns.push(vad.probability(x[i : i + n]))
                if ev is not None and ev.event is Event.END_OF_TURN:
                    ends.append(ev.sample / 16000)
            splits += max(0, len(ends) - 1)
            if ends:
                delays.append(1000 * (ends[-1] - line.last_speech_s()))
        rows.append(
            {
                "hangover_ms": hangover,
                "false_ends": splits,
                "eot_after_speech_ms": statistics.median(delays) if delays else None,
            }
        )
    return rows


async def _through_bridge(model: str, lines: list[Line], hangover_ms: int) -> dict[str, Any]:
    config = HearingConfig(turn=TurnConfig(hangover_ms=hangover_ms), vocabulary=tuple(VOCABULARY))
    ears = Ears(ASR.create("whisper", model=model), config=config)
    server = BridgeServer(
        EchoBrain(load_roster(NPCS_DIR), ears), ServerConfig(bind="tcp://127.0.0.1:*")
    )
    await server.start()
    errs = total = 0
    delays, after_eot, texts = [], [], {}
    try:
        async with EngineClient(server.endpoint, name="bench-asr") as client:
            for line in lines:
                s = await client.open_session("brakka")
                x = np.concatenate([line.audio, np.zeros(int(16000 * TAIL_S), np.float32)])
                pcm = float_to_pcm16(x)
                step = int(16000 * CHUNK_S) * 2
                last_chunk = int(line.last_speech_s() / CHUNK_S)
                sent_at: list[float] = []
                final_at, text, end = None, "", None

                async def read(session: Any = s) -> tuple[float | None, str, TurnEnd]:
                    """Stamp each message as it arrives, while the audio is still going out."""
                    final_at, text = None, ""
                    while True:
                        msg = await session.next(30)
                        if isinstance(msg, Transcript) and msg.final and final_at is None:
                            final_at, text = time.monotonic(), msg.text
                        elif isinstance(msg, TurnEnd):
                            return final_at, text, msg

                reader = asyncio.ensure_future(read())
                started = time.monotonic()
                for i, at in enumerate(range(0, len(pcm), step)):
                    delay = started + i * CHUNK_S - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await s.send_audio(pcm[at : at + step], 16000)
                    sent_at.append(time.monotonic())
                final_at, text, end = await reader
                assert final_at is not None
                texts[line.name] = text
                e, n = edits(line.text, text)
                errs, total = errs + e, total + n
                delays.append(1000 * (final_at - sent_at[min(last_chunk, len(sent_at) - 1)]))
                marks = end.latency_ms
                after_eot.append(marks.get("transcript", nan) - marks.get("end_of_turn", nan))
                await s.close()
    finally:
        await server.stop()
        ears.shutdown()
    return {
        "model": model,
        "wer": errs / total,
        "last_speech_to_final_ms_p50": statistics.median(delays),
        "final_after_eot_ms_p50": statistics.median(after_eot),
        "final_after_eot_ms_max": max(after_eot),
        "texts": texts,
    }


def run_asr_bench(args: argparse.Namespace) -> int:
    lines = load_set(args.speech)
    models = [m for m in args.models.split(",") if m]
    _say(f"{len(lines)} lines, {sum(x.seconds for x in lines):.1f} s of speech from {args.speech}")
    results: dict[str, Any] = {"machine": _machine(), "offline": [], "bridge": []}
    _say("sweeping the end-of-turn hangover on the VAD ...")
    results["hangover"] = hangover_sweep(load_set(args.speech))
    for model in models:
        results["offline"].append(offline(model, lines))
        if not args.no_bridge:
            _say(f"streaming every line in real time through the bridge ({model}) ...")
            results["bridge"].append(asyncio.run(_through_bridge(model, lines, args.hangover_ms)))
    _print(results, args.hangover_ms)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


def _machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _print(r: dict[str, Any], hangover_ms: int) -> None:
    print(f"machine: {r['machine']}\n")
    print("End of turn from the VAD (Silero v6), by hangover; false ends = a line cut in two")
    print(f"  {'hangover ms':>11} {'false ends':>10} {'EOT after speech ms (p50)':>26}")
    for row in r["hangover"]:
        eot = "-" if row["eot_after_speech_ms"] is None else round(row["eot_after_speech_ms"])
        print(f"  {row['hangover_ms']:>11} {row['false_ends']:>10} {eot:>26}")
    print("\nRecognition offline (whole line, one decode)")
    print(f"  {'model':<8} {'WER':>6} {'decode ms':>10} {'RTF':>6}")
    for row in r["offline"]:
        ms, rtf = row["decode_ms_mean"], row["rtf"]
        print(f"  {row['model']:<8} {row['wer']:>6.3f} {ms:>10.0f} {rtf:>6.3f}")
    if r["bridge"]:
        print(f"\nThrough the bridge, lines streamed in real time, hangover {hangover_ms} ms")
        print(
            f"  {'model':<8} {'WER':>6} {'last speech->final p50 ms':>26} "
            f"{'final after EOT p50 / max ms':>29}"
        )
        for row in r["bridge"]:
            delay = row["last_speech_to_final_ms_p50"]
            p50, worst = row["final_after_eot_ms_p50"], row["final_after_eot_ms_max"]
            wer = row["wer"]
            print(f"  {row['model']:<8} {wer:>6.3f} {delay:>26.0f} {p50:>17.0f} / {worst:.0f}")
    print("\n(WER: word edits / reference words over all lines; RTF: decode time / audio time)")


__all__ = ["DEFAULT_SET", "run_asr_bench"]
