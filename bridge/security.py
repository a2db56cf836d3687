"""ZeroMQ CURVE: key generation, and applying keys to the server and engine sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from bridge.config import CurveKeys
from bridge.errors import ConfigError


def create_keys(folder: Path, name: str) -> tuple[Path, Path]:
    """Write `name.key` (public, to share) and `name.key_secret` (keep private) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(folder), name)
    return Path(public), Path(secret)


def load_keys(path: Path, *, secret: bool) -> tuple[bytes, bytes | None]:
    """(public, secret) from a certificate file, with a clear error when it is unusable."""
    try:
        public, secret_key = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not a readable ZeroMQ certificate ({e})") from e
    if secret and secret_key is None:
        raise ConfigError(f"{path} holds no secret key; use the .key_secret file")
    return public, secret_key


def secure_server(
    ctx: zmq.Context[zmq.Socket[bytes]], sock: zmq.Socket[bytes], keys: CurveKeys
) -> ThreadAuthenticator:
    """Make `sock` a CURVE server that only lets in clients whose public key is in the folder.

    The authenticator (ZAP handler) runs on its own thread with its own socket; stop it
    when the server stops.
    """
    if not keys.clients_dir.is_dir():
        raise ConfigError(f"authorised client keys folder {keys.clients_dir} does not exist")
    public, secret = load_keys(keys.server_secret_file, secret=True)
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(keys.clients_dir))
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_server = True
    return auth


def secure_client(
    sock: zmq.Socket[Any], client_secret_file: Path, server_public_file: Path
) -> None:
    """Make `sock` a CURVE client with its own keys, trusting only the server's public key."""
    public, secret = load_keys(client_secret_file, secret=True)
    server_public, _ = load_keys(server_public_file, secret=False)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_serverkey = server_public
