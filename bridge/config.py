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
    """Read the `[server]`, `[limits]` and `[security]` tables; return the rest as is."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: {e}") from e
    base = path.parent if path is not None else Path.cwd()
    server = dict(raw.get("server", {}))
    try:
        limits = Limits(**raw.get("limits", {}))
        curve = None
        sec = raw.get("security", {})
        if sec:
            curve = CurveKeys(
                server_secret_file=base / sec["server_secret_file"],
                clients_dir=base / sec["clients_dir"],
            )
        server.update({k: v for k, v in overrides.items() if v is not None})
        if "curve" in server and server["curve"] is None:
            del server["curve"]
        config = ServerConfig(limits=limits, curve=server.pop("curve", curve), **server)
    except (TypeError, KeyError) as e:
        raise ConfigError(f"{path or 'config'}: {e}") from e
    config.check()
    rest = {k: v for k, v in raw.items() if k not in ("server", "limits", "security")}
    return config, rest
