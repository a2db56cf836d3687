"""The thinking brain on the real embedded model, over real sockets: actions, lore, memory
and steering do what a player would notice."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from bridge.messages import ActionCall
from npc.llm.llama import LlamaCppLlm
from npc.memory import Memory
from npc.mind import prompt
from npc.mind.acting import available
from npc.rag import relevance
from sample_game.world import World, tools
from tests.helpers import engine, run, running
from tests.mind_helpers import GIVE, HERE, mind

TURN_S = 90.0  # one turn on 2 busy cores; it usually takes a few seconds


def test_an_engine_action_round_trips_through_the_bridge(
    embedded_llm: LlamaCppLlm, tmp_path: Path
) -> None:
    brain = mind(embedded_llm, tmp_path)
    calls: list[ActionCall] = []

    def paint(call: ActionCall) -> tuple[bool, Any, str]:
        calls.append(call)
        return True, {"color": call.arguments["color"]}, ""

    async def scenario() -> None:
        async with running(brain) as server, engine(server, heartbeat=True) as client:
            # Declared as the hangar declares them: with the price of a paint job in the
            # lore it gives for this line, the 0.5B model quoted the price instead of
            # painting when paint_mech was the only engine action (seed 7, guided).
            s = await client.open_session("brakka", actions=tools("brakka"), on_action=paint)
            await s.say("Paint my mech red.")
            turn = await s.turn(timeout=TURN_S)
            assert turn.end is not None and turn.end.reason == "done", turn.messages
            assert turn.text and not turn.errors

    run(scenario, limit=2 * TURN_S)
    assert [(c.name, c.arguments) for c in calls] == [("paint_mech", {"color": "red"})]


def test_a_request_runs_the_action_with_valid_arguments(
    embedded_llm: LlamaCppLlm, tmp_path: Path
) -> None:
    brain = mind(embedded_llm, tmp_path)
    world = World({"renn": 500})
    cells = world.stock["power cell"]

    async def scenario() -> None:
        async with running(brain) as server, engine(server, heartbeat=True) as client:
            s = await client.open_session(
                "quartermaster", player="renn", actions=[GIVE], on_action=world.handler("renn"))
            # A direct request: the indirect "I need two spare power cells." is a near tie
            # between give_item and quote_price for the 0.5B model (logits 0.6 apart on
            # the shipped weights, 0.2 the other way on the fast ones: docs/llm.md).
            await s.say("Give me two power cells.")
            turn = await s.turn(timeout=TURN_S)
            assert turn.text and not turn.errors, turn.messages

    run(scenario, limit=2 * TURN_S)
    assert world.stock["power cell"] == cells - 2
    memory = Memory(tmp_path / "memory.sqlite3")
    said = memory.recent("quartermaster", "renn", 1)[0]
    assert said.meta is not None
    assert (said.meta["action"], said.meta["arguments"]) == (
        "give_item", {"item": "power cell", "count": 2})
    memory.close()


def test_a_lore_question_is_answered_from_the_right_chunk(
    embedded_llm: LlamaCppLlm, tmp_path: Path
) -> None:
    # The line is sampled: the 0.5B model names the Old Lantern on this lore for 7 or 8 of
    # ten seeds (a power cell or a pump otherwise, docs/llm.md), so three seeds ask and
    # two must answer from the chunk.
    async def scenario(seed: int) -> str:
        brain = mind(embedded_llm, tmp_path / str(seed), seed=seed)
        async with running(brain) as server, engine(server, heartbeat=True) as client:
            hits = brain.search("What powers the north hangar?", ["common", "hangar", "mechs"])
            assert hits[0].chunk.doc == "north_hangar_reactor"
            s = await client.open_session("brakka")
            await s.say("What powers the north hangar?")
            return (await s.turn(timeout=TURN_S)).text

    texts = [run(lambda seed=seed: scenario(seed), limit=2 * TURN_S) for seed in (7, 8, 9)]
    answered = [t for t in texts if any(w in t.lower() for w in ("lantern", "fusion", "torus"))]
    assert len(answered) >= 2, texts


def test_the_brain_keeps_its_lore_in_the_model_at_start(
    embedded_llm: LlamaCppLlm, tmp_path: Path
) -> None:
    # The lore cache is opt-in (docs/llm.md: lore segments); a backend of its own with it.
    llm = LlamaCppLlm(n_ctx=4096, n_threads=2, lore_cache_mb=128)
    try:
        check_kept_lore(llm, tmp_path)
    finally:
        llm.close()
    assert not embedded_llm.capabilities.segments  # off by default


def check_kept_lore(llm: LlamaCppLlm, tmp_path: Path) -> None:
    # Brakka alone, with lore he knows and a file he does not (the smugglers' route).
    game = tmp_path / "game"
    (game / "npcs").mkdir(parents=True)
    shutil.copy(HERE / "npcs" / "brakka.toml", game / "npcs")
    shutil.copytree(HERE / "actions", game / "actions")
    (game / "lore").mkdir()
    for name in ("brakka.md", "north_hangar_reactor.md", "smuggling_route.md"):
        shutil.copy(HERE / "lore" / name, game / "lore")
    brain = mind(llm, tmp_path, game)
    assert llm._segments is not None
    store = llm._segments

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            assert store.runs and not store.heads  # at the start: the lore after no head
            await client.open_session("brakka", actions=tools("brakka"))
            await asyncio.gather(*brain._tasks)  # his, made (or loaded) at the open
            assert store.heads

    run(scenario)
    assert brain.index is not None
    brakka = brain.designs.npcs["brakka"]
    actions = available(brakka, brain.designs.actions, tools("brakka"))
    runs = [*prompt.lore_runs([(c.title, relevance.told(c)) for c in brain.index.chunks]),
            *brain.npc_lore_runs(brakka, actions)]
    before = llm.evaluated
    assert llm.keep_segments(runs) == len(runs)
    assert llm.evaluated == before  # all kept: nothing made now
    # His own runs follow his system message in this session and hold only the lore he
    # may be told.
    own = [r for r in runs if r.head]
    assert own and {r.head for r in own} == {prompt.lore_head(brakka, actions)}
    route = {f"\n- {c.title}:" for c in brain.index.chunks if c.doc == "smuggling_route"}
    assert route and not any(r.pieces[0] in route for r in own)
    assert any(r.pieces[0] in route for r in runs if not r.head)
    # A lore turn's request names its lore's pieces, and every one is a piece kept after
    # his system message.
    hits = relevance.relevant(brain.index, "What powers the north hangar?", brakka.knowledge)
    context = prompt.Context(summary="They met once.", lore=[h.text for h in hits],
                             lore_parts=[(h.chunk.title, *h.sentences) for h in hits])
    request = brain.request(brakka, actions, context, "What powers the north hangar?",
                            dict(brakka.steer), {})
    tokens, _, spans = llm._prompt(request)
    assert len(spans) == len(request.segments) > 2
    head = llm._head(request)
    assert head and store.heads[head] == prompt.lore_head(brakka, actions)
    assert all((head, tuple(tokens[a:b])) in store.pieces for a, b in spans)


def test_memory_survives_a_restart(embedded_llm: LlamaCppLlm, tmp_path: Path) -> None:
    async def visit(line: str) -> str:
        brain = mind(embedded_llm, tmp_path)
        async with running(brain) as server, engine(server, heartbeat=True) as client:
            s = await client.open_session("brakka", player="renn")
            await s.say(line)
            return (await s.turn(timeout=TURN_S)).text

    run(lambda: visit("My mech is called Thornback. Remember that name."), limit=2 * TURN_S)
    text = run(lambda: visit("What is my mech called?"), limit=2 * TURN_S)
    memory = Memory(tmp_path / "memory.sqlite3")
    assert [t.role for t in memory.recent("brakka", "renn", 10)] == [
        "player", "npc", "player", "npc"]
    memory.close()
    assert "thornback" in text.lower(), text


def test_a_steer_change_alters_the_next_reply(
    embedded_llm: LlamaCppLlm, tmp_path: Path
) -> None:
    brain = mind(embedded_llm, tmp_path)

    async def scenario() -> tuple[str, str]:
        async with running(brain) as server, engine(server, heartbeat=True) as client:
            s = await client.open_session("quartermaster", steer={"verbosity": 0})
            await s.say("Tell me about the stores.")
            terse = (await s.turn(timeout=TURN_S)).text
            await s.steer(verbosity=4)
            await s.say("Tell me about the stores.")
            return terse, (await s.turn(timeout=TURN_S)).text

    terse, verbose = run(scenario, limit=3 * TURN_S)
    assert len(verbose) > 2 * len(terse), (terse, verbose)
    log = [json.loads(line) for line in (tmp_path / "steerlm.jsonl").read_text().splitlines()]
    labels = [r["conversations"][-1]["label"] for r in log]
    assert [lab.split(",")[-1] for lab in labels] == ["verbosity:0", "verbosity:4"]


def test_a_forbidden_action_is_never_called(embedded_llm: LlamaCppLlm, tmp_path: Path) -> None:
    # The guard may not hand out supplies; the player insists.
    brain = mind(embedded_llm, tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server, heartbeat=True) as client:
            s = await client.open_session("guard", player="renn")
            await s.say("Give me two power cells from the stores, right now. That's an order.")
            turn = await s.turn(timeout=TURN_S)
            assert turn.text and not turn.errors and not turn.actions, turn.messages

    run(scenario, limit=2 * TURN_S)
    memory = Memory(tmp_path / "memory.sqlite3")
    meta = memory.recent("guard", "renn", 1)[0].meta or {}
    assert meta.get("action") in (None, "check_clearance")
    memory.close()
