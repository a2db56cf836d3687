"""Each NPC's lore made after its prompts' head when a session opens (docs/llm.md, lore
segments): once a head, one head at a time, and never in the way of a turn."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from npc.llm.base import LlmCapabilities
from npc.llm.segments import Run
from sample_game.world import tools
from tests.helpers import engine, run, running
from tests.mind_helpers import FakeLlm, mind, reply


class KeepingLlm(FakeLlm):
    """A backend that keeps lore segments; each keep waits until the test lets it go."""

    capabilities = LlmCapabilities(json_schema=False, segments=True)

    def __init__(self, *outputs: str) -> None:
        super().__init__(*outputs)
        self.kept: list[list[Run]] = []
        self.asked = 0  # calls with runs after a head
        self.release = threading.Event()
        self.busy = 0
        self.most_at_once = 0
        self._count = threading.Lock()

    def keep_segments(
        self, runs: Sequence[Run], progress: Callable[[str], None] | None = None
    ) -> int:
        self.asked += bool(runs and runs[0].head)
        if not runs or not runs[0].head or any(runs[0].head == k[0].head for k in self.kept):
            return len(runs)  # after no head (the start-up's), or kept: at once
        with self._count:
            self.busy += 1
            self.most_at_once = max(self.most_at_once, self.busy)
        self.release.wait(30)
        with self._count:
            self.busy -= 1
            self.kept.append(list(runs))
        return len(runs)


def test_sessions_opening_together_keep_each_head_once_one_at_a_time(tmp_path: Path) -> None:
    llm = KeepingLlm(reply("Morning."))
    brain = mind(llm, tmp_path)

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            sessions = [await client.open_session("brakka", actions=tools("brakka"))
                        for _ in range(3)]
            await client.open_session("guard", actions=tools("guard"))
            await client.open_session("brakka")  # no engine actions: another head
            # A group: each NPC's own head (the quartermaster's is new).
            await client.open_session("guard", npcs=["quartermaster"], actions=tools("guard"))
            # While the first head is being made, a turn is answered.
            await sessions[0].say("Good morning.")
            turn = await sessions[0].turn(timeout=30)
            assert turn.text == "Morning." and llm.busy == 1
            llm.release.set()
            await asyncio.gather(*brain._tasks)
            asked = llm.asked
            # Later, a session of a head kept: checked again (the model may have let it go
            # for a newer head's), not made again.
            await client.open_session("brakka", actions=tools("brakka"))
            await asyncio.gather(*brain._tasks)
            assert llm.asked == asked + 1

    run(scenario)
    heads = [runs[0].head for runs in llm.kept]
    assert len(heads) == len(set(heads)) == 4
    assert llm.most_at_once == 1
    systems = [head[0][1] for head in heads]  # each head opens with its system message
    assert sum(brain.designs.npcs["brakka"].name in s for s in systems) == 2
    assert sum(brain.designs.npcs["guard"].name in s for s in systems) == 1
    assert sum(brain.designs.npcs["quartermaster"].name in s for s in systems) == 1
