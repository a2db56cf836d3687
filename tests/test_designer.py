"""Designer files: NPC TOML checked with file and line, and live reload keeping the last good."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bridge.errors import ConfigError, DesignerError
from npc import steer
from npc.designer import Designs, Example, Reload, load_npc, load_npcs, run_action
from npc.designer.persona import LINE_DEFAULTS, check_voice
from npc.tts import Voice, build_tts
from sample_game import NPCS_DIR

BRAKKA = """\
# Hangar Bay 7's mechanic.
id = "brakka"
name = "Brakka"
voice = "en_US-ryan-low"
persona = '''
You are Brakka, the gruff mech mechanic of Hangar Bay 7 on Port Halcyon.
'''
knowledge = ["common", "hangar", "mechs"]
actions = ["paint_mech"]
interruptible = false

[steer]
verbosity = 1
humor = 2

[lines]
action_failed = "Blast. The sprayer's jammed."

[[examples]]
player = "Paint my mech red."
npc = "Red it is. Give me an hour."
action = "paint_mech"
arguments = { color = "red" }

[[examples]]
player = "Seen the quartermaster?"
npc = "Stores, north end. Don't touch anything."
"""

ACTIONS = """\
from typing import Literal

from npc.designer import ActionContext, action


@action
def paint_mech(ctx: ActionContext, color: Literal["red", "blue"]) -> str:
    '''Repaint the player's mech.'''
    return "{greeting} " + color
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_an_npc_file_with_every_key(tmp_path: Path) -> None:
    npc = load_npc(write(tmp_path / "brakka.toml", BRAKKA))
    assert (npc.id, npc.name, npc.voice) == ("brakka", "Brakka", "en_US-ryan-low")
    assert npc.tts == Voice("en_US-ryan-low")  # a plain name: the voice's own speed and pitch
    assert npc.persona.startswith("You are Brakka") and not npc.persona.endswith("\n")
    assert npc.knowledge == ("common", "hangar", "mechs")
    assert npc.actions == ("paint_mech",)
    assert npc.interruptible is False
    assert npc.steer == {**steer.DEFAULTS, "verbosity": 1, "humor": 2}
    assert list(npc.steer) == list(steer.ATTRIBUTES)
    assert npc.lines == {**LINE_DEFAULTS, "action_failed": "Blast. The sprayer's jammed."}
    assert npc.examples == (
        Example(
            "Paint my mech red.", "Red it is. Give me an hour.", "paint_mech", {"color": "red"}
        ),
        Example("Seen the quartermaster?", "Stores, north end. Don't touch anything."),
    )
    assert npc.path == tmp_path / "brakka.toml"


def test_a_minimal_npc_file_gets_defaults(tmp_path: Path) -> None:
    npc = load_npc(write(tmp_path / "g.toml", 'id = "guard"\nname = "Sgt Okoro"\npersona = "Sec."'))
    assert (npc.voice, npc.interruptible, npc.knowledge, npc.actions) == ("", True, (), ())
    assert npc.tts == Voice()
    assert npc.steer == steer.DEFAULTS
    assert npc.lines == LINE_DEFAULTS
    assert npc.examples == ()


RYAN = 'voice = "en_US-ryan-low"'  # line 4 of BRAKKA


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("humor = 2", "humor = 2\nhumor = 3"), 15, "TOML syntax: Cannot overwrite a value"),
        ((RYAN, "voice = "), 4, "TOML syntax: Invalid value"),
        (("persona = '''", "persna = '''"), 5, "unknown key 'persna' (did you mean 'persona'?)"),
        (("verbosity = 1", "verbosty = 1"), 13, "unknown key 'verbosty' (did you mean 'verbosity'"),
        (("humor = 2", "humor = 7"), 14, "steer attribute 'humor' must be 0-4, got 7"),
        (("humor = 2", 'humor = "lots"'), 14, "'humor' must be an integer 0-4"),
        (('knowledge = ["common", "hangar", "mechs"]', 'knowledge = "hangar"'), 8, "list of str"),
        (("interruptible = false", 'interruptible = "no"'), 10, "true or false, got a string"),
        ((RYAN, "voice = { speed = 3 }"), 4, "voice `speed` must be a number 0.5 to 2, got 3"),
        ((RYAN, 'voice = { pitch = "low" }'), 4, "`pitch` must be a number -12 to 12, got a str"),
        ((RYAN, "voice = { pitch = 12.5 }"), 4, "`pitch` must be a number -12 to 12, got 12.5"),
        ((RYAN, "voice = { speed = true }"), 4, "got true/false"),
        ((RYAN, "voice = { sped = 1 }"), 4, "unknown key 'sped' (did you mean 'speed'?)"),
        ((RYAN, "voice = { name = 4 }"), 4, "`name` must be a string, got an integer"),
        ((RYAN, "voice = 7"), 4, "`voice` must be a name"),
        (('id = "brakka"', 'id = "brakka the great"'), 2, "id 'brakka the great' must"),
        (('name = "Brakka"', "name = 7"), 3, "`name` must be a string, got an integer"),
        (('action_failed = "', 'action_faild = "'), 17, "did you mean 'action_failed'"),
        (('npc = "Stores', 'reply = "Stores'), 27, "unknown key 'reply'; known: player, npc"),
        (('npc = "Stores, north end. Don\'t touch anything."\n', ""), 25, "example 2 is missing"),
        (("arguments = { color", "argumnts = { color"), 23, "did you mean 'arguments'"),
        (('name = "Brakka"\n', ""), None, 'missing `name = "..."`'),
    ],
)
def test_a_broken_npc_file_names_the_line_and_why(
    tmp_path: Path, change: tuple[str, str], line: int | None, reason: str
) -> None:
    assert change[0] in BRAKKA
    path = write(tmp_path / "brakka.toml", BRAKKA.replace(change[0], change[1], 1))
    with pytest.raises(DesignerError) as caught:
        load_npc(path)
    assert reason in caught.value.why
    assert (caught.value.path, caught.value.line) == (str(path), line)
    where = f"{path}:{line}" if line else str(path)
    assert str(caught.value).startswith(f"{where}: ")


