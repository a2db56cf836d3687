"""Script loading and settings: config keys, startup errors with file:line, the handle's
checks, and the intent threshold on the labelled set of lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.errors import ConfigError, DesignerError, ProtocolError
from npc.factory import build_brain
from npc.mind.brain import MindBrain
from npc.script.api import collecting
from npc.script.intent import sweep
from npc.script.loader import ScriptOptions, Scripts
from npc.script.types import Event, Idle, Intent
from sample_game import HERE
from tests.script_helpers import write_script

INTENTS = Path(__file__).parent / "data" / "intents.json"


def config(tmp_path: Path, **scripts: object) -> dict[str, object]:
    for part in ("npcs", "actions", "lore"):
        shutil.copytree(HERE / part, tmp_path / part)
    return {
        "brain": {"kind": "mind", "scripts_dir": "scripts", "reload_s": 0},
        "speech": {"tts": "none"},
        "scripts": scripts,
    }


def test_the_config_names_the_scripts_folder_and_their_settings(tmp_path: Path) -> None:
    write_script(tmp_path / "scripts", 'goal("hi", when=Event("x"), say="Hi.")\n')
    brain = build_brain(config(tmp_path, timeout_s=0.5, wait_s=3, intent_threshold=0.8),
                        tmp_path)
    assert isinstance(brain, MindBrain) and brain.scripts is not None
    assert brain.scripts.options == ScriptOptions(timeout_s=0.5, wait_s=3.0, intent_threshold=0.8)
    assert [g.name for g in brain.scripts.current.goals] == ["hi"]
    brain.memory.close()
    brain.scripts.close()


@pytest.mark.parametrize(
    ("scripts", "needle"),
    [({"timeout": 1}, "unknown keys: timeout"), ({"wait_s": 0}, "wait_s must be a number > 0"),
     ({"intent_threshold": "high"}, "intent_threshold must be")],
)
def test_bad_script_settings_are_refused(tmp_path: Path, scripts: dict[str, object],
                                         needle: str) -> None:
    write_script(tmp_path / "scripts", "")
    with pytest.raises(ConfigError, match=needle):
        build_brain(config(tmp_path, **scripts), tmp_path)


def test_a_broken_script_at_startup_names_its_file_and_line(tmp_path: Path) -> None:
    path = write_script(tmp_path, 'x = 1\n\ngoal("a", when=Event("e"), say="A.")\n'
                                  'goal("a", when=Event("f"), say="B.")\n')
    with pytest.raises(DesignerError) as raised:
        Scripts.load(tmp_path)
    assert raised.value.line == 5 and "goal 'a' is already defined" in str(raised.value)
    write_script(tmp_path, "\n\n1 / 0\n", name="scene.py")
    with pytest.raises(DesignerError) as raised:
        Scripts.load(tmp_path)
    assert (Path(raised.value.path), raised.value.line) == (path.resolve(), 4)
    assert "ZeroDivisionError" in raised.value.why


def test_triggers_and_decorators_check_what_they_are_given() -> None:
    with pytest.raises(ValueError, match="at least one phrase"):
        Intent()
    with pytest.raises(ValueError, match="after_s"):
        Idle(after_s=0)
    with collecting(), pytest.raises(TypeError, match="when="):
        from npc.script import goal

        goal("x", when="player-entered", say="Hi.")  # type: ignore[arg-type]
    from npc.script import on_event

    with pytest.raises(RuntimeError, match="scripts_dir"):
        on_event("x")(lambda npc, event: None)
    assert Event("x").payload == {}


def test_the_npc_handle_refuses_bad_emotions_and_steering() -> None:
    from npc.script.handle import Npc

    npc = Npc(None, "brakka", "Brakka", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="emotion"):
        npc.say("Hi.", emotion="smug")
    with pytest.raises(ProtocolError, match="humor"):
        npc.steer(humor=7)


def test_the_default_intent_threshold_is_precise_on_the_labelled_lines() -> None:
    rows = {t: (p, r) for t, p, r in sweep(INTENTS)}
    precision, recall = rows[ScriptOptions().intent_threshold]
    assert precision >= 0.9 and recall >= 0.6, (precision, recall)


def test_the_example_in_the_scripting_guide_loads(tmp_path: Path) -> None:
    guide = (Path(__file__).parent.parent / "docs" / "scripting.md").read_text()
    example = guide.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "bay.py").write_text(example)
    scripts = Scripts.load(tmp_path)
    goals = {g.name: g for g in scripts.current.goals}
    assert set(goals) == {"reactor-secret", "hit-reaction", "idle-banter", "discount"}
    assert goals["reactor-secret"].once and not goals["discount"].enabled
    assert [h.kind for h in scripts.current.hooks] == [
        "on_event", "before_turn", "after_turn", "on_event"
    ]
    scripts.close()
