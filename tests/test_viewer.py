"""The face viewer and the HTML report in headless Chromium: the mouth opens in speech and
shuts in silence; the server lists replies, answers a missing one with a clear 404, goes live."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bridge.messages import DialogueFinal, Emotion, FaceFrames, FaceHeader, NpcAudio, TurnEnd
from npc.cli import main
from npc.face.animator import FaceAnimator
from npc.tts.base import Tts, Voice, speak
from npc.viewer.assets import static_text
from npc.viewer.live import LiveNpc
from npc.viewer.report import ReportTurn, write_report
from npc.viewer.server import Events, Library, ViewerServer
from npc.viewer.shot import dom, find_chromium, screenshot
from plugin_stubs.playback import Turn
from plugin_stubs.record import save_turn
from tests.helpers import running

RATE = 22050
LINE = "Ha! Paint it red? That costs you fifty credits."
INSIDE = (0x5A, 0x00, 0x28)  # the mouth's inside colour in face.js
SHOT = (800, 560)
FACE_BOX = (18, 82, 338, 482)  # where the face sits in the viewer and the report (CSS)

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="no headless Chromium (`apt-get install chromium`; `make test` installs it as root)",
)


@dataclass
class Saved:
    folder: Path
    open_s: float  # a frame in the most open vowel
    silent_s: float  # a frame in the trailing silence
    seconds: float


@pytest.fixture(scope="module")
def saved(piper_tts: Tts, tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """A reply spoken by piper, animated by FaceAnimator, then 0.6 s of silence, saved by
    plugin_stubs/record.py as an engine would from the wire messages."""
    face = FaceAnimator(RATE, 60, seed=3)
    face.set_emotion("joy", 0.5)
    turn = Turn(number=1)
    s, t = "s1", 1
    turn.add(FaceHeader(session=s, turn=t, channels=face.channels, fps=60, sample_rate=RATE))
    turn.add(Emotion(session=s, turn=t, emotion="joy", intensity=0.5))
    clips = [(c.pcm, c.phones) for c in speak(piper_tts, LINE, Voice(), RATE)]
    clips.append((np.zeros(int(0.6 * RATE), np.int16), []))
    at = 0
    for pcm, phones in clips:
        turn.add(NpcAudio(session=s, turn=t, sample_rate=RATE, start_sample=at,
                          pcm=pcm.tobytes()))  # fmt: skip
        times, weights = face.feed(pcm, phones)
        _frames(turn, times, weights)
        at += len(pcm)
    _frames(turn, *face.finish())
    turn.add(DialogueFinal(session=s, turn=t, text=LINE))
    turn.add(TurnEnd(session=s, turn=t, reason="done", audio_samples=at))
    folder = tmp_path_factory.mktemp("replies") / "brakka-1"
    save_turn(folder, turn)
    jaw = turn.face_weights[:, face.channels.index("jawOpen")]
    close = turn.face_weights[:, face.channels.index("mouthClose")]
    k = int(np.argmax(jaw - close))
    assert jaw[k] - close[k] > 0.4, "piper's line should have an open vowel"
    return Saved(folder, float(turn.face_times[k]) / RATE, at / RATE - 0.25, at / RATE)


def _frames(turn: Turn, times: np.ndarray, weights: np.ndarray) -> None:
    if len(times):
        turn.add(FaceFrames(session="s1", turn=1, count=len(times), times=times.tobytes(),
                            weights=weights.astype("<f4").tobytes()))  # fmt: skip


@pytest.fixture(scope="module")
def viewer(saved: Saved, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerServer]:
    """The viewer on a free loopback port with the spoken reply and a text-only one."""
    quiet = tmp_path_factory.mktemp("replies") / "quiet"
    quiet.mkdir()
    (quiet / "messages.jsonl").write_text(
        json.dumps({"type": "dialogue-final", "turn": 1, "text": "Nothing to say."}) + "\n"
    )
    library = Library()
    library.add(saved.folder)
    library.add(quiet)
    server = ViewerServer(library).start()
    yield server
    server.stop()


def mouth_pixels(png: Path) -> int:
    """Pixels of the mouth's inside colour within the face."""
    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    x0, y0, x1, y1 = FACE_BOX
    area = rgb[y0:y1, x0:x1]
    near = np.abs(area - np.array(INSIDE, np.int16)).max(axis=2) <= 12
    return int(near.sum())


def face_pixels(png: Path) -> int:
    """Pixels of the face's skin colour (#f1c9a5): the face was drawn."""
    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    return int((np.abs(rgb - np.array((0xF1, 0xC9, 0xA5), np.int16)).max(axis=2) <= 6).sum())


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@needs_chromium
def test_mouth_open_in_speech_and_shut_in_silence(
    viewer: ViewerServer, saved: Saved, tmp_path: Path
) -> None:
    speech = screenshot(f"{viewer.url}?reply=brakka-1&t={saved.open_s:.3f}",
                        tmp_path / "speech.png", SHOT)  # fmt: skip
    silence = screenshot(f"{viewer.url}?reply=brakka-1&t={saved.silent_s:.3f}",
                         tmp_path / "silence.png", SHOT)  # fmt: skip
    opened, shut = mouth_pixels(speech), mouth_pixels(silence)
    assert opened > 400, f"mouth should be open at {saved.open_s:.3f} s: {opened} px inside"
    assert shut < 10, f"mouth should be shut at {saved.silent_s:.3f} s: {shut} px inside"


