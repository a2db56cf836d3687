"""`npc-bridge serve` and `talk` as real processes on loopback; every --help works."""

from __future__ import annotations

import json
import math
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from npc.cli import COMMANDS, main
from npc.face.livelink import LIVE_LINK_CHANNELS, decode_packet

BIN = Path(sys.executable).parent / "npc-bridge"
SPEECH = Path(__file__).parent / "data" / "speech"
ECHO_CONFIG = Path(__file__).parent / "data" / "echo_hangar.toml"  # the wire, echoed
PROC_WAIT = 30.0  # s; starting Python with numpy and scipy is the slow part


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, timeout: float = PROC_WAIT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`npc-bridge serve` on a free loopback port; yields its address."""
    address = f"tcp://127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [str(BIN), "serve", "--config", str(ECHO_CONFIG), "--bind", address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        try:
            first = lines.get(timeout=PROC_WAIT)
        except queue.Empty:
            pytest.fail(f"serve printed nothing: {proc.poll()=}")
        assert "serving" in first and address in first and "brakka" in first, first
        yield address
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(PROC_WAIT) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def json_lines(stdout: str) -> list[dict[str, object]]:
    out = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert all(isinstance(m, dict) and isinstance(m.get("type"), str) for m in out)
    return out


def test_talk_text_prints_every_message_as_json(server: str) -> None:
    done = cli("talk", "--connect", server, "--text", "hello there", "--json")
    assert done.returncode == 0, done.stderr
    msgs = json_lines(done.stdout)
    types = [m["type"] for m in msgs]
    assert types[0] == "session-opened"
    assert msgs[0]["npc"] == "brakka"  # --npc defaults to the first NPC
    assert types.count("dialogue-delta") == 2
    assert types[-2:] == ["dialogue-final", "turn-end"]
    assert msgs[-2]["text"] == "hello there"
    assert msgs[-1]["reason"] == "done" and msgs[-1]["turn"] == 1


def test_talk_with_an_npc_and_plain_output(server: str) -> None:
    done = cli("talk", "--connect", server, "--npc", "quartermaster", "--text", "hi")
    assert done.returncode == 0, done.stderr
    assert "Quartermaster Ilse" in done.stdout
    assert "dialogue-final" in done.stdout and "turn-end" in done.stdout


def test_talk_wav_is_heard_and_saves_audio_face_and_messages(
    server: str, tmp_path: Path
) -> None:
    wav, out = SPEECH / "paint_red.wav", tmp_path / "reply"
    with wave.open(str(wav)) as w:
        spoken = w.getnframes()  # 16 kHz
    done = cli("talk", "--connect", server, "--wav", str(wav), "--out", str(out), "--json",
               "--rate", "24000")
    assert done.returncode == 0, done.stderr
    msgs = json_lines(done.stdout)
    heard = [m for m in msgs if m["type"] == "transcript" and m["final"]]
    assert len(heard) == 1
    assert {"paint", "red"} <= set(re.findall(r"[a-z]+", str(heard[0]["text"]).lower()))
    said = [m for m in msgs if m["type"] == "dialogue-final"]
    assert said and str(said[0]["text"]).startswith("You said: ")
    audio = [m for m in msgs if m["type"] == "npc-audio"]
    assert audio and all(set(m["pcm"]) == {"bytes"} for m in audio)  # type: ignore[arg-type]
    frames = [m for m in msgs if m["type"] == "face-frames"]
    assert frames and all(m["weights"]["bytes"] > 0 for m in frames)  # type: ignore[index]
    assert msgs[-1]["type"] == "turn-end"

    # The echo brain says the player's line back in its own audio, at the asked-for 24 kHz.
    samples = math.ceil(spoken * 3 / 2)  # resample_poly's output length
    with wave.open(str(out / "npc.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        assert w.getnframes() == samples
    face = json.loads((out / "face.json").read_text())
    assert len(face["channels"]) == 52 and "jawOpen" in face["channels"]
    assert face["sample_rate"] == 24000 and face["fps"] == 60
    count = math.ceil(samples * 60 / 24000)
    assert len(face["frames"]) == count
    first, last = face["frames"][0], face["frames"][-1]
    assert first["sample"] == 0 and first["time_s"] == 0.0
    assert last["sample"] == (count - 1) * 400
    assert abs(last["time_s"] - last["sample"] / 24000) < 1e-6
    assert all(len(f["weights"]) == 52 for f in face["frames"])
    assert max(f["weights"][face["channels"].index("jawOpen")] for f in face["frames"]) > 0
    saved = json_lines((out / "messages.jsonl").read_text())
    assert [m["type"] for m in saved] == [m["type"] for m in msgs[1:]]


def test_talk_plays_the_face_to_live_link_over_udp(server: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(PROC_WAIT)
        port = udp.getsockname()[1]
        done = cli("talk", "--connect", server, "--wav", str(SPEECH / "paint_red.wav"),
                   "--livelink", f"127.0.0.1:{port}", "--livelink-subject", "Brakka")
        assert done.returncode == 0, done.stderr
        sent = int(re.findall(r"sent (\d+) face frames to Live Link", done.stderr)[0])
        frames = [decode_packet(udp.recv(2048)) for _ in range(sent)]
    assert sent > 60 and {f.subject for f in frames} == {"Brakka"}
    assert [f.frame for f in frames] == sorted(f.frame for f in frames)
    jaw = LIVE_LINK_CHANNELS.index("jawOpen")
    assert max(f.values[jaw] for f in frames) > 0.1


def test_talk_refuses_a_bad_live_link_address(server: str) -> None:
    done = cli("talk", "--connect", server, "--text", "hi", "--livelink", "nowhere")
    assert done.returncode == 2 and "HOST:PORT" in done.stderr


def test_talk_to_an_unknown_npc_fails_plainly(server: str) -> None:
    done = cli("talk", "--connect", server, "--npc", "nobody", "--text", "hi")
    assert done.returncode != 0
    assert "unknown-npc" in done.stderr and "nobody" in done.stderr
    assert "Traceback" not in done.stderr


def test_talk_to_nobody_listening_fails_plainly() -> None:
    done = cli("talk", "--connect", f"tcp://127.0.0.1:{free_port()}", "--text", "hi",
               "--timeout", "0.5")
    assert done.returncode != 0
    assert "no answer" in done.stderr and "Traceback" not in done.stderr


def test_serve_refuses_an_exposed_bind_without_keys() -> None:
    done = cli("serve", "--bind", f"tcp://0.0.0.0:{free_port()}")
    assert done.returncode != 0
    assert "CURVE" in done.stderr and "--insecure" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_for_the_program_and_each_command(capsys: pytest.CaptureFixture[str]) -> None:
    done = cli("--help")
    assert done.returncode == 0 and "serve" in done.stdout and "talk" in done.stdout
    names = []
    for module in COMMANDS:
        name = module.__name__.rsplit(".", 1)[-1]
        names.append(name)
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        text = capsys.readouterr().out
        assert f"npc-bridge {name}" in text and "--help" in text
    assert {"serve", "talk", "keys"} <= set(names)


def test_keys_command_writes_a_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", str(tmp_path), "--name", "engine"]) == 0
    assert (tmp_path / "engine.key").is_file() and (tmp_path / "engine.key_secret").is_file()
    assert "keep private" in capsys.readouterr().out
