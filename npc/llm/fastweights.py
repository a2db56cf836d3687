"""The embedded model's feed-forward weights re-quantized for this CPU: 0.8x the time a token.

The embedded Qwen2.5-Coder-0.5B "Q4_K_M" is mostly Q5_0: its widths (896, 4864) are not
multiples of 256, so llama.cpp's quantizer fell back from the K-quants. llama.cpp runs
Q5_0 matrices without its repacked kernels; IQ4_NL has them. So the first start derives
a copy whose feed-forward gate and up matrices (58% of a layer's weights) are IQ4_NL and
whose every other tensor is the shipped one, byte for byte: one step of the model takes
0.77x the time on one core, a batch 0.8x on two, at a measured cost of 3% perplexity
(docs/llm.md has the figures, and why not every tensor: ffn_down and attention in IQ4_NL
cost twice that for no more speed).

How: llama.cpp's own quantizer writes an all-IQ4_NL copy into a temporary file, and
`splice` takes the gate and up tensors from it into the shipped file's layout. The
derived file sits beside the embedded model in the cache, checked by a marker holding its
size and time and the source's, so later starts only stat it. A crash or a second
process never sees a half-written file (written under a temporary name, then renamed).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import struct
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bridge.errors import ConfigError
from npc.llm.gguf import read_marker
from npc.registry import require

FAST_TENSORS = re.compile(r"\.ffn_(gate|up)\.weight$")
IQ4_NL_FTYPE = 25  # LLAMA_FTYPE_MOSTLY_IQ4_NL
IQ4_NL_TYPE = 20  # GGML_TYPE_IQ4_NL, in a tensor's info
Q4_0_TYPE = 2  # GGML_TYPE_Q4_0
SUFFIX = "-ffn-iq4nl"
_DEFAULT_ALIGNMENT = 32
# GGUF metadata value types: fixed sizes; 8 is a string, 9 an array.
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY, _UINT32 = 8, 9, 4
_COPY = 1 << 22


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]
    type: int
    offset: int  # from the start of the data section


@dataclass(frozen=True, slots=True)
class Layout:
    """A GGUF file's header: its metadata as raw bytes, its tensors, where data starts."""

    version: int
    n_kv: int
    kv: bytes  # the metadata pairs, verbatim
    alignment: int
    tensors: tuple[TensorInfo, ...]
    data_start: int
    size: int  # of the whole file

    def slots(self) -> dict[str, tuple[int, int]]:
        """Each tensor's (offset, bytes) in the data section, its alignment padding included."""
        order = sorted(self.tensors, key=lambda t: t.offset)
        ends = [t.offset for t in order[1:]] + [self.size - self.data_start]
        return {t.name: (t.offset, end - t.offset) for t, end in zip(order, ends, strict=True)}


def fast_model_path(source: Path, progress: Callable[[str], None] | None = None) -> Path:
    """The derived model beside `source`, made first if missing or stale.

    Raises ConfigError when it cannot be made (no room, llama.cpp refused the quantizing).
    """
    target = source.with_name(source.stem + SUFFIX + ".gguf")
    marker = target.with_suffix(".verified")
    if target.is_file() and read_marker(marker) == _stamp(target, source):
        return target
    say = progress or _say
    say(f"deriving the embedded LLM's fast weights into {target} (once, under a minute)...")
    derive(source, target)
    with contextlib.suppress(OSError):  # a lost marker only costs a derivation next start
        marker.write_text(json.dumps(_stamp(target, source)))
    return target


