"""The C++ client (plugin_stubs/cpp): npc_talk against `npc-bridge serve` as a real process."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from plugin_stubs.cpp.bench import serving
from sample_game import NPCS_DIR
from tests.test_cli import SPEECH, free_port, server  # noqa: F401  (the echo server fixture)

ROOT = Path(__file__).parent.parent
SOURCE = ROOT / "plugin_stubs" / "cpp"
BUILD = ROOT / "build" / "cpp"
NPC_TALK = BUILD / "npc_talk"
HEADERS = ("zmq.hpp", "zmq_addon.hpp", "msgpack.hpp")  # cppzmq-dev, libmsgpack-cxx-dev
BUILD_TIMEOUT = 300.0  # s; a first build on 2 cores takes about 25 s
RUN_TIMEOUT = 60.0


def missing_toolchain() -> list[str]:
    tools = [t for t in ("cmake", "c++") if shutil.which(t) is None]
    include = [Path("/usr/include"), Path("/usr/local/include")]
    headers = [h for h in HEADERS if not any((d / h).exists() for d in include)]
    return tools + headers


@pytest.fixture(scope="module")
def npc_talk() -> Path:
    """npc_talk, built (incrementally) with CMake into build/cpp as `make cpp` does."""
    missing = missing_toolchain()
    if missing:
        pytest.skip(f"the C++ toolchain is incomplete (missing {', '.join(missing)}): "
                    "`make cpp` as root installs cmake g++ libzmq3-dev cppzmq-dev "
                    "libmsgpack-cxx-dev")
    for step in (
        ["cmake", "-S", str(SOURCE), "-B", str(BUILD), "-DCMAKE_BUILD_TYPE=Release"],
        ["cmake", "--build", str(BUILD), "-j", "2"],
    ):
        done = subprocess.run(step, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert NPC_TALK.exists()
    return NPC_TALK


def talk(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def summary(stdout: str) -> dict[str, object]:
    out = json.loads(stdout.strip().splitlines()[-1])
    assert isinstance(out, dict)
    return out


def test_npc_talk_hears_acts_animates_and_survives_a_bad_message(
    npc_talk: Path, server: str  # noqa: F811
) -> None:
    started = time.monotonic()
    done = talk(npc_talk, "--connect", server, "--wav", str(SPEECH / "paint_red.wav"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    s = summary(done.stdout)
    assert s["ok"] is True
    # The WAV was heard: its words in the transcript, "You said: ..." back, with the
    # player's own audio as the NPC's voice (1.13 s of 16 kHz speech at 24 kHz) and jaw frames.
    assert {"paint", "red"} <= set(re.findall(r"[a-z]+", str(s["transcript"]).lower()))
    assert s["dialogue"] == f"You said: {s['transcript']}"
    assert (s["turn_npc"], s["turn_cause"]) == ("brakka", "player")  # turn-start, first
    assert s["face_channels"] == 52
    assert isinstance(s["audio_samples"], int) and s["audio_samples"] > 20000
    assert isinstance(s["face_frames"], int)
    assert s["face_frames"] == s["audio_samples"] * 60 // 24000 + 1  # 60 fps, through the end
    # The engine action: called with the declared arguments, its result said back.
    action = s["action"]
    assert isinstance(action, dict) and action["name"] == "paint_mech"
    assert action["arguments"] == {"color": "red"}
    assert s["action_reply"] == 'paint_mech done: {"color": "red", "coats": 2}'
    # The malformed steer: one bad-field naming its seq; the next line still answered.
    error = s["error"]
    assert isinstance(error, dict) and error["code"] == "bad-field"
    assert error["ref_seq"] == error["seq"]
    assert s["after_error"] == "still here"
    assert time.monotonic() - started < RUN_TIMEOUT


def test_npc_talk_streams_in_real_time_with_heartbeats(
    npc_talk: Path, server: str  # noqa: F811
) -> None:
    done = talk(npc_talk, "--connect", server, "--wav", str(SPEECH / "paint_red.wav"),
                "--realtime")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    s = summary(done.stdout)
    assert isinstance(s["seconds"], float) and s["seconds"] > 1.1  # 1.13 s of speech, paced
    assert isinstance(s["heartbeats"], int) and s["heartbeats"] >= 1  # echoed by the brain


def test_npc_talk_bench_times_text_round_trips(npc_talk: Path, server: str) -> None:  # noqa: F811
    done = talk(npc_talk, "--connect", server, "--bench", "50", "--warmup", "5")
    assert done.returncode == 0, done.stderr
    s = summary(done.stdout)
    times = s["times_ns"]
    assert s["client"] == "cpp" and isinstance(times, list) and len(times) == 50
    assert all(isinstance(t, int) and 0 < t < 1_000_000_000 for t in times)


def test_npc_talk_fails_clearly_without_a_server(npc_talk: Path) -> None:
    done = subprocess.run(
        [str(npc_talk), "--connect", "tcp://127.0.0.1:9", "--bench", "1", "--wait-ms", "500"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
    )
    assert done.returncode == 1
    assert "FAILED" in done.stderr and "welcome" in done.stderr
    bad = talk(npc_talk, "--connect", "not-an-endpoint", "--bench", "1")
    assert bad.returncode == 1 and "cannot connect to 'not-an-endpoint'" in bad.stderr


def test_npc_talk_says_hello_again_and_reopens_after_a_server_crash(
    npc_talk: Path, tmp_path: Path
) -> None:
    config = tmp_path / "echo.toml"  # the echo brain without ears: it starts in a second
    config.write_text(f'[brain]\nkind = "echo"\nnpcs_dir = "{NPCS_DIR}"\n')
    address = f"tcp://127.0.0.1:{free_port()}"
    with serving(config, address) as first:
        soak = subprocess.Popen(
            [str(npc_talk), "--connect", address, "--soak", "40"],  # ends 1 s after reopening
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        time.sleep(1.5)
        first.kill()  # a crash: no session-closed, no bye; the brain forgets everything
        first.wait()
    with serving(config, address):
        out, err = soak.communicate(timeout=RUN_TIMEOUT)
    assert soak.returncode == 0, err
    s = summary(out)
    errors = s["errors"]
    assert isinstance(errors, list) and "no-handshake" in errors  # the new brain's first words
    assert set(errors) == {"no-handshake"}
    assert s["welcomes"] == 2 and s["reopened"] == 1  # hello again, the session reopened
    assert s["answered_after_reopen"] == 5
