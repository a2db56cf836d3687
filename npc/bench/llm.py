"""`npc-bridge bench brain` (LLM part): time to first token, cold and with the prefix reused,
and tokens/s, for the in-process llama.cpp backend and the OpenAI one over a local server."""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bridge.bench.report import cpu_model
from bridge.errors import BridgeError
from npc.llm.base import ChatMessage, Decoding, Llm, LlmRequest, Usage
from npc.llm.gguf import embedded_model_path

LORE = (
    "The hangar sits under the ice of Kessel Deep. Mechs come back from the ridge with "
    "frozen actuators, cracked canopies and empty coolant lines. Spare parts arrive once a "
    "week on the supply crawler; the plasma cutters are signed out one at a time; the "
    "red door leads to the reactor and nobody without a badge goes through it. "
)
# Two NPCs sharing one model, each with a persona and lore as a real prompt would carry.
PERSONAS = {
    "brakka": "You are Brakka, the gruff quartermaster of the mech hangar. You keep the "
    "spare actuators, grumble about pilots who scratch the paint and never give anything "
    "away without a signature. Answer in one or two short sentences. " + LORE * 3,
    "vessa": "You are Vessa, a cheerful test pilot who has flown every mech in the hangar "
    "and names each one after a bird. You love the ridge runs and hate paperwork. Answer "
    "in one or two short sentences. " + LORE * 3,
}
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "say": {"type": "string", "maxLength": 160},
        "mood": {"enum": ["calm", "angry", "cheerful"]},
    },
    "required": ["say", "mood"],
}
LINES = (
    "Where are the spare actuators?",
    "Can I take a plasma cutter?",
    "What is behind the red door?",
)
SERVER_START_S = 120.0


def npc_request(
    npc: str, *lines: str, scene: str = "", decoding: Decoding | None = None
) -> LlmRequest:
    """A chat request as the brain sends it: persona (after an optional scene line that
    makes the prompt new to the model), then the player's lines."""
    system = f"{scene}\n{PERSONAS[npc]}" if scene else PERSONAS[npc]
    messages = [ChatMessage("system", system), *(ChatMessage("user", x) for x in lines)]
    return LlmRequest(tuple(messages), decoding=decoding or Decoding(max_tokens=8), usage=Usage())


def timed(llm: Llm, request: LlmRequest) -> Usage:
    for _ in llm.stream_with_retries(request, threading.Event()):
        pass
    assert request.usage is not None
    return request.usage


def measure(llm: Llm, rounds: int) -> dict[str, Any]:
    """Medians over `rounds`: first-token times cold, extending the last prompt, returning
    to an NPC after another one spoke; decode speed free and under the JSON Schema."""
    cold, reuse, switch, free, constrained = [], [], [], [], []
    timed(llm, npc_request("brakka", "Hello.", scene="Warm-up."))  # load pages, not measured
    for i in range(rounds):
        scene = f"Scene {i} of the bench run {time.time_ns()}."
        first = timed(llm, npc_request("brakka", LINES[0], scene=scene))
        cold.append(first)
        reuse.append(timed(llm, npc_request("brakka", LINES[0], LINES[1], scene=scene)))
        timed(llm, npc_request("vessa", LINES[0], scene=scene))
        switch.append(timed(llm, npc_request("brakka", LINES[0], LINES[2], scene=scene)))
        long = Decoding(max_tokens=64, temperature=0.0)
        count = "Count from one to sixty in words, separated by commas."
        free.append(
            timed(llm, LlmRequest((ChatMessage("user", count),), decoding=long, usage=Usage()))
        )
        shaped = npc_request("brakka", LINES[1], scene=scene, decoding=long)
        constrained.append(
            timed(
                llm, LlmRequest(shaped.messages, schema=REPLY_SCHEMA, decoding=long, usage=Usage())
            )
        )
    return {
        "prompt_tokens": cold[0].prompt_tokens or None,
        "ttft_cold_s": _median([u.first_piece_s for u in cold]),
        "ttft_reuse_s": _median([u.first_piece_s for u in reuse]),
        "ttft_after_other_npc_s": _median([u.first_piece_s for u in switch]),
        "cached_tokens_reuse": _median([u.cached_tokens for u in reuse]),
        "cached_tokens_after_other_npc": _median([u.cached_tokens for u in switch]),
        "tokens_per_s": _median([_rate(u) for u in free]),
        "json_tokens_per_s": _median([_rate(u) for u in constrained]),
    }


def _rate(u: Usage) -> float | None:
    if u.first_piece_s is None or u.completion_tokens < 2 or u.total_s <= u.first_piece_s:
        return None
    return (u.completion_tokens - 1) / (u.total_s - u.first_piece_s)