def derive(source: Path, target: Path) -> None:
    """Write `target`: `source` with its FAST_TENSORS quantized to IQ4_NL by llama.cpp."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".derive-") as tmp:
            quantized = Path(tmp) / "all-iq4nl.gguf"
            quantize(source, quantized, IQ4_NL_FTYPE)
            spliced = Path(tmp) / target.name
            splice(source, quantized, spliced, FAST_TENSORS)
            os.replace(spliced, target)
    except OSError as e:
        raise ConfigError(f"cannot write the LLM's fast weights to {target}: {e}") from e


def quantize(source: Path, target: Path, ftype: int) -> None:
    """llama.cpp's quantizer: the layers' tensors to `ftype`, its log kept off the console."""
    llama_cpp = require("llama_cpp", "embedded", "llama-cpp-python")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    # Only the feed-forward matrices are taken: the two biggest tensors, the output and the
    # token embeddings, are left as they are or made cheaply (38 s instead of 53 here).
    params.quantize_output_tensor = False
    params.token_embedding_type = Q4_0_TYPE
    params.nthread = os.cpu_count() or 1
    from llama_cpp._utils import suppress_stdout_stderr

    with suppress_stdout_stderr(disable=False):
        rc = llama_cpp.llama_model_quantize(
            str(source).encode(), str(target).encode(), ctypes.byref(params)
        )
    if rc != 0:
        raise ConfigError(f"llama.cpp could not quantize {source} (error {rc})")


def splice(source: Path, donor: Path, target: Path, names: re.Pattern[str]) -> int:
    """Write `target`: `source` with the tensors whose names match `names` taken from `donor`.

    The two must hold the same tensors (names and shapes); `source`'s metadata is kept
    verbatim. Returns how many tensors came from `donor`.
    """
    with source.open("rb") as fs, donor.open("rb") as fd:
        mine, theirs = read_layout(fs), read_layout(fd)
        other = {t.name: t for t in theirs.tensors}
        if set(other) != {t.name for t in mine.tensors}:
            raise ConfigError(f"{donor} does not hold the tensors of {source}")
        my_slots, their_slots = mine.slots(), theirs.slots()
        # Each tensor of the result: its info, the file its data is in, where, how long.
        chosen: list[tuple[TensorInfo, BinaryIO, int, int]] = []
        for t in mine.tensors:
            if names.search(t.name):
                if other[t.name].dims != t.dims:
                    raise ConfigError(f"{donor}: tensor {t.name} has another shape")
                start, size = their_slots[t.name]
                chosen.append((other[t.name], fd, theirs.data_start + start, size))
            else:
                start, size = my_slots[t.name]
                chosen.append((t, fs, mine.data_start + start, size))
        infos, offset, align = [], 0, mine.alignment
        for t, _, _, size in chosen:
            infos.append(TensorInfo(t.name, t.dims, t.type, offset))
            offset += size + (-size % align)
        with target.open("wb") as out:
            out.write(b"GGUF" + struct.pack("<IQQ", mine.version, len(infos), mine.n_kv))
            out.write(mine.kv)
            for info in infos:
                out.write(_string(info.name) + struct.pack("<I", len(info.dims)))
                out.write(struct.pack(f"<{len(info.dims)}Q", *info.dims))
                out.write(struct.pack("<IQ", info.type, info.offset))
            out.write(b"\0" * (-out.tell() % align))
            for _, f, at, size in chosen:
                f.seek(at)
                _copy(f, out, size)
                out.write(b"\0" * (-size % align))  # a donor aligned otherwise
            out.flush()
            os.fsync(out.fileno())
    return sum(1 for _, f, _, _ in chosen if f is fd)


def read_layout(f: BinaryIO) -> Layout:
    """The header of the GGUF file `f` (version 2 or 3); ConfigError if it is not one."""
    head = f.read(24)
    if len(head) < 24 or head[:4] != b"GGUF":
        raise ConfigError(f"{getattr(f, 'name', 'file')}: not a GGUF file")
    version, n_tensors, n_kv = struct.unpack("<IQQ", head[4:])
    if version not in (2, 3):
        raise ConfigError(f"{getattr(f, 'name', 'file')}: GGUF version {version} is not known")
    kv_start = f.tell()
    alignment = _DEFAULT_ALIGNMENT
    for _ in range(n_kv):
        key = _read_string(f)
        (kind,) = struct.unpack("<I", _read(f, 4))
        if key == "general.alignment" and kind == _UINT32:
            (alignment,) = struct.unpack("<I", _read(f, 4))
        else:
            _skip_value(f, kind)
    kv_end = f.tell()
    f.seek(kv_start)
    kv = _read(f, kv_end - kv_start)
    tensors = []
    for _ in range(n_tensors):
        name = _read_string(f)
        (n_dims,) = struct.unpack("<I", _read(f, 4))
        dims = struct.unpack(f"<{n_dims}Q", _read(f, 8 * n_dims))
        kind, offset = struct.unpack("<IQ", _read(f, 12))
        tensors.append(TensorInfo(name, tuple(dims), kind, offset))
    data_start = f.tell() + (-f.tell() % alignment)
    size = f.seek(0, os.SEEK_END)
    return Layout(version, n_kv, kv, alignment, tuple(tensors), data_start, size)


def _skip_value(f: BinaryIO, kind: int) -> None:
    if kind in _SCALAR_SIZES:
        _read(f, _SCALAR_SIZES[kind])
    elif kind == _STRING:
        (n,) = struct.unpack("<Q", _read(f, 8))
        f.seek(n, os.SEEK_CUR)
    elif kind == _ARRAY:
        item, count = struct.unpack("<IQ", _read(f, 12))
        if item in _SCALAR_SIZES:
            f.seek(_SCALAR_SIZES[item] * count, os.SEEK_CUR)
        else:
            for _ in range(count):
                _skip_value(f, item)
    else:
        raise ConfigError(f"{getattr(f, 'name', 'file')}: GGUF value type {kind} is not known")


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ConfigError(f"{getattr(f, 'name', 'file')}: the GGUF header is cut short")
    return data


def _read_string(f: BinaryIO) -> str:
    (n,) = struct.unpack("<Q", _read(f, 8))
    return _read(f, n).decode("utf-8", "replace")


def _string(s: str) -> bytes:
    data = s.encode()
    return struct.pack("<Q", len(data)) + data


def _copy(src: BinaryIO, dst: BinaryIO, n: int) -> None:
    while n > 0:
        chunk = src.read(min(_COPY, n))
        if not chunk:
            raise ConfigError(f"{getattr(src, 'name', 'file')}: tensor data is cut short")
        dst.write(chunk)
        n -= len(chunk)


def _stamp(target: Path, source: Path) -> dict[str, object]:
    t, s = target.stat(), source.stat()
    return {
        "size": t.st_size,
        "mtime_ns": t.st_mtime_ns,
        "source": [str(source), s.st_size, s.st_mtime_ns],
        "tensors": FAST_TENSORS.pattern,
    }


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)

