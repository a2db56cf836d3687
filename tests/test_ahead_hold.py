"""The reply begun at the pause holds the model for its first clause's clip, at once.

A voice that synthesises the first clause clears the guess's `go`; the generation must
then stop before the very next step, or that step and the clip share the CPU (in bench
e2e the first clip took 100-200 ms beside the model's step against 35-55 ms alone). Both
consumers are checked: `speak_first` in the hangover, and the turn's voice after `take`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

from npc.mind.ahead import _follow, _Guess
from npc.tts.base import Voice

# The reply as the model writes it: its first clause ("Good morning,") ends on piece 3.
PIECES = ['{"action": {"name": "none"}, "say": "', "Good", " morning", ",", " how", " is", " it"]
CLAUSE_ENDS = 4  # pieces computed when the first clause is complete


class Model:
    """Writes PIECES, noting how many it has computed (a step = computing a piece)."""

    def __init__(self) -> None:
        self.computed = 0

    def stream_with_retries(self, request: Any, cancel: threading.Event) -> Iterator[str]:
        for piece in PIECES:
            if cancel.is_set():
                return
            self.computed += 1
            yield piece


class Clips:
    """EarlyClips' `prepare`: notes how far the model got while the clip is made."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.during: list[int] = []
        self.text = ""

    def prepare(self, text: str, voice: Voice, rate: int) -> asyncio.Future[None]:
        self.text = text
        return asyncio.ensure_future(self._make())

    async def _make(self) -> None:
        for _ in range(4):  # 0.2 s of synthesis, looking at the model all along
            self.during.append(self.model.computed)
            await asyncio.sleep(0.05)


def _produce(guess: _Guess, model: Model) -> threading.Thread:
    worker = threading.Thread(
        target=guess.produce, args=(None, model, asyncio.get_running_loop()), daemon=True
    )
    worker.start()
    return worker


def test_the_clip_made_in_the_hangover_holds_the_next_step() -> None:
    async def main() -> None:
        model, guess = Model(), _Guess("Morning?", "p")
        clips = Clips(model)
        guess.watch(True)  # as `Ahead._start` does before the generation starts
        worker = _produce(guess, model)
        voice = asyncio.ensure_future(guess.speak_first(clips, Voice(), 22050))  # type: ignore[arg-type]
        await asyncio.wait_for(voice, 5)
        assert clips.text == "Good morning,"
        assert clips.during == [CLAUSE_ENDS] * 4  # not one step more while it was made
        await asyncio.to_thread(worker.join, 5)
        assert model.computed == len(PIECES)  # and the rest once it was done
        assert not guess.watched  # nobody looks at the pieces now: the model runs free

    asyncio.run(main())


def test_the_turn_that_takes_a_guess_holds_the_next_step_for_its_first_clause() -> None:
    async def main() -> None:
        model, guess = Model(), _Guess("Morning?", "p")
        go = threading.Event()
        go.set()
        guess.go, guess.taken = go, True
        guess.watch(True)  # as `Ahead.take` does for a turn with a voice
        worker = _produce(guess, model)
        seen, held = 0, []
        async for _piece in _follow(guess, stall_s=5):
            seen += 1
            if seen == CLAUSE_ENDS:  # the voice's first clause: it holds the model
                go.clear()
                for _ in range(4):
                    held.append(model.computed)
                    await asyncio.sleep(0.05)
                go.set()
        assert held == [CLAUSE_ENDS] * 4
        assert seen == len(PIECES)
        await asyncio.to_thread(worker.join, 5)

    asyncio.run(main())


def test_a_guess_nobody_watches_runs_to_its_end() -> None:
    async def main() -> None:
        model, guess = Model(), _Guess("Morning?", "p")
        worker = _produce(guess, model)
        await asyncio.to_thread(worker.join, 5)
        assert not worker.is_alive()
        assert guess.pieces == PIECES and guess.ended

    asyncio.run(main())
