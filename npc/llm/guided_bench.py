"""Time the guided decoder against the grammar on the embedded model, back to back.

`python -m npc.llm.guided_bench [--rounds N] [--threads]`: for a few player lines to
Brakka with the hangar's engine actions (emotion on), the prompt warmed first, the time
from the call to the first piece and to the first character of "say", guided and
grammar alternating. `--threads`: one decode step and one 128-token batch with 1 and 2
threads, alternating. `--lookahead`: the whole reply with prompt lookup (npc/llm/lookahead.py)
on and off, alternating: time, evaluations, and the first clause's time (`WITH_LORE`: two
lines asked with the hangar's lore before them, as the brain gives it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from npc.llm.base import ChatMessage, Decoding, LlmRequest
from npc.llm.llama import LlamaCppLlm
from npc.mind.reply import SayStream, reply_schema

PERSONA = (
    "You are Brakka, the gruff quartermaster of the mech hangar on Kessel Deep. You keep "
    "the spare parts, paint mechs and complain about pilots who scratch the paint. Reply "
    'as JSON: {"action": ..., "emotion": ..., "say": "your line"}; the action "none" '
    "when you just talk."
)
LINES = (
    "How are you today, Brakka?",
    "Can you paint my mech red?",
    "My reactor is damaged, fix it please.",
    "What's the news around the hangar?",
)
WITH_LORE = (
    "What you know:\n- The quartermaster's stores: The window is open from six in the morning "
    "until ten at night, station time, and closed on the reactor maintenance day.\n\n"
    "Player says: When is the stores window open?",
    "What you know:\n- The North Hangar: Its reactor is a compact fusion torus the crews call "
    "the Old Lantern, after the blue glow that leaks from its inspection ports.\n\n"
    "Player says: What powers the North Hangar?",
)


def ask(line: str, schema: dict[str, Any], round_: int) -> LlmRequest:
    """`line` to Brakka, seeded by the round: the same request on either side of a pair."""
    return LlmRequest(
        (ChatMessage("system", PERSONA), ChatMessage("user", line)),
        schema=schema,
        decoding=Decoding(max_tokens=80, temperature=0.6, seed=7 + round_),
    )


def first_say(llm: LlamaCppLlm, request: LlmRequest) -> tuple[float, float]:
    """Seconds from the call to the first piece, and to the line's first character."""
    began = time.perf_counter()
    first = 0.0
    say = SayStream()
    for piece in llm.stream(request, threading.Event()):
        first = first or time.perf_counter() - began
        if say.feed(piece):
            return first, time.perf_counter() - began
    return first, time.perf_counter() - began


def compare(llm: LlamaCppLlm, rounds: int) -> None:
    path = Path(__file__).resolve().parents[2] / "sample_game/scenarios/actions.json"
    engine = json.loads(path.read_text(encoding="utf-8"))["engine_actions"]
    schema = reply_schema({k: a["function"]["parameters"] for k, a in engine.items()}, 160,
                          emotion=True)
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(rounds):
        for line in LINES:
            for guided in (True, False) if r % 2 == 0 else (False, True):
                request = ask(line, schema, r)
                llm.warm(request)
                llm.guided = guided
                piece, say = first_say(llm, request)
                times[guided].append(say)
                print(f"{'guided ' if guided else 'grammar'} {line[:30]:30} first piece "
                      f"{piece * 1000:6.0f} ms, first say char {say * 1000:6.0f} ms")
    g, m = statistics.median(times[True]), statistics.median(times[False])
    print(f"median call -> first say character: guided {g * 1000:.0f} ms, grammar "
          f"{m * 1000:.0f} ms, ratio {m / g:.1f}x")


def lookahead(llm: LlamaCppLlm, rounds: int) -> None:
    schema = reply_schema({}, 160, emotion=True)
    seen: dict[int, dict[str, list[float]]] = {}
    ctx = llm._llama._ctx
    inner = ctx.decode
    calls = [0]

    def counted(batch: object) -> None:
        calls[0] += 1
        inner(batch)

    ctx.decode = counted
    try:
        for r in range(rounds):
            for line in (*LINES, *WITH_LORE):
                for drafts in (0, 4) if r % 2 == 0 else (4, 0):
                    request = ask(line, schema, r)
                    llm.warm(request)
                    llm.lookahead = drafts
                    calls[0], say, said, clause = 0, SayStream(), "", 0.0
                    began = time.perf_counter()
                    for piece in llm.stream(request, threading.Event()):
                        said += say.feed(piece)
                        if not clause and len(said) >= 18:
                            clause = time.perf_counter() - began
                    took = time.perf_counter() - began
                    row = seen.setdefault(drafts, {"reply": [], "evals": [], "clause": []})
                    row["reply"].append(took)
                    row["evals"].append(calls[0])
                    row["clause"].append(clause or took)
                    print(f"lookahead {drafts} {line[-30:]:30} reply {took * 1000:5.0f} ms, "
                          f"{calls[0]:3d} evaluations, 18 characters at {clause * 1000:5.0f} ms")
    finally:
        ctx.decode = inner
        llm.lookahead = 4
    for drafts, row in sorted(seen.items()):
        print(f"lookahead {drafts}: median reply {statistics.median(row['reply']) * 1000:.0f} ms,"
              f" {statistics.median(row['evals']):.0f} evaluations, 18 characters at "
              f"{statistics.median(row['clause']) * 1000:.0f} ms")
    base, on = (statistics.median(seen[d]["reply"]) for d in (0, 4))
    print(f"reply time with lookahead / without: {on / base:.2f}")


def threads(llm: LlamaCppLlm, rounds: int) -> None:
    ll, cpp = llm._llama, llm._cpp
    prompt = ll.tokenize(PERSONA.encode() * 2, add_bos=True)[:129]
    for decode, batch in [(1, 2), (2, 2)] * rounds:
        cpp.llama_set_n_threads(ll.ctx, decode, batch)
        ll.n_tokens = 0
        began = time.perf_counter()
        ll.eval(prompt[:128])
        mid = time.perf_counter()
        for t in prompt[:24]:
            ll.eval([t])
        end = time.perf_counter()
        print(f"threads decode {decode}, batch {batch}: 128-token batch "
              f"{(mid - began) * 1000:.0f} ms, one step {(end - mid) / 24 * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", action="store_true")
    parser.add_argument("--lookahead", action="store_true")
    args = parser.parse_args()
    llm = LlamaCppLlm(n_ctx=2048)
    try:
        run = threads if args.threads else lookahead if args.lookahead else compare
        run(llm, args.rounds)
    finally:
        llm.close()


if __name__ == "__main__":
    main()
