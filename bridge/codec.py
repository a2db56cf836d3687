"""Two pure functions: a message to its wire frames and back, validating everything."""

from __future__ import annotations

from typing import Any

import msgpack

from bridge import errors
from bridge.errors import ProtocolError
from bridge.messages import REGISTRY, Message

_packb = msgpack.Packer(use_bin_type=True).pack


def encode(msg: Message, seq: int = 0) -> list[bytes]:
    """Frames for `msg`: a msgpack header map, then its raw binary frames in order."""
    spec = REGISTRY[msg.TYPE]
    header: dict[str, Any] = {"type": msg.TYPE, "seq": seq}
    for name in spec.header_names:
        value = getattr(msg, name)
        if value is not None:
            header[name] = float(value) if name in spec.float_names else value
    frames = [_packb(header)]
    for name in spec.frame_names:
        frames.append(getattr(msg, name))
    return frames


def decode(frames: list[bytes]) -> tuple[int, Message]:
    """Read one message from its frames (identity already removed): (seq, message).

    Unknown header keys are ignored; an optional field that is absent or nil takes its
    default.

    Raises ProtocolError with a stable code for anything malformed; `ref_seq` and
    `session` are filled in on the error whenever the header got that far.
    """
    if not frames:
        raise ProtocolError("empty message: no header frame", code=errors.BAD_HEADER)
    try:
        header = msgpack.unpackb(frames[0], raw=False, strict_map_key=False)
    except Exception as e:  # msgpack raises several unrelated types for bad bytes
        raise ProtocolError(
            f"header frame is not valid msgpack ({type(e).__name__})", code=errors.BAD_FRAME
        ) from e
    if not isinstance(header, dict):
        raise ProtocolError(
            f"header must be a msgpack map, got {type(header).__name__}", code=errors.BAD_HEADER
        )
    seq = header.get("seq")
    session = header.get("session")
    try:
        if type(seq) is not int or seq < 0:
            raise ProtocolError("header needs 'seq', an integer >= 0", code=errors.BAD_HEADER)
        kind = header.get("type")
        if not isinstance(kind, str):
            raise ProtocolError("header needs 'type', a string", code=errors.BAD_HEADER)
        spec = REGISTRY.get(kind)
        if spec is None:
            raise ProtocolError(f"unknown message type '{kind[:64]}'", code=errors.UNKNOWN_TYPE)
        nframes = len(spec.frame_names)
        if len(frames) != 1 + nframes:
            raise ProtocolError(
                f"'{kind}' carries {nframes} binary frame(s) after the header, "
                f"got {len(frames) - 1}",
                code=errors.BAD_HEADER,
            )
        values: dict[str, Any] = {}
        get = header.get
        for name, check, required in spec.fields:
            value = get(name)
            if value is not None:
                values[name] = check(value)
            elif required:
                raise ProtocolError(f"'{kind}' needs field '{name}'", code=errors.BAD_FIELD)
        for i, name in enumerate(spec.frame_names, 1):
            frame = frames[i]
            values[name] = frame if type(frame) is bytes else bytes(frame)
        msg = spec.cls(**values)
        msg.check()
    except ProtocolError as e:
        e.ref_seq = seq if type(seq) is int else None
        e.session = session if isinstance(session, str) else None
        raise
    return seq, msg


def peek(header_frame: bytes) -> tuple[int | None, str | None]:
    """Best-effort (seq, session) of a header, for error replies about its message."""
    try:
        header = msgpack.unpackb(header_frame, raw=False, strict_map_key=False)
    except Exception:  # the header may be garbage: that is why we are peeking
        return None, None
    if not isinstance(header, dict):
        return None, None
    seq, session = header.get("seq"), header.get("session")
    return (
        seq if type(seq) is int else None,
        session if isinstance(session, str) else None,
    )
