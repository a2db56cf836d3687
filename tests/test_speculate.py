"""Speculative prefill (`[brain] speculate = true`): the prompt is evaluated on partials.

The warm itself on the embedded model (what it leaves for the final line, and its cancel);
then through the bridge on a scripted model with the real ears and piper voice: a spoken
turn warms on its partials before it generates, and barge-in still works with it on.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from llm_cases import BRAKKA

from bridge.messages import Interrupted, TurnEnd
from npc.ears import Ears
from npc.llm.base import ChatMessage, Decoding, LlmRequest, Usage
from npc.llm.llama import LlamaCppLlm
from npc.mind.brain import MindBrain
from npc.speaking import SpeechOptions, Voices
from npc.tts.base import Tts
from tests import test_hearing
from tests.helpers import engine, run, running
from tests.mind_helpers import FakeLlm, mind, reply
from tests.test_hearing import finals, load, until

ears = test_hearing.ears


def line(text: str, usage: Usage | None = None) -> LlmRequest:
    user = ChatMessage("user", f"What you know: the north hangar runs on a fusion reactor.\n\n"
                               f"Player says: {text}")
    return LlmRequest((BRAKKA, user), decoding=Decoding(max_tokens=2, seed=7), usage=usage)


def test_a_warm_on_a_partial_leaves_only_the_rest_of_the_line(
    embedded_llm: LlamaCppLlm,
) -> None:
    embedded_llm.warm(line("Tell me about the"), threading.Event())
    final = line("Tell me about the reactor in the north hangar.", Usage())
    list(embedded_llm.stream_with_retries(final, threading.Event()))
    assert final.usage is not None
    left = final.usage.prompt_tokens - final.usage.cached_tokens
    assert 0 < left <= 16, final.usage  # the line's last words and the template's end


def test_a_cancelled_warm_evaluates_nothing_more(embedded_llm: LlamaCppLlm) -> None:
    cancel = threading.Event()
    cancel.set()
    before = embedded_llm.evaluated
    embedded_llm.warm(line("Something nobody has asked before, about paint."), cancel)
    assert embedded_llm.evaluated == before


class FakeWarmLlm(FakeLlm):
    """FakeLlm that also records each speculative warm (the user line it was for)."""

    def __init__(self, *outputs: str) -> None:
        super().__init__(*outputs)
        self.warmed: list[str] = []
        self.warms: list[LlmRequest] = []
        self.generated_after: list[int] = []  # warms seen when each generation began
        self.events: list[str] = []  # "warm", "turn" or "other" (the regard judgement), in order

    def warm(self, request: LlmRequest, cancel: threading.Event | None = None) -> None:
        if cancel is not None:  # the start-up warm of each NPC's head passes none
            self.warmed.append(request.messages[-1].content)
            self.warms.append(request)
            self.events.append("warm")

    def stream(self, request: LlmRequest, cancel: threading.Event):  # type: ignore[no-untyped-def]
        self.generated_after.append(len(self.warmed))
        turn = "say" in (request.schema or {}).get("properties", {})
        self.events.append("turn" if turn else "other")
        yield from super().stream(request, cancel)


def speculating(llm: FakeLlm, tts: Tts, ears: Ears, state: Path) -> MindBrain:
    brain = mind(llm, state, speculate=True)
    brain.voices = Voices(tts, SpeechOptions())
    brain.ears = ears
    return brain


def test_a_spoken_turn_warms_on_its_partials_before_generating(
    piper_tts: Tts, ears: Ears, tmp_path: Path
) -> None:
    llm = FakeWarmLlm(reply("Two cells and a pump, coming up."))

    async def scenario() -> None:
        async with running(speculating(llm, piper_tts, ears, tmp_path)) as server, engine(
            server
        ) as client:
            s = await client.open_session("quartermaster")
            await s.stream(load("power_cells"), realtime=True, end=False)
            turn = await s.turn(30.0)
            assert turn.end is not None and turn.end.reason == "done", turn.messages

    run(scenario)
    # Warms on partials end with the player's line (the one after the turn, with its reply).
    partials = [w.messages[-1].content for w in llm.warms if w.messages[-1].role == "user"]
    assert partials, "no speculative warm on the partials"
    # Each was for the line as heard so far ("I need two spare...").
    assert all({"need", "two", "spare"} & set(w.lower().split()) for w in partials), partials
    assert llm.generated_after[0] >= 1  # the first warm came before the turn generated


def test_after_a_turn_the_next_prompt_head_is_warmed(
    piper_tts: Tts, ears: Ears, tmp_path: Path
) -> None:
    llm = FakeWarmLlm(reply("Stores open at the second bell."), reply("Anything else?"))

    async def scenario() -> None:
        async with running(speculating(llm, piper_tts, ears, tmp_path)) as server, engine(
            server
        ) as client:
            s = await client.open_session("quartermaster")
            for line in ("When is the stores window open?", "Thanks."):
                await s.say(line)
                turn = await s.turn(30.0)
                assert turn.end is not None and turn.end.reason == "done", turn.messages
                # A player who reads the reply first: the brain's work after the turn
                # (judging the line) is done before the next line, even on a loaded
                # machine (a next line sooner would have it give way to that turn).
                for _ in range(200):
                    if "other" in llm.events:
                        break
                    await asyncio.sleep(0.05)

    run(scenario)
    turns = [r for r in llm.requests if "say" in (r.schema or {}).get("properties", {})]
    assert len(turns) == 2 and llm.warms, (len(turns), llm.warms)  # not regard judgements
    head = llm.warms[0].messages
    # The warm came after turn 1 (it holds turn 1's exchange) and before turn 2, whose
    # prompt starts with exactly those messages, then the start of its last one (how to
    # speak): small talk needs no lore, so turn 2 evaluates its line only.
    assert head[-3].content == "When is the stores window open?"
    assert "Stores open at the second bell." in head[-2].content
    assert head[-1].role == "user" and head[-1].content.startswith("How to speak:")
    assert turns[1].messages[: len(head) - 1] == head[:-1]
    assert len(turns[1].messages) == len(head)
    assert turns[1].messages[-1].content == head[-1].content + "\n\nPlayer says: Thanks."
    # The brain's own work after turn 1 (judging the player's line) waited for the warm.
    after_first = llm.events[llm.events.index("turn") + 1 :]
    assert after_first[0] == "warm" and "other" in after_first, llm.events


def test_a_regard_that_moves_warms_the_head_again(
    piper_tts: Tts, ears: Ears, tmp_path: Path
) -> None:
    # Turn 1, then the regard judgement (the player's line was kind: +5), then turn 2.
    llm = FakeWarmLlm(reply("Glad to help."), '{"feeling": "warmer"}', reply("Anything else?"))

    async def scenario() -> None:
        async with running(speculating(llm, piper_tts, ears, tmp_path)) as server, engine(
            server
        ) as client:
            s = await client.open_session("quartermaster")
            await s.say("Thank you, you are very kind.")
            turn = await s.turn(30.0)
            assert turn.end is not None and turn.end.reason == "done", turn.messages
            for _ in range(200):  # the judgement and the second warm, while the player waits
                if llm.events.count("warm") >= 2:
                    break
                await asyncio.sleep(0.05)
            await s.say("Thanks.")
            turn = await s.turn(30.0)
            assert turn.end is not None and turn.end.reason == "done", turn.messages

    run(scenario)
    # The head warmed after turn 1, the judgement, then the head again with the new feelings.
    first = llm.events.index("turn")
    assert llm.events[first + 1 : first + 4] == ["warm", "other", "warm"], llm.events
    before, after = (w.messages[-1].content for w in llm.warms[:2])
    assert "regard" not in before and "regard +5" in after, (before, after)
    # Turn 2's prompt starts with the second warm: only its line is new.
    turns = [r for r in llm.requests if "say" in (r.schema or {}).get("properties", {})]
    head = llm.warms[1].messages
    assert turns[1].messages[: len(head) - 1] == head[:-1]
    assert turns[1].messages[-1].content.startswith(head[-1].content)


def test_barge_in_still_stops_the_npc_with_speculation_on(
    piper_tts: Tts, ears: Ears, tmp_path: Path
) -> None:
    long_line = reply("Listen close, pilot, because I will only say this once: the north "
                      "hangar runs on a fusion reactor, and nobody touches it but me.")
    llm = FakeWarmLlm(long_line, reply("Fine, fine."))

    async def scenario() -> None:
        async with running(speculating(llm, piper_tts, ears, tmp_path)) as server, engine(
            server
        ) as client:
            s = await client.open_session("brakka")
            await s.say("Tell me about the reactor.")
            first = await until(s, TurnEnd)  # seconds of NPC voice, playing now
            assert first[-1].reason == "done"  # type: ignore[attr-defined]
            await s.stream(load("stop"), end=False)  # the player talks over it
            msgs = await until(s, Interrupted)
            assert msgs[-1].reason == "barge-in"  # type: ignore[attr-defined]
            rest = await until(s, TurnEnd)
            heard = finals(msgs + rest)
            assert heard and "stop" in heard[0].text.lower()
            assert rest[-1].reason == "done"  # type: ignore[attr-defined]

    run(scenario)