@needs_chromium
def test_page_says_a_missing_reply_is_missing(viewer: ViewerServer) -> None:
    page = dom(f"{viewer.url}?reply=nope")
    assert "no reply named 'nope' (known: brakka-1, quiet)" in page


def test_server_lists_replies_and_404s_a_missing_one(viewer: ViewerServer, saved: Saved) -> None:
    status, listing = get(viewer.url + "api/replies")
    assert status == 200 and not listing["live"]
    by_name = {r["name"]: r for r in listing["replies"]}
    assert by_name["brakka-1"]["text"] == LINE and by_name["brakka-1"]["emotion"] == "joy"
    assert by_name["brakka-1"]["seconds"] == pytest.approx(saved.seconds, abs=0.01)
    assert by_name["quiet"]["text"] == "Nothing to say." and by_name["quiet"]["seconds"] == 0
    status, missing = get(viewer.url + "api/reply/nope")
    assert status == 404 and missing["error"] == "no reply named 'nope' (known: brakka-1, quiet)"
    status, _ = get(viewer.url + "reply/nope/npc.wav")
    assert status == 404
    status, reply = get(viewer.url + "api/reply/brakka-1")
    assert status == 200 and reply["audio"] == "/reply/brakka-1/npc.wav"
    face = reply["face"]
    assert "jawOpen" in face["channels"] and len(face["times"]) == len(face["weights"])
    wav = viewer.url + reply["audio"][1:]
    request = urllib.request.Request(wav, headers={"Range": "bytes=0-3"})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 206 and r.read() == b"RIFF"


@needs_chromium
def test_report_replays_from_file(saved: Saved, tmp_path: Path) -> None:
    shutil.copytree(saved.folder, tmp_path / "replies" / "turn-01")
    turns = [
        ReportTurn("brakka", "paint my mech red", LINE, ['quote_price {"item": "paint"} -> ok'],
                   ["credits 200 -> 150"], {"end_of_turn": 480.0, "first_audio": 912.4},
                   "replies/turn-01"),
        ReportTurn("quartermaster", "where is the armory?", "Down the hall </script><!--", [],
                   [], {"reply": 800.0}),
    ]  # fmt: skip
    page = write_report(tmp_path, turns)
    text = page.read_text(encoding="utf-8")
    assert 'src="/static' not in text and "<th>first_audio</th>" in text and "<td>912</td>" in text
    data = json.loads(text.split('id="npc-turns">')[1].split("</script>")[0])
    assert data[0]["audio"] == "replies/turn-01/npc.wav" and data[1]["audio"] is None
    assert data[1]["line"] == "Down the hall </script><!--"
    assert all(len(str(w).split(".")[-1]) <= 3 for row in data[0]["face"]["weights"] for w in row
               if isinstance(w, float))  # fmt: skip
    shot = screenshot(f"{page.as_uri()}?turn=1&t={saved.open_s:.3f}", tmp_path / "r.png", SHOT)
    assert mouth_pixels(shot) > 400
    shut = screenshot(f"{page.as_uri()}?turn=2", tmp_path / "r2.png", SHOT)
    assert mouth_pixels(shut) < 10 and face_pixels(shut) > 20000, "a drawn face, mouth shut"


def test_live_sends_lines_and_announces_replies(tmp_path: Path) -> None:
    """Against the echo brain: a typed line goes out, deltas stream back, the reply is saved."""
    endpoint: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        async with running() as server:
            endpoint.append(server.endpoint)
            ready.set()
            await asyncio.to_thread(stop.wait)

    brain = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    brain.start()
    assert ready.wait(10)
    library, events = Library(), Events()
    live = LiveNpc(endpoint[0], "quartermaster", tmp_path, library, events).start()
    server = ViewerServer(library, events=events, say=live.say, live_npc=live.npc).start()
    try:
        request = urllib.request.Request(
            server.url + "api/say", data=json.dumps({"text": "hello viewer"}).encode(),
            method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 202
        seen: list[dict[str, Any]] = []
        while not any(e["type"] == "reply" for e in seen):
            status, batch = get(f"{server.url}api/events?after={len(seen)}")
            assert status == 200 and batch["events"], f"no reply; events so far: {seen}"
            seen += batch["events"]
        kinds = [e["type"] for e in seen]
        assert kinds[0] == "status" and kinds[1] == "said" and "delta" in kinds
        deltas = "".join(e["text"] for e in seen if e["type"] == "delta")
        assert deltas.strip() == "hello viewer"
        status, reply = get(server.url + "api/reply/live-001")
        assert status == 200 and reply["text"] == "hello viewer" and reply["audio"] is None
        assert (tmp_path / "live-001" / "messages.jsonl").is_file()
        if find_chromium() is not None:  # a still of the live page shows the talk, no waiting
            page = dom(f"{server.url}?reply=live-001&t=0")
            assert "You: hello viewer" in page and "Say something to quartermaster" in page
    finally:
        server.stop()
        live.close()
        stop.set()
        brain.join(10)


def test_view_help_errors_and_self_contained_pages(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["view", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--connect" in out and "REPLY_DIR" in out and "--screenshot" in out
    assert main(["view"]) == 2 and "nothing to show" in capsys.readouterr().err
    assert main(["view", "/nonexistent/reply"]) == 2
    assert "/nonexistent/reply: no such folder" in capsys.readouterr().err
    for name in ("face.js", "viewer.js", "report.js", "index.html"):
        assert "http://" not in static_text(name).replace("http://www.w3.org/2000/svg", "")
