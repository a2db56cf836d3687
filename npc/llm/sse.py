"""JSON over HTTP with server-sent-event streaming, on http.client: pooled, cancellable."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from bridge.errors import ConfigError

_IDLE_KEPT = 4  # idle keep-alive connections kept per client
_CANCEL_POLL_S = 0.05  # how often a stream's watcher looks at its cancel event
_RETRYABLE_STATUS = {408, 409, 425, 429}  # and every 5xx
_ERROR_CHARS = 300  # of a server's error message kept (some append a whole traceback)


class HttpError(Exception):
    """A request failed; `retryable` for outages and timeouts, not for refused requests."""

    def __init__(self, url: str, reason: str, *, retryable: bool, status: int | None = None):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.retryable = retryable
        self.status = status


class HttpClient:
    """One server's base URL; keeps a few idle connections so TLS is not set up per call."""

    def __init__(
        self, base_url: str, api_key: str = "", *, timeout_s: float, connect_timeout_s: float
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"LLM url '{base_url}' is not an http:// or https:// URL")
        self.base = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def get_json(self, path: str) -> Any:
        conn, resp = self._send("GET", path, None)
        try:
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            reason = f"reading the reply failed: {e}"
            raise HttpError(self.base + path, reason, retryable=True) from e
        self._release(conn, resp)
        try:
            return json.loads(data)
        except ValueError as e:
            raise HttpError(self.base + path, "the reply is not JSON", retryable=False) from e

    def stream_events(
        self, path: str, body: dict[str, Any], cancel: threading.Event
    ) -> Iterator[dict[str, Any]]:
        """POST `body`, then yield each JSON event of the SSE reply until `data: [DONE]`.

        Setting `cancel` closes the connection, even while waiting for the first byte;
        the iterator then ends quietly.
        """
        url = self.base + path
        conn, resp = self._send("POST", path, json.dumps(body).encode())
        finished = threading.Event()
        threading.Thread(
            target=_watch, args=(conn, cancel, finished), name="llm-http-cancel", daemon=True
        ).start()
        complete = False
        try:
            for data in _sse_data(resp):
                if cancel.is_set():
                    return
                if data == "[DONE]":
                    complete = True
                    return
                try:
                    event = json.loads(data)
                except ValueError as e:
                    reason = f"not JSON in the stream: {data[:200]!r}"
                    raise HttpError(url, reason, retryable=False) from e
                yield event
            if not cancel.is_set():
                raise HttpError(url, "the stream ended before [DONE]", retryable=True)
        except (OSError, http.client.HTTPException) as e:
            if not cancel.is_set():
                raise HttpError(url, f"the stream broke: {e}", retryable=True) from e
        finally:
            finished.set()
            if complete and not cancel.is_set():
                with contextlib.suppress(OSError, http.client.HTTPException):
                    resp.read()  # the chunked terminator, so the connection can be reused
                self._release(conn, resp)
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _send(
        self, method: str, path: str, data: bytes | None
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        url = self.base + path
        headers = dict(self._headers)
        headers["Accept"] = "text/event-stream" if method == "POST" else "application/json"
        while True:
            conn, pooled = self._connection(url)
            try:
                conn.request(method, self._prefix + path, body=data, headers=headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                if pooled:
                    continue  # the server dropped an idle connection: try a fresh one
                raise HttpError(url, f"request failed: {e}", retryable=True) from e
            if resp.status >= 400:
                text = _error_text(resp)
                conn.close()
                status = resp.status
                raise HttpError(
                    url,
                    f"HTTP {status}: {text}",
                    retryable=status >= 500 or status in _RETRYABLE_STATUS,
                    status=status,
                )
            return conn, resp

    def _connection(self, url: str) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(
                self._host,
                self._port,
                timeout=self.connect_timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            conn = http.client.HTTPConnection(
                self._host, self._port, timeout=self.connect_timeout_s
            )
        try:
            conn.connect()
        except OSError as e:
            conn.close()
            raise HttpError(url, f"cannot connect: {e}", retryable=True) from e
        if conn.sock is not None:
            conn.sock.settimeout(self.timeout_s)
        return conn, False

    def _release(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        if resp.will_close or conn.sock is None:
            conn.close()
            return
        with self._lock:
            if len(self._idle) < _IDLE_KEPT:
                self._idle.append(conn)
                return
        conn.close()


def _watch(
    conn: http.client.HTTPConnection, cancel: threading.Event, finished: threading.Event
) -> None:
    """Shut the socket when `cancel` is set, waking a read blocked on a slow server."""
    while not finished.is_set():
        if cancel.wait(_CANCEL_POLL_S):
            sock = conn.sock
            if sock is not None and not finished.is_set():
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            return


def _sse_data(resp: http.client.HTTPResponse) -> Iterator[str]:
    """The `data` of each server-sent event (multi-line data joined by newlines)."""
    lines: list[str] = []
    while raw := resp.readline(1 << 20):
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
        elif not line.startswith(":"):  # a comment: keep-alive
            name, _, value = line.partition(":")
            if name == "data":
                lines.append(value.removeprefix(" "))
    if lines:
        yield "\n".join(lines)


def _error_text(resp: http.client.HTTPResponse) -> str:
    """The server's own message from an error reply, as far as it can be found."""
    try:
        raw = resp.read(1 << 16).decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        return resp.reason
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.strip()[:_ERROR_CHARS] or resp.reason
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict) and "message" in error:
            error = error["message"]
        if error is not None:
            text = error if isinstance(error, str) else json.dumps(error)
            return text.strip()[:_ERROR_CHARS]
    return raw.strip()[:_ERROR_CHARS]
