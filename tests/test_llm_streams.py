"""Many streams waiting for one model do not starve the event loop's worker threads.

Found by `npc-bridge bench e2e --sessions 4`: each session's turn waited for the model in
a thread of the loop's default pool, and with a few of them waiting, every other
`to_thread` (lore, memory, the NPC's voice) waited too: 12-16 s to gather a turn's lore
and 30 s from a first clause to its audio.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

from npc.llm.base import Llm, LlmRequest
from tests.helpers import run

STREAMS = 40  # far more than the default pool's threads (min(32, cores + 4))


class FakeBusyLlm(Llm):
    """One model behind a lock, as the embedded one is; the test holds the lock."""

    name = "busy"

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def stream(self, request: LlmRequest, cancel: threading.Event) -> Iterator[str]:
        with self.lock:
            yield "done"


def test_streams_waiting_for_the_model_leave_the_worker_threads_free() -> None:
    llm = FakeBusyLlm()

    async def scenario() -> list[str]:
        async def one() -> str:
            return await llm.complete(LlmRequest(prompt="hi"))

        with llm.lock:  # the model is busy: every stream waits for it
            waiting = [asyncio.ensure_future(one()) for _ in range(STREAMS)]
            await asyncio.sleep(0.2)
            # Other work of the brain still gets a thread at once.
            assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), 5.0) == "free"
        return await asyncio.gather(*waiting)

    assert run(scenario, limit=30) == ["done"] * STREAMS
