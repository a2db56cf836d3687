"""Answering ahead (`[brain] speculate = true`): the reply starts at the player's pause.

Through the bridge with the real ears (Silero VAD, Whisper) and piper, on a scripted
model: a spoken turn takes over the generation begun at the pause (one generation, begun
before the end of turn); a player who goes on after a pause gets one turn, for the whole
line, and the guess made on its first half is never said.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bridge.messages import DialogueFinal, TurnEnd, TurnStart
from npc.ears import Ears
from npc.llm.base import LlmRequest
from npc.tts.base import Clip, Tts, Voice
from plugin_stubs.wav import Pcm
from tests import test_hearing
from tests.helpers import engine, run, running
from tests.mind_helpers import FakeLlm, reply
from tests.script_helpers import scripted
from tests.test_hearing import finals, load, until
from tests.test_script_hooks import FACTS
from tests.test_speculate import FakeWarmLlm, speculating

ears = test_hearing.ears


def heard_line(request: LlmRequest) -> str:
    """The player's line in a turn's prompt (after the notes and lore)."""
    return request.messages[-1].content.rsplit("says:", 1)[-1].lower()


class Recording(Tts):
    """A TTS that notes each text it is asked to speak."""

    def __init__(self, inner: Tts) -> None:
        self.inner, self.name = inner, inner.name
        self.asked: list[str] = []

    def voices(self) -> list[str]:
        return self.inner.voices()

    def synthesize(self, text: str, voice: Voice) -> Iterator[Clip]:
        self.asked.append(text)
        return self.inner.synthesize(text, voice)


def test_a_spoken_turn_takes_over_the_generation_begun_at_the_pause(
    piper_tts: Tts, ears: Ears, tmp_path: Path
) -> None:
    llm = FakeWarmLlm(reply("North hangar, past the fuel lines."), reply("Anything else?"))
    tts = Recording(piper_tts)

    async def scenario() -> None:
        async with running(speculating(llm, tts, ears, tmp_path)) as server, engine(
            server
        ) as client:
            s = await client.open_session("quartermaster")
            await s.stream(load("quartermaster"), realtime=True, end=False)
            msgs = await until(s, TurnEnd, 30.0)
            end = msgs[-1]
            assert isinstance(end, TurnEnd) and end.reason == "done", msgs
            said = [m.text for m in msgs if isinstance(m, DialogueFinal)]
            assert said == ["North hangar, past the fuel lines."]
            marks = end.latency_ms
            # The generation began at the pause, before the hangover confirmed the turn,
            # and so did the voice on its first clause.
            assert "ahead" in marks and marks["ahead"] < marks["end_of_turn"], marks
            assert marks["ahead"] < marks["voiced"] < marks["end_of_turn"], marks

    run(scenario)
    turns = [r for r in llm.requests if "say" in (r.schema or {}).get("properties", {})]
    assert len(turns) == 1, [r.messages[-1].content for r in turns]  # not generated twice
    assert "quartermaster" in heard_line(turns[0])
    # Its first clause was synthesised in the hangover, once: the turn sent those clips.
    assert tts.asked.count("North hangar,") == 1, tts.asked


def test_a_player_who_goes_on_after_a_pause_gets_one_turn_for_the_whole_line(
    piper_tts: Tts, ears: Ears, tmp_path: Path
) -> None:
    llm = FakeWarmLlm(reply("Red it is."), reply("The quartermaster is on deck 3."))
    # "Paint my mech red." then, after a pause shorter than the hangover (about 0.4 s of
    # silence in all, against 0.48 s), "Where can I find the quartermaster?"
    first, second = load("paint_red", silence_s=0.18), load("quartermaster")
    line = Pcm(first.data + second.data, first.sample_rate)

    async def scenario() -> None:
        async with running(speculating(llm, piper_tts, ears, tmp_path)) as server, engine(
            server
        ) as client:
            s = await client.open_session("quartermaster")
            await s.stream(line, realtime=True, end=False)
            msgs = await until(s, TurnEnd, 30.0)
            assert sum(isinstance(m, TurnStart) for m in msgs) == 1, msgs
            heard = finals(msgs)
            assert len(heard) == 1 and "quartermaster" in heard[0].text.lower(), heard
            assert "red" in heard[0].text.lower(), heard  # both halves, one turn
            said.extend(m.text for m in msgs if isinstance(m, DialogueFinal))

    said: list[str] = []
    run(scenario)
    turns = [r for r in llm.requests if "say" in (r.schema or {}).get("properties", {})]
    # The turn's own request is for the whole line; a guess on the first half, if the
    # pause was long enough for one, was the only other generation, and was cancelled.
    assert "quartermaster" in heard_line(turns[-1])
    assert len(turns) <= 2
    if len(turns) == 2:
        assert "red" in heard_line(turns[0]) and "quartermaster" not in heard_line(turns[0])
        assert said == ["The quartermaster is on deck 3."]  # the guess's line never said
    else:
        assert said == ["Red it is."]


def test_no_turn_is_begun_ahead_where_a_script_may_change_it(tmp_path: Path) -> None:
    brain = scripted(FakeLlm(reply("Hm.")), tmp_path, FACTS)  # a before_turn hook for brakka

    async def scenario() -> None:
        async with running(brain) as server, engine(server) as client:
            await client.open_session("brakka")
            await client.open_session("quartermaster")
            by_npc = {c.npc_id: c for c in brain.conversations}
            brakka, quartermaster = by_npc["brakka"].scripts, by_npc["quartermaster"].scripts
            assert brakka is not None and quartermaster is not None
            assert await brakka.plain("brakka", "how is that thing doing?") is None
            plan = await quartermaster.plain("quartermaster", "how is that thing doing?")
            assert plan is not None and plan.turn.text == "how is that thing doing?"

    run(scenario)