def _median(values: list[Any]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def llama_server(model: Path, *, n_ctx: int = 2048, threads: int = 2) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port; yields its /v1
    URL once /v1/models answers, and kills it on exit."""
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
        "--n_threads", str(threads), "--chat_format", "chatml-function-calling",
    ]  # fmt: skip
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            _wait_ready(proc, url, log)
            yield url
        finally:
            proc.kill()  # nothing to save; SIGTERM would wait for a generation to finish
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Any) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server did not answer within {SERVER_START_S:.0f} s")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm-model", default="", help="GGUF path (default: the embedded model)")
    p.add_argument("--llm-threads", type=int, default=2, help="llama.cpp threads")
    p.add_argument("--llm-rounds", type=int, default=3, help="timed rounds per backend")
    p.add_argument("--llm-backends", default="llama,openai", help="comma list of llama, openai")
    p.add_argument("--llm-url", default="", help="measure this /v1 server, not a local one")
    p.add_argument(
        "--llm-schema-mode",
        default="",
        help="for the openai backend (default: json_object for the local llama-cpp-python "
        "server, json_schema for --llm-url)",
    )


def run_llm_bench(args: argparse.Namespace) -> dict[str, Any]:
    """The figures as a dict (printed as a table too); `args` as `add_arguments` makes."""
    from npc.llm.llama import LlamaCppLlm
    from npc.llm.openai import OpenAiLlm

    model = Path(args.llm_model) if args.llm_model else embedded_model_path()
    backends = [b for b in args.llm_backends.split(",") if b]
    results: dict[str, Any] = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "load_avg_before": os.getloadavg()[0],
        "model": model.name,
        "threads": args.llm_threads,
        "rounds": args.llm_rounds,
    }
    if "llama" in backends:
        _say(f"llama: loading {model.name} ...")
        began = time.perf_counter()
        local = LlamaCppLlm(model, n_threads=args.llm_threads)
        results["llama_load_s"] = time.perf_counter() - began
        results["llama"] = _guarded(measure, local, args.llm_rounds)
        local.close()
    if "openai" in backends and args.llm_url:
        mode = args.llm_schema_mode or "json_schema"
        _say(f"openai: {args.llm_url} ...")
        results["openai"] = _guarded(
            measure, OpenAiLlm(args.llm_url, schema_mode=mode), args.llm_rounds
        )
    elif "openai" in backends:
        mode = args.llm_schema_mode or "json_object"
        _say("openai: starting llama-cpp-python's server on loopback ...")
        with llama_server(model, threads=args.llm_threads) as url:
            remote = OpenAiLlm(url, schema_mode=mode)
            results["openai"] = _guarded(measure, remote, args.llm_rounds)
    results["load_avg_after"] = os.getloadavg()[0]
    print_table(results)
    return results


def _guarded(measure: Any, llm: Llm, rounds: int) -> dict[str, Any]:
    """One backend's figures, or the error that stopped it (the others still run)."""
    try:
        figures: dict[str, Any] = measure(llm, rounds)
    except BridgeError as e:
        _say(f"{llm.name}: {e}")
        return {"error": str(e)}
    return figures


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def print_table(r: dict[str, Any]) -> None:
    print(
        f"machine: {r['machine']}; model {r['model']}, {r['threads']} threads, "
        f"{r['rounds']} rounds; load average {r['load_avg_before']:.1f}"
        f" -> {r['load_avg_after']:.1f}"
    )
    print(
        f"  {'backend':<8} {'prompt tok':>10} {'TTFT cold':>10} {'reuse':>8} {'ratio':>6} "
        f"{'other NPC':>10} {'tok/s':>6} {'JSON tok/s':>10}"
    )
    for name in ("llama", "openai"):
        row = r.get(name)
        if row is None:
            continue
        if "error" in row:
            print(f"  {name:<8} failed: {row['error']}")
            continue
        cold, reuse = row["ttft_cold_s"], row["ttft_reuse_s"]
        ratio = f"{cold / reuse:.1f}x" if cold and reuse else "-"
        print(
            f"  {name:<8} {_fmt(row['prompt_tokens'], 0):>10} {_fmt(cold):>10} "
            f"{_fmt(reuse):>8} {ratio:>6} {_fmt(row['ttft_after_other_npc_s']):>10} "
            f"{_fmt(row['tokens_per_s'], 1):>6} {_fmt(row['json_tokens_per_s'], 1):>10}"
        )
    print(
        "  (TTFT in s, medians; reuse: same NPC, one more player line; other NPC: the same "
        "NPC again after another one spoke)"
    )


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ns = parser.parse_args()
    figures = run_llm_bench(ns)
    if ns.json:
        print(json.dumps(figures, indent=1))