VOICE_TABLE = """\
id = "guard"
name = "Sergeant Okoro"
persona = "Dock security."

[voice]
name = "en-gb"
speed = 0.9
pitch = -3.5
"""


def test_a_voice_table_sets_name_speed_and_pitch(tmp_path: Path) -> None:
    npc = load_npc(write(tmp_path / "guard.toml", VOICE_TABLE))
    assert npc.tts == Voice("en-gb", 0.9, -3.5) and npc.voice == "en-gb"
    inline = VOICE_TABLE[: VOICE_TABLE.index("[voice]")] + "voice = { speed = 1.25 }\n"
    assert load_npc(write(tmp_path / "inline.toml", inline)).tts == Voice("", 1.25, 0.0)
    voices = {n.id: n.tts for n in load_npcs(NPCS_DIR)}  # the sample game's: one voice, shifted
    assert voices["brakka"] == Voice("joe-us")
    assert voices["quartermaster"] == Voice("joe-us", 1.05, 3.0)
    with pytest.raises(DesignerError, match=r"guard\.toml:7: voice `speed` must be a number"):
        load_npc(write(tmp_path / "guard.toml", VOICE_TABLE.replace("0.9", "2.5")))


def test_a_voice_the_tts_backend_lacks_is_a_designer_error(tmp_path: Path) -> None:
    try:
        espeak = build_tts("espeak")
    except ConfigError as e:
        pytest.skip(f"espeakng-loader is not installed: {e.reason}")
    path = write(tmp_path / "guard.toml", VOICE_TABLE)
    check_voice(load_npc(path), VOICE_TABLE, espeak.check)  # en-gb: espeak has it
    text = VOICE_TABLE.replace('"en-gb"', '"klingon"')
    with pytest.raises(DesignerError, match=r"guard\.toml:6: tts espeak: no voice 'klingon'"):
        check_voice(load_npc(write(path, text)), text, espeak.check)


def test_a_truncated_file_points_at_its_last_line(tmp_path: Path) -> None:
    path = write(tmp_path / "b.toml", 'id = "b"\nname = "B"\npersona = """never closed\n')
    with pytest.raises(DesignerError, match="TOML syntax") as caught:
        load_npc(path)
    assert caught.value.line == 3


def test_load_npcs_sorts_by_file_and_refuses_one_id_twice(tmp_path: Path) -> None:
    write(tmp_path / "b_quartermaster.toml", 'id = "quartermaster"\nname = "Ilse"\npersona = "QM"')
    write(tmp_path / "a_brakka.toml", BRAKKA)
    write(tmp_path / "notes.txt", "not an NPC")
    write(tmp_path / "_template.toml", "id = ")  # skipped: starts with "_"
    assert [n.id for n in load_npcs(tmp_path)] == ["brakka", "quartermaster"]
    write(tmp_path / "c_copy.toml", '# a copy\nid = "brakka"\nname = "Brakka II"\npersona = "x"')
    with pytest.raises(DesignerError, match="id 'brakka' is already used by") as caught:
        load_npcs(tmp_path)
    assert caught.value.line == 2 and caught.value.path.endswith("c_copy.toml")
    with pytest.raises(DesignerError, match="no NPC files"):
        load_npcs(write(tmp_path / "empty" / "readme.txt", "").parent)
    with pytest.raises(DesignerError, match="does not exist"):
        load_npcs(tmp_path / "nowhere")


