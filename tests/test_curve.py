"""CURVE: authorised engines talk, others get nothing; exposed binds need keys or --insecure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import echo_brain, run, running

from bridge.config import CurveKeys, ServerConfig
from bridge.errors import ConfigError
from bridge.security import create_keys, load_keys
from bridge.server import BridgeServer
from plugin_stubs.client import ClientCurve, EngineClient

REFUSED_WAIT = 0.7  # s: an engine the server will not let in hears nothing in this time


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """Server keys, an authorised engine's keys (public key in clients/), a stranger's."""
    server_public, server_secret = create_keys(tmp_path / "server", "server")
    good_public, good_secret = create_keys(tmp_path / "good", "good")
    _, stranger_secret = create_keys(tmp_path / "stranger", "stranger")
    clients = tmp_path / "clients"
    clients.mkdir()
    (clients / good_public.name).write_bytes(good_public.read_bytes())
    return {
        "server_public": server_public,
        "server_secret": server_secret,
        "good_secret": good_secret,
        "stranger_secret": stranger_secret,
        "clients": clients,
    }


async def talks(client: EngineClient, text: str) -> None:
    s = await client.open_session()
    await s.say(text)
    assert (await s.turn()).text == text


async def refused(client: EngineClient) -> None:
    with pytest.raises(TimeoutError):
        await client.connect(timeout=REFUSED_WAIT)
    assert client.welcome is None and client.received == 0
    # The failed ZeroMQ handshake left the DEALER no pipe: close() (with its courtesy
    # `bye`) must still return, not wait forever for a peer.
    await asyncio.wait_for(client.close(), 3.0)


def test_create_keys_writes_a_usable_pair(tmp_path: Path) -> None:
    public, secret = create_keys(tmp_path / "k", "engine")
    assert (public.name, secret.name) == ("engine.key", "engine.key_secret")
    pub, sec = load_keys(secret, secret=True)
    assert len(pub) == 40 and sec is not None and len(sec) == 40
    assert load_keys(public, secret=False) == (pub, None)
    with pytest.raises(ConfigError, match="no secret key"):
        load_keys(public, secret=True)
    with pytest.raises(ConfigError, match="not a readable"):
        load_keys(tmp_path / "missing.key", secret=False)


def test_only_authorised_engines_get_in(keys: dict[str, Path]) -> None:
    curve = CurveKeys(server_secret_file=keys["server_secret"], clients_dir=keys["clients"])

    async def scenario() -> None:
        async with running(curve=curve) as server:
            good = EngineClient(
                server.endpoint, curve=ClientCurve(keys["good_secret"], keys["server_public"])
            )
            await good.connect()
            await talks(good, "authorised")

            stranger = EngineClient(
                server.endpoint,
                curve=ClientCurve(keys["stranger_secret"], keys["server_public"]),
            )
            await refused(stranger)
            plain = EngineClient(server.endpoint)
            await refused(plain)

            await talks(good, "still served")
            assert len(server.connections) == 1
            await good.close()

    run(scenario)


def test_a_non_loopback_bind_needs_curve_or_insecure(keys: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="CURVE") as info:
        ServerConfig(bind="tcp://0.0.0.0:*").check()
    assert "--insecure" in info.value.reason
    for bind in ("tcp://*:5555", "tcp://192.168.1.10:5555", "tcp://[::]:5555"):
        with pytest.raises(ConfigError):
            ServerConfig(bind=bind).check()
    ServerConfig(bind="tcp://0.0.0.0:*", insecure=True).check()
    curve = CurveKeys(server_secret_file=keys["server_secret"], clients_dir=keys["clients"])
    ServerConfig(bind="tcp://0.0.0.0:*", curve=curve).check()
    for bind in ("tcp://127.0.0.1:5555", "tcp://localhost:5555", "tcp://[::1]:5555",
                 "ipc:///tmp/npc.sock", "inproc://npc"):
        ServerConfig(bind=bind).check()


def test_the_server_refuses_an_exposed_bind_at_construction() -> None:
    with pytest.raises(ConfigError):
        BridgeServer(echo_brain(), ServerConfig(bind="tcp://0.0.0.0:*"))
