"""Live Link Face packets: encoded, sent over real UDP on loopback, decoded as Unreal reads them."""

from __future__ import annotations

import socket
import struct
import time

import numpy as np
import pytest

from npc.face.animator import FaceAnimator
from npc.face.arkit import ARKIT_BLENDSHAPES
from npc.face.livelink import (
    LIVE_LINK_CHANNELS,
    LiveLinkFrame,
    LiveLinkSender,
    decode_packet,
    encode_packet,
)


def test_packet_layout_and_round_trip() -> None:
    values = tuple(float(i) / 64 for i in range(61))
    frame = LiveLinkFrame("dev-1", "Brakka", 1234, 0.5, 60, values)
    data = encode_packet(frame)
    # version, then FStrings: big-endian length counting the NUL, bytes, NUL.
    assert data[:1] == b"\x06" and data[1:5] == struct.pack(">i", 6) and data[5:11] == b"dev-1\0"
    assert data[11:15] == struct.pack(">i", 7) and data[15:22] == b"Brakka\0"
    assert struct.unpack_from(">ifiiB", data, 22) == (1234, 0.5, 60, 1, 61)
    assert len(data) == 22 + 17 + 61 * 4
    assert decode_packet(data) == frame
    for bad in (data[:-1], b"\x05" + data[1:], data + b"x", data[:10]):
        with pytest.raises(ValueError):
            decode_packet(bad)
    assert LIVE_LINK_CHANNELS[:52] == ARKIT_BLENDSHAPES and len(LIVE_LINK_CHANNELS) == 61


def test_sender_streams_face_frames_over_udp() -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    face = FaceAnimator(48000)
    face.set_emotion("surprise", 1.0)
    times, weights = face.idle(48000 // 2)
    sender = LiveLinkSender("127.0.0.1", rx.getsockname()[1], subject="Brakka")
    try:
        began = time.monotonic()
        sent = sender.send(face.channels, times[:12], weights[:12], 48000, start=began)
        elapsed = time.monotonic() - began
        got = [decode_packet(rx.recv(2048)) for _ in range(sent)]
        sender.send(face.channels, times[12:], weights[12:], 48000)  # as fast as it can
        got += [decode_packet(rx.recv(2048)) for _ in range(len(times) - 12)]
    finally:
        sender.close()
        rx.close()
    assert sent == 12 and elapsed >= times[11] / 48000 - 0.005  # paced at 60 fps
    assert [g.frame for g in got] == list(range(len(times)))
    assert all(g.subject == "Brakka" and g.fps == 60 for g in got)
    values = np.array([g.values for g in got], np.float32)
    np.testing.assert_allclose(values[:, :55], weights, atol=1e-6)  # 52 shapes, head
    brow = LIVE_LINK_CHANNELS.index("browOuterUpLeft")
    assert values[-1, brow] > 0.5  # the surprise came through
    look = [ARKIT_BLENDSHAPES.index(n) for n in ("eyeLookOutLeft", "eyeLookInLeft")]
    yaw = values[:, look[0]] - values[:, look[1]]
    np.testing.assert_allclose(values[:, LIVE_LINK_CHANNELS.index("leftEyeYaw")], yaw, atol=1e-6)