def game(tmp_path: Path) -> tuple[Path, Path, Path]:
    npcs, actions, lore = tmp_path / "npcs", tmp_path / "actions", tmp_path / "lore"
    write(npcs / "brakka.toml", BRAKKA)
    write(npcs / "guard.toml", 'id = "guard"\nname = "Sergeant Okoro"\npersona = "Dock security."')
    write(actions / "hangar.py", ACTIONS.replace("{greeting}", "painted"))
    return npcs, actions, lore


def test_designs_load_everything_and_refuse_a_broken_start(tmp_path: Path) -> None:
    npcs, actions, lore = game(tmp_path)
    designs = Designs.load(npcs, actions, lore)  # the lore folder is absent: no lore
    assert sorted(designs.npcs) == ["brakka", "guard"]
    assert sorted(designs.actions) == ["paint_mech"]
    assert designs.lore == []
    write(npcs / "guard.toml", 'id = "guard"\nname = "Okoro"\npersona = "x"\nactions = ["arrest"]')
    with pytest.raises(DesignerError, match="action 'arrest' is not defined") as caught:
        Designs.load(npcs, actions, lore)
    assert caught.value.line == 4
    write(npcs / "guard.toml", "id = ")
    with pytest.raises(DesignerError, match=r"guard\.toml:1: TOML syntax"):
        Designs.load(npcs, actions, lore)


