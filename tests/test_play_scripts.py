"""Scripted play of the hangar's behaviour scripts (sample_game/scripts/hangar.py).

Real models throughout, as in tests/test_play.py: the world's events reach the brain as
`game-event` messages from the game's tick, the NPCs' scripted lines are spoken by piper
with face frames, the player's spoken line is heard by Silero VAD and Whisper. The checks
are on who speaks, why (turn-start's cause) and what the scripts promise (fixed lines,
once, cooldowns, memory), not on the model's wording.
"""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path
from typing import Any

import pytest

from bridge.messages import Error
from npc.ears import Ears
from npc.llm.llama import LlamaCppLlm
from npc.memory import Memory
from npc.script.api import collecting
from npc.script.loader import ScriptOptions, Scripts
from npc.tts.base import Tts
from plugin_stubs.client import Session
from plugin_stubs.playback import Turn
from sample_game import HERE
from tests import test_hearing
from tests.helpers import engine, run, running
from tests.script_helpers import until_turn, write_script
from tests.test_play import TURN_S, Hangar

ears = test_hearing.ears
SECRET = ("Keep your voice down, kid. The Old Lantern's shielding cracked last month. "
          "I patch it every night, and the Dock Authority doesn't know.")
QUIET_S = 3.0  # no turn in this long: the script did not speak


def hangar_script() -> dict[str, Any]:
    """The names sample_game/scripts/hangar.py defines (its decorators need a collector)."""
    with collecting():
        return runpy.run_path(str(HERE / "scripts" / "hangar.py"))


def scripted(hangar: Hangar, folder: Path = HERE / "scripts", timeout_s: float = 2.0) -> Hangar:
    hangar.brain.scripts = Scripts.load(folder, ScriptOptions(timeout_s=timeout_s))
    return hangar


@pytest.fixture
def hangar(embedded_llm: LlamaCppLlm, ears: Ears, piper_tts: Tts, tmp_path: Path) -> Hangar:
    return scripted(Hangar(embedded_llm, ears, piper_tts, tmp_path))


def spoken(turn: Turn, npc: str, cause: str) -> None:
    """A whole turn of `npc`'s, with its voice and face, started for `cause`."""
    assert turn.end is not None and turn.end.reason == "done", turn.messages
    assert (turn.npc, turn.start and turn.start.cause) == (npc, cause), turn.messages
    assert turn.text and turn.audio and len(turn.face_times), turn.messages


async def nothing_more(s: Session) -> None:
    with pytest.raises(TimeoutError):
        await s.turn(timeout=QUIET_S)


def test_brakka_greets_a_pilot_walking_into_the_bay_once_per_cooldown(hangar: Hangar) -> None:
    greetings = hangar_script()["GREETINGS"]

    async def scenario() -> None:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            hangar.game.engine = client
            s = await hangar.open(client, "brakka", "renn")
            hangar.world.enter("renn", "mech bay")
            await hangar.game.publish()
            turn = await s.turn(timeout=TURN_S)
            spoken(turn, "brakka", "script")
            assert turn.text in greetings
            hangar.world.enter("renn", "workshop")  # not the bay: no greeting
            hangar.world.enter("renn", "mech bay")  # back within the cooldown: none either
            await hangar.game.publish()
            await nothing_more(s)

    run(scenario, limit=2 * TURN_S)


def test_ilse_reacts_when_a_mech_is_damaged(hangar: Hangar) -> None:
    async def scenario() -> None:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            hangar.game.engine = client
            ilse = await hangar.open(client, "quartermaster", "mara")
            brakka = await hangar.open(client, "brakka", "mara")
            hangar.world.damage("mara", "arms", 40)
            await hangar.game.publish()
            turn = await ilse.turn(timeout=TURN_S)
            spoken(turn, "quartermaster", "script")  # a generated line, in her voice
            await nothing_more(brakka)  # Brakka has no script for damage

    run(scenario, limit=3 * TURN_S)


