"""Server settings: address, timers, limits, CURVE keys; read from a TOML file."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

DEFAULT_BIND = "tcp://127.0.0.1:5555"


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits; all part of the protocol contract (sent in `welcome`)."""

    max_header_bytes: int = 64 * 1024
    max_frame_bytes: int = 1024 * 1024  # one binary frame (about 32 s of 16 kHz audio)
    max_frames: int = 4  # frames in one message, header included
    max_sessions: int = 64  # open sessions per connection
    max_connections: int = 1024  # engines connected at once
    rate_per_s: int = 20000  # sustained messages per second per connection
    burst: int = 5000  # messages a connection may send at once before rate limiting

    def as_wire(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class CurveKeys:
    """ZeroMQ CURVE: the server's secret key file and a folder of authorised client keys."""

    server_secret_file: Path
    clients_dir: Path


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything `npc-bridge serve` needs to open its socket."""

    bind: str = DEFAULT_BIND
    heartbeat_ms: int = 1000
    timeout_ms: int = 5000
    limits: Limits = Limits()
    curve: CurveKeys | None = None
    insecure: bool = False  # allow a non-loopback bind without CURVE

    def check(self) -> None:
        """Refuse to expose an unauthenticated server beyond loopback."""
        if self.curve is None and not self.insecure and not is_loopback(self.bind):
            raise ConfigError(
                f"binding {self.bind} exposes the server beyond this machine: give CURVE "
                "keys ([security] in the config, see `npc-bridge keys --help`) or pass "
                "--insecure"
            )
        if self.heartbeat_ms <= 0 or self.timeout_ms <= self.heartbeat_ms:
            raise ConfigError("timeout_ms must be greater than heartbeat_ms > 0")


def is_loopback(bind: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on 127.0.0.0/8, localhost or ::1."""
    if not bind.startswith("tcp://"):
        return bind.startswith(("ipc://", "inproc://"))
    host = bind[len("tcp://") :].rsplit(":", 1)[0].strip("[]")
    return host == "localhost" or host == "::1" or host.startswith("127.")


def load(path: Path | None, **overrides: Any) -> tuple[ServerConfig, dict[str, Any]]:
    """Read `[server]`, `[limits]` and `[security]`; return the config and the other tables.

    `overrides` (command-line options) replace `[server]` keys when not None. Paths in
    `[security]` are relative to the config file.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: {e}") from e
    where = str(path or "config")
    base = path.parent if path is not None else Path.cwd()
    server = dict(raw.get("server", {}))
    server.update({k: v for k, v in overrides.items() if v is not None})
    security = raw.get("security")
    _known_keys(where, "server", server, ServerConfig, exclude=("limits", "curve"))
    _known_keys(where, "limits", raw.get("limits", {}), Limits)
    try:
        curve = None
        if security is not None:
            curve = CurveKeys(
                server_secret_file=base / security["server_secret_file"],
                clients_dir=base / security["clients_dir"],
            )
        config = ServerConfig(limits=Limits(**raw.get("limits", {})), curve=curve, **server)
    except KeyError as e:
        raise ConfigError(f"{where}: [security] needs {e}") from e
    config.check()
    rest = {k: v for k, v in raw.items() if k not in ("server", "limits", "security")}
    return config, rest


def _known_keys(
    where: str, table: str, values: dict[str, Any], cls: type, exclude: tuple[str, ...] = ()
) -> None:
    known = [f.name for f in dataclasses.fields(cls) if f.name not in exclude]
    for key in values:
        if key not in known:
            raise ConfigError(
                f"{where}: unknown key '{key}' in [{table}]; known: {', '.join(known)}"
            )