def bump(path: Path, text: str) -> None:
    """Rewrite a file and move its mtime on, as an editor's save does."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    write(path, text)
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def test_a_broken_reload_keeps_the_last_good_version_serving(tmp_path: Path) -> None:
    npcs, actions, lore = game(tmp_path)
    designs = Designs.load(npcs, actions, lore)
    heard: list[Reload] = []
    designs.subscribe(heard.append)
    assert designs.poll() == Reload()  # nothing changed
    assert heard == []

    bump(npcs / "brakka.toml", BRAKKA.replace("humor = 2", "humor = 2\nhumor = 9"))
    result = designs.poll()
    assert result.npcs == () and len(result.errors) == 1
    assert (result.errors[0].path, result.errors[0].line) == (str(npcs / "brakka.toml"), 15)
    assert designs.npcs["brakka"].steer["humor"] == 2  # the last good version still serves
    assert npcs / "brakka.toml" in designs.broken
    assert heard == [result]
    assert designs.poll().errors == ()  # reported once, not on every poll

    bump(npcs / "brakka.toml", BRAKKA.replace("humor = 2", "humor = 3"))
    result = designs.poll()
    assert result.npcs == ("brakka",) and result.errors == ()
    assert designs.npcs["brakka"].steer["humor"] == 3
    assert designs.broken == {}


def test_reload_adds_renames_and_removes_npcs(tmp_path: Path) -> None:
    npcs, actions, lore = game(tmp_path)
    designs = Designs.load(npcs, actions, lore)
    write(npcs / "smuggler.toml", 'id = "smuggler"\nname = "Vex"\npersona = "A smuggler."')
    assert designs.poll().npcs == ("smuggler",)
    bump(npcs / "smuggler.toml", 'id = "vex"\nname = "Vex"\npersona = "A smuggler."')
    result = designs.poll()
    assert (result.npcs, result.removed_npcs) == (("vex",), ("smuggler",))
    (npcs / "guard.toml").unlink()
    assert designs.poll().removed_npcs == ("guard",)
    assert sorted(designs.npcs) == ["brakka", "vex"]
    write(npcs / "twin.toml", 'id = "vex"\nname = "Vex II"\npersona = "A copy."')
    result = designs.poll()
    assert "already used" in result.errors[0].why and designs.npcs["vex"].name == "Vex"


def test_a_changed_action_module_replaces_its_functions(tmp_path: Path) -> None:
    npcs, actions, lore = game(tmp_path)
    designs = Designs.load(npcs, actions, lore)
    spec = designs.actions["paint_mech"]
    assert asyncio.run(run_action(spec, {"color": "red"}, FakeContext())) == "painted red"

    bump(actions / "hangar.py", ACTIONS.replace("{greeting}", "repainted"))
    assert designs.poll().actions == ("paint_mech",)
    new = designs.actions["paint_mech"]
    assert asyncio.run(run_action(new, {"color": "red"}, FakeContext())) == "repainted red"

    bump(actions / "hangar.py", ACTIONS.replace("return", "retur n"))
    result = designs.poll()
    assert result.errors[0].line == 9 and "syntax error" in result.errors[0].why
    assert designs.actions["paint_mech"] is new  # the last good module keeps serving

    bump(actions / "hangar.py", "x = 1\n")  # the action went away: Brakka still names it
    result = designs.poll()
    assert result.removed_actions == ("paint_mech",)
    assert "'paint_mech' is not defined" in result.errors[0].why
    assert "brakka" in designs.npcs


def test_an_action_clash_loads_once_the_other_file_gives_way(tmp_path: Path) -> None:
    npcs, actions, lore = game(tmp_path)
    designs = Designs.load(npcs, actions, lore)
    write(actions / "shop.py", ACTIONS.replace("{greeting}", "shop painted"))
    result = designs.poll()
    assert "already defined" in result.errors[0].why
    assert designs.actions["paint_mech"].source.endswith("hangar.py:6")
    (actions / "hangar.py").unlink()
    result = designs.poll()
    assert result.errors == () and result.actions == ("paint_mech",)
    assert designs.actions["paint_mech"].source.endswith("shop.py:6")


REACTOR = "---\ntitle: The north hangar reactor\ntags: [hangar, reactor]\n---\n{body}\n"


def test_lore_reloads_file_by_file(tmp_path: Path) -> None:
    npcs, actions, lore = game(tmp_path)
    write(lore / "reactor.md", REACTOR.format(body="It runs hot."))
    write(lore / "stores.md", "---\ntitle: Stores\ntags: [supplies]\n---\nIlse runs them.\n")
    designs = Designs.load(npcs, actions, lore)
    assert [doc.title for doc in designs.lore] == ["The north hangar reactor", "Stores"]
    assert designs.poll().lore is False

    bump(lore / "reactor.md", REACTOR.format(body="It runs hot.").replace("tags:", "tagz:"))
    bump(lore / "stores.md", "---\ntitle: Stores\ntags: [supplies]\n---\nIlse runs them well.\n")
    result = designs.poll()
    assert result.lore is True  # the good file went in
    assert (result.errors[0].path, result.errors[0].line) == (str(lore / "reactor.md"), 3)
    assert [doc.text for doc in designs.lore] == ["It runs hot.", "Ilse runs them well."]

    bump(lore / "reactor.md", REACTOR.format(body="It runs cold now."))
    (lore / "stores.md").unlink()
    result = designs.poll()
    assert result.lore is True and result.errors == ()
    assert [doc.text for doc in designs.lore] == ["It runs cold now."]
    write(lore / "broken.md", "no front matter")
    with pytest.raises(DesignerError, match="front matter") as caught:
        Designs.load(npcs, actions, lore)
    assert caught.value.line == 1


def test_watch_polls_in_the_background_and_calls_back(tmp_path: Path) -> None:
    npcs, actions, lore = game(tmp_path)
    designs = Designs.load(npcs, actions, lore)

    async def scenario() -> Reload:
        changed: asyncio.Queue[Reload] = asyncio.Queue()

        async def on_change(result: Reload) -> None:
            await changed.put(result)

        task = asyncio.create_task(designs.watch(0.05, on_change))
        try:
            await asyncio.sleep(0.1)
            write(npcs / "smuggler.toml", 'id = "smuggler"\nname = "Vex"\npersona = "Smuggler."')
            return await asyncio.wait_for(changed.get(), 5.0)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert asyncio.run(scenario()).npcs == ("smuggler",)
    assert "smuggler" in designs.npcs


class FakeContext:
    """An ActionContext that does nothing."""

    npc, player, session = "brakka", "p1", "s1"

    def relationship(self) -> dict[str, int]:
        return {}

    def change_relationship(self, key: str, delta: int) -> int:
        return delta

    def remember(self, text: str) -> None:
        return None


def test_examples_that_call_python_actions_must_fit_their_schema(tmp_path: Path) -> None:
    npcs, actions, lore = game(tmp_path)
    write(npcs / "brakka.toml", BRAKKA.replace('color = "red"', 'color = "pink"'))
    with pytest.raises(DesignerError, match=r'example 1: arguments for .*"pink" is not one') as e:
        Designs.load(npcs, actions, lore)
    assert e.value.line == 23
    write(npcs / "brakka.toml", BRAKKA.replace('actions = ["paint_mech"]', "actions = []"))
    with pytest.raises(DesignerError, match="example 1 calls 'paint_mech', which is not in") as e:
        Designs.load(npcs, actions, lore)
    assert e.value.line == 22
    engine_action = BRAKKA.replace('action = "paint_mech"', 'action = "open_door"')
    write(npcs / "brakka.toml", engine_action)  # an engine's action: checked per session
    assert Designs.load(npcs, actions, lore).npcs["brakka"].examples[0].action == "open_door"