def test_asking_brakka_about_the_reactor_tells_the_secret_once(hangar: Hangar) -> None:
    async def scenario() -> None:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            s = await hangar.open(client, "brakka", "dax")
            turn = await hangar.speak(s, "What's wrong with the reactor?")
            assert "reactor" in turn.transcript.lower(), turn.transcript
            spoken(turn, "brakka", "player")
            assert turn.text == SECRET
            assert [e.emotion for e in turn.emotions] == ["fear"]
            await s.say("Tell me about the reactor.")  # the goal fired once: a plain answer
            again = await s.turn(timeout=TURN_S)
            spoken(again, "brakka", "player")
            assert again.text != SECRET

    run(scenario, limit=3 * TURN_S)
    memory = Memory(hangar.brain.memory.path)
    try:
        notes = [t.text for t in memory.recent("brakka", "dax", 20)]
        assert any("shielding is cracked" in n for n in notes), notes
        assert memory.relationship("brakka", "dax").get("trust") == 1
    finally:
        memory.close()


def test_brakka_and_ilse_banter_when_the_bay_is_quiet(hangar: Hangar, tmp_path: Path) -> None:
    # The hangar's own script, its 30 s of quiet shortened so the test need not wait.
    folder = tmp_path / "scripts"
    folder.mkdir()
    script = (HERE / "scripts" / "hangar.py").read_text(encoding="utf-8")
    assert "Idle(after_s=30)" in script
    (folder / "hangar.py").write_text(script.replace("Idle(after_s=30)", "Idle(after_s=1)"))
    scripted(hangar, folder)

    async def scenario() -> list[Turn]:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            s = await hangar.open(client, "brakka", "renn", npcs=["quartermaster"])
            turns = []
            while True:
                try:
                    turns.append(await s.turn(timeout=TURN_S if not turns else 45.0))
                except TimeoutError:
                    return turns
                if len(turns) > 4:  # the script asks for 4 lines
                    return turns

    turns = run(scenario, limit=8 * TURN_S)
    assert 2 <= len(turns) <= 4, [(t.npc, t.text) for t in turns]
    assert [t.npc for t in turns] == ["brakka", "quartermaster", "brakka", "quartermaster"][
        : len(turns)
    ]
    for t in turns:
        spoken(t, t.npc, "banter")


BROKEN = """
import time

@before_turn(npc="brakka")
def shaky(npc: Npc, turn: Turn) -> None:
    raise KeyError("the shift roster")

@on_event("mech-damaged", npc="brakka")
def stuck(npc: Npc, event: Event) -> None:
    time.sleep(3)
"""


def test_broken_hooks_are_reported_and_brakka_still_answers(
    hangar: Hangar, tmp_path: Path
) -> None:
    # The hangar's own scripts plus a file a designer got wrong: a hook that raises before
    # every turn of Brakka's and one that sleeps past the 1 s limit on an event.
    folder = tmp_path / "scripts"
    folder.mkdir()
    shutil.copy(HERE / "scripts" / "hangar.py", folder / "hangar.py")
    broken = write_script(folder, BROKEN, "broken.py")
    scripted(hangar, folder, timeout_s=1.0)

    async def scenario() -> None:
        async with running(hangar.brain) as server, engine(server, heartbeat=True) as client:
            hangar.game.engine = client
            s = await hangar.open(client, "brakka", "renn")
            hangar.world.damage("renn", "legs", 10)
            await hangar.game.publish()
            late = await s.next(timeout=TURN_S)
            assert isinstance(late, Error) and late.code == "script-error", late
            assert late.reason.startswith(f"{broken}:9: stuck ran past the 1 s limit"), late
            await s.say("Can you look at my legs?")
            turn, errors = await until_turn(s, TURN_S)
            assert [(e.code, e.stage) for e in errors] == [("script-error", "script")]
            assert errors[0].reason.startswith(f"{broken}:7: shaky: KeyError"), errors[0]
            spoken(turn, "brakka", "player")  # the model answered as if the hook were not there

    run(scenario, limit=3 * TURN_S)
