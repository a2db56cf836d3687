"""The viewer's HTTP server (standard library): the face page, saved replies, live events."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bridge.errors import BridgeError, ConfigError
from npc.viewer.assets import FILES, STATIC, TYPES, stage, static_text
from npc.viewer.reply import Reply, load_reply

log = logging.getLogger("npc_bridge.viewer")

POLL_S = 20.0  # how long /api/events waits for something new before answering []


class Library:
    """Saved reply folders by name (thread-safe: the live client adds replies as they end)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folders: dict[str, Path] = {}

    def add(self, folder: Path, name: str = "") -> str:
        """Add one reply folder; returns its name (the folder's, made unique)."""
        base = name or folder.name or "reply"
        with self._lock:
            unique, n = base, 1
            while unique in self._folders:
                n += 1
                unique = f"{base}-{n}"
            self._folders[unique] = folder
            return unique

    def names(self) -> list[str]:
        with self._lock:
            return list(self._folders)

    def folder(self, name: str) -> Path | None:
        with self._lock:
            return self._folders.get(name)


class Events:
    """What the live client shows the page, in order; read by long-poll from an index."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[dict[str, Any]] = []

    def push(self, **event: Any) -> None:
        with self._cond:
            self._items.append(event)
            self._cond.notify_all()

    def since(self, index: int, timeout: float = POLL_S) -> list[dict[str, Any]]:
        """Events from `index` on, waiting up to `timeout` s for one when there are none."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._items) > index, timeout)
            return self._items[max(0, index) :]


class ViewerServer(ThreadingHTTPServer):
    """Serves the face page on loopback; `say` is the live client's input (None: no live)."""

    daemon_threads = True

    def __init__(
        self,
        library: Library,
        host: str = "127.0.0.1",
        port: int = 0,
        events: Events | None = None,
        say: Callable[[str], None] | None = None,
        live_npc: str = "",
    ) -> None:
        super().__init__((host, port), _Handler)
        self.library = library
        self.events = events or Events()
        self.say = say
        self.live_npc = live_npc
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A page that went away mid-answer (a closed tab, a long poll cut) is no error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> ViewerServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, name="viewer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5.0)


def _number(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


class _Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        parts = [p for p in path.split("/") if p]
        if path in ("/", "/index.html"):
            page = static_text("index.html").replace("<!--stage-->", stage("Play"))
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode())
        elif len(parts) == 2 and parts[0] == "static" and parts[1] in FILES:
            self._file(STATIC / parts[1])
        elif parts == ["api", "replies"]:
            self._replies()
        elif len(parts) == 3 and parts[:2] == ["api", "reply"]:
            self._reply(parts[2])
        elif len(parts) == 3 and parts[0] == "reply" and parts[2] == "npc.wav":
            self._wav(parts[1])
        elif parts == ["api", "events"]:
            after = (query.get("after") or ["0"])[0]
            if not after.isdigit():
                self._error(HTTPStatus.BAD_REQUEST, f"after={after}: need a number")
                return
            wait = min(POLL_S, max(0.0, _number((query.get("wait") or [""])[0], POLL_S)))
            events = self.server.events.since(int(after), wait)
            self._json({"events": events, "next": int(after) + len(events)})
        else:
            self._error(HTTPStatus.NOT_FOUND, f"nothing at {path}")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/api/say":
            self._error(HTTPStatus.NOT_FOUND, f"nothing to post at {self.path}")
            return
        say = self.server.say
        if say is None:
            self._error(HTTPStatus.CONFLICT, "not live: start the viewer with --connect")
            return
        try:
            size = int(self.headers.get("Content-Length") or 0)
            text = str(json.loads(self.rfile.read(size) or b"{}").get("text", "")).strip()
        except (ValueError, AttributeError):
            self._error(HTTPStatus.BAD_REQUEST, 'send JSON {"text": "..."}')
            return
        if not text:
            self._error(HTTPStatus.BAD_REQUEST, "nothing to say: the text is empty")
            return
        say(text)
        self._json({"ok": True}, HTTPStatus.ACCEPTED)

    def _replies(self) -> None:
        out: list[dict[str, Any]] = []
        for name in self.server.library.names():
            try:
                r = self._load(name)
            except BridgeError as e:
                out.append({"name": name, "error": e.reason})
                continue
            emotion = r.emotions[0]["emotion"] if r.emotions else ""
            out.append({"name": name, "text": r.text, "seconds": r.seconds, "emotion": emotion})
        self._json({"replies": out, "live": self.server.say is not None,
                    "npc": self.server.live_npc})  # fmt: skip

    def _reply(self, name: str) -> None:
        try:
            reply = self._load(name)
        except BridgeError as e:
            self._error(HTTPStatus.NOT_FOUND, e.reason)
            return
        self._json(reply.page(f"/reply/{name}/npc.wav"))

    def _load(self, name: str) -> Reply:
        folder = self.server.library.folder(name)
        if folder is None:
            known = ", ".join(self.server.library.names()) or "none"
            raise ConfigError(f"no reply named '{name}' (known: {known})")
        return load_reply(folder, name)

    def _wav(self, name: str) -> None:
        folder = self.server.library.folder(name)
        wav = folder / "npc.wav" if folder is not None else None
        if wav is None or not wav.is_file():
            self._error(HTTPStatus.NOT_FOUND, f"no audio for a reply named '{name}'")
            return
        data = wav.read_bytes()
        start, end = 0, len(data) - 1
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes="):  # the audio element asks for ranges when it seeks
            first, _, last = ranged[6:].split(",")[0].partition("-")
            try:
                start = int(first) if first else max(0, len(data) - int(last))
                end = min(int(last), end) if first and last else end
            except ValueError:
                start, end = 0, len(data) - 1
            if start > end:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        status = HTTPStatus.PARTIAL_CONTENT if ranged else HTTPStatus.OK
        extra = {"Accept-Ranges": "bytes"}
        if ranged:
            extra["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self._send(status, "audio/wav", data[start : end + 1], extra)

    def _file(self, path: Path) -> None:
        kind = TYPES.get(path.suffix, "application/octet-stream")
        self._send(HTTPStatus.OK, f"{kind}; charset=utf-8", path.read_bytes())

    def _json(self, data: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()
        self._send(status, "application/json", body)

    def _error(self, status: HTTPStatus, reason: str) -> None:
        self._json({"error": reason, "status": int(status)}, status)

    def _send(
        self, status: HTTPStatus, kind: str, body: bytes, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
