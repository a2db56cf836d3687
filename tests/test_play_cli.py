"""`npc-bridge play` as a real process: typed lines in on stdin, the NPC and the world out."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from npc.cli import main
from sample_game import NPCS_DIR
from sample_game.demo import SCRIPT as SCENE
from sample_game.demo import STAGES
from tests.helpers import echo_brain, run, running

BIN = Path(sys.executable).parent / "npc-bridge"
ECHO_HEARING = Path(__file__).parent / "data" / "echo_hangar.toml"  # echo brain with ears
PROC_WAIT = 60.0  # s; a cold Python with numpy, scipy and zmq, then a few turns

SCRIPT = """\
Hello there, Brakka.
call paint_mech {"color": "red"}
call paint_mech {"color": "blue"}
/steer humor=3 verbosity=1
/steer humor=9
/npc nobody
Still here?
/npc quartermaster
call give_item {"item": "wrench", "count": 2}
/world
/mic
/quit
This line comes after /quit and is never said.
"""


def echo_config(tmp_path: Path) -> Path:
    """The sample game's NPCs on the echo brain, without ears: no models to load."""
    path = tmp_path / "echo.toml"
    path.write_text(f'[brain]\nkind = "echo"\nnpcs_dir = "{NPCS_DIR.as_posix()}"\n')
    return path


def check(out: str) -> None:
    assert "you are talking to Brakka (brakka) as renn" in out, out
    assert "Brakka: Hello there, Brakka." in out
    assert '[action] paint_mech {"color": "red"} -> ok' in out
    assert "[world] renn-mech: paint grey -> red (290 credits, renn has 210 left)" in out
    # Not enough credits left for blue: the world refuses and says why; nothing changes.
    assert ('[action] paint_mech {"color": "blue"} -> refused: a blue paint job costs 250 '
            "credits and renn has only 210") in out
    assert "-> blue" not in out
    assert "steer: {'humor': 3, 'verbosity': 1} from the next line" in out
    assert "steer wants NAME=LEVEL with LEVEL 0-4, got 'humor=9'" in out
    assert "cannot talk to nobody: unknown-npc: no NPC 'nobody'" in out
    assert "Brakka: Still here?" in out  # the session with Brakka stayed open
    assert "you are talking to Quartermaster Ilse (quartermaster) as renn" in out
    assert "[world] stores: 2 x wrench to renn (10 left)" in out
    assert "renn: 210 credits, at the mech bay, holding 2 x wrench" in out
    assert "mech renn-mech: red paint" in out
    assert "no microphone here" in out
    assert "never said" not in out


def test_play_local_types_lines_and_the_world_changes(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN), "play", "--local", "--config", str(echo_config(tmp_path)),
         "--npc", "brakka", "--player", "renn", "--credits", "500"],
        input=SCRIPT, capture_output=True, text=True, timeout=PROC_WAIT, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    check(proc.stdout)


def test_play_connects_to_a_running_server(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, str]:
        async with running(echo_brain()) as server:
            proc = await asyncio.create_subprocess_exec(
                str(BIN), "play", "--connect", server.endpoint, "--player", "renn",
                "--credits", "500", "--npc", "brakka",
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            out, err = await proc.communicate(SCRIPT.encode())
            assert proc.returncode is not None
            return proc.returncode, out.decode() + err.decode()

    code, out = run(scenario, limit=PROC_WAIT)
    assert code == 0, out
    check(out)


def test_play_says_when_no_server_answers() -> None:
    proc = subprocess.run(
        [str(BIN), "play", "--connect", "tcp://127.0.0.1:9", "--player", "renn"],
        input="/quit\n", capture_output=True, text=True, timeout=PROC_WAIT, check=False,
    )
    assert proc.returncode == 2
    assert "no answer from tcp://127.0.0.1:9" in proc.stdout


def test_the_demo_scene_plays_and_writes_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The echo brain with the sample game's ears: each spoken line comes back as the NPC's
    # voice with face frames, so every stage of the latency table is measured, fast.
    assert main(["demo", "--out", str(tmp_path), "--config", str(ECHO_HEARING)]) == 0
    out = capsys.readouterr().out
    table = out[out.index("Latency by stage"):].splitlines()
    assert table[1].split()[:3] == ["turn", "input", "end"]
    rows = [line.split()[-1 - len(STAGES) :] for line in table[2 : 2 + len(SCENE)]]
    for row, (_, kind, line) in zip(rows, SCENE, strict=True):
        assert row[0] == kind
        if kind == "text":
            assert row[1:3] == ["-", "-"] and f": {line}\n" in out  # echoed
        else:
            eot, heard, token, audio, face, done = (float(x) for x in row[1:])
            assert eot > 300 and heard > 300  # the VAD's hangover (480 ms) comes first
            assert heard <= token <= done and audio <= done and face <= done
    assert out.count("  heard: ") == sum(kind == "voice" for _, kind, _ in SCENE)
    assert "the world at the end: pilot-1 has 500 credits" in out  # the echo brain never acts
    replies = sorted(p.parent.name for p in tmp_path.glob("*/npc.wav"))
    assert len(replies) == sum(kind == "voice" for _, kind, _ in SCENE)
    report = tmp_path / "report.html"
    assert f"report: {report}" in out
    page = report.read_text()
    assert page.count('<article class="turn">') == len(SCENE)
    assert all(f"{name}/npc.wav" in page for name in replies)
