"""Live Link Face: face frames as the UDP packets of Epic's Live Link Face app, for Unreal.

The packet Unreal's LiveLinkFace / AppleARKit Live Link source reads (all big-endian):
uint8 version (6); device id and subject name, each as Unreal serialises an FString (int32
length counting a NUL terminator, then the bytes and the NUL);
frame time: int32 frame number, float32 sub-frame, int32 rate numerator and denominator;
uint8 count (61); then 61 float32: the 52 ARKit blendshapes in Unreal's EARFaceBlendShape
order, head yaw, pitch, roll, and left and right eye yaw, pitch, roll.
"""

from __future__ import annotations

import socket
import struct
import time
import uuid
from dataclasses import dataclass

import numpy as np

from npc.face.arkit import ARKIT_BLENDSHAPES, HEAD_CHANNELS

PACKET_VERSION = 6
DEFAULT_PORT = 11111  # the Live Link Face app's default target port
EYE_CHANNELS = (
    "leftEyeYaw", "leftEyePitch", "leftEyeRoll", "rightEyeYaw", "rightEyePitch", "rightEyeRoll",
)  # fmt: skip
LIVE_LINK_CHANNELS: tuple[str, ...] = ARKIT_BLENDSHAPES + HEAD_CHANNELS + EYE_CHANNELS
_TIME = struct.Struct(">ifii")
_VALUES = struct.Struct(f">B{len(LIVE_LINK_CHANNELS)}f")


@dataclass(frozen=True, slots=True)
class LiveLinkFrame:
    """One decoded packet: who sent it, its frame time, and the 61 values."""

    device_id: str
    subject: str
    frame: int
    subframe: float
    fps: int
    values: tuple[float, ...]  # in LIVE_LINK_CHANNELS order


def encode_packet(frame: LiveLinkFrame) -> bytes:
    if len(frame.values) != len(LIVE_LINK_CHANNELS):
        raise ValueError(f"a Live Link frame has {len(LIVE_LINK_CHANNELS)} values")
    return b"".join([
        bytes([PACKET_VERSION]), _string(frame.device_id), _string(frame.subject),
        _TIME.pack(frame.frame, frame.subframe, frame.fps, 1),
        _VALUES.pack(len(frame.values), *frame.values),
    ])  # fmt: skip


def decode_packet(data: bytes) -> LiveLinkFrame:
    """The frame in one packet; ValueError when it is not a version-6 Live Link Face packet."""
    try:
        if data[0] != PACKET_VERSION:
            raise ValueError(f"Live Link packet version {data[0]}, expected {PACKET_VERSION}")
        device, at = _read_string(data, 1)
        subject, at = _read_string(data, at)
        number, sub, fps, _den = _TIME.unpack_from(data, at)
        count, *values = _VALUES.unpack_from(data, at + _TIME.size)
    except (IndexError, struct.error, UnicodeDecodeError) as e:
        raise ValueError(f"malformed Live Link packet ({len(data)} bytes): {e}") from e
    if count != len(LIVE_LINK_CHANNELS) or at + _TIME.size + _VALUES.size != len(data):
        raise ValueError(f"Live Link packet with {count} values or trailing bytes")
    return LiveLinkFrame(device, subject, number, sub, fps, tuple(values))


def to_live_link(channels: list[str], weights: np.ndarray) -> np.ndarray:
    """Frames [n, len(channels)] to the 61 Live Link values [n, 61], matched by name.

    Channels not given are 0. Eye rotations come from the eyeLook* shapes (yaw: + toward
    the face's left, pitch: + up), as the rig would see the same gaze.
    """
    index = {name: i for i, name in enumerate(channels)}
    out = np.zeros((len(weights), len(LIVE_LINK_CHANNELS)), np.float32)
    for j, name in enumerate(LIVE_LINK_CHANNELS):
        if name in index:
            out[:, j] = weights[:, index[name]]

    def look(name: str) -> np.ndarray:
        return out[:, LIVE_LINK_CHANNELS.index(name)]

    for side, eye, outward in (("Left", "leftEye", 1.0), ("Right", "rightEye", -1.0)):
        if f"{eye}Yaw" not in index:
            yaw = look(f"eyeLookOut{side}") - look(f"eyeLookIn{side}")
            out[:, LIVE_LINK_CHANNELS.index(f"{eye}Yaw")] = outward * yaw
        if f"{eye}Pitch" not in index:
            pitch = look(f"eyeLookUp{side}") - look(f"eyeLookDown{side}")
            out[:, LIVE_LINK_CHANNELS.index(f"{eye}Pitch")] = pitch
    return out


class LiveLinkSender:
    """Sends face frames to Unreal's Live Link as a Live Link Face source, one packet a frame."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, subject: str = "NPC",
        fps: int = 60, device_id: str = "",
    ) -> None:  # fmt: skip
        self.subject, self.fps = subject, fps
        self.device_id = device_id or f"npc-bridge-{uuid.uuid4()}"
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.connect((host, port))

    def send(
        self, channels: list[str], times: np.ndarray, weights: np.ndarray, rate: int,
        start: float | None = None,
    ) -> int:  # fmt: skip
        """Send each frame (times in samples at `rate`); returns how many were sent.

        With `start` (a time.monotonic() instant at which sample 0 plays) each packet waits
        for its frame's moment, so Unreal shows the face in step with the audio; blocking.
        """
        values = to_live_link(channels, weights)
        for t, row in zip(times.tolist(), values, strict=True):
            if start is not None:
                delay = start + t / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            exact = t * self.fps / rate
            frame = LiveLinkFrame(
                self.device_id, self.subject, int(exact), float(exact - int(exact)), self.fps,
                tuple(row.tolist()),
            )  # fmt: skip
            self._sock.send(encode_packet(frame))
        return len(values)

    def close(self) -> None:
        self._sock.close()


def _string(text: str) -> bytes:
    raw = text.encode("utf-8") + b"\0"
    return struct.pack(">i", len(raw)) + raw


def _read_string(data: bytes, at: int) -> tuple[str, int]:
    (n,) = struct.unpack_from(">i", data, at)
    if not 0 <= n <= len(data) - at - 4:
        raise ValueError(f"Live Link string length {n} out of range")
    return data[at + 4 : at + 4 + n].decode("utf-8").rstrip("\0"), at + 4 + n
