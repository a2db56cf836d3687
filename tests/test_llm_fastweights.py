"""The embedded model's fast weights: the GGUF splice, the cached derivation, the fallback."""

from __future__ import annotations

import logging
import re
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bridge.errors import ConfigError
from npc.llm import fastweights, llama
from npc.llm.fastweights import (
    FAST_TENSORS,
    IQ4_NL_TYPE,
    fast_model_path,
    read_layout,
    splice,
)
from npc.llm.gguf import embedded_model_path

F32, F16 = 0, 1


def _str(s: str) -> bytes:
    return struct.pack("<Q", len(s.encode())) + s.encode()


def write_gguf(path: Path, tensors: list[tuple[str, int, bytes]], alignment: int = 32) -> None:
    """A small GGUF v3: a few metadata pairs (a string array among them) and 1-D tensors."""
    kv = [
        _str("general.architecture") + struct.pack("<I", 8) + _str("test"),
        _str("general.alignment") + struct.pack("<II", 4, alignment),
        _str("tokenizer.words") + struct.pack("<IIQ", 9, 8, 2) + _str("a") + _str("bc"),
        _str("test.scales") + struct.pack("<IIQ3f", 9, 6, 3, 1.0, 2.0, 3.0),
    ]
    infos, data, offset = b"", b"", 0
    for name, kind, raw in tensors:
        count = len(raw) // (4 if kind == F32 else 2)
        infos += _str(name) + struct.pack("<IQIQ", 1, count, kind, offset)
        pad = -len(raw) % alignment
        data += raw + b"\0" * pad
        offset += len(raw) + pad
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)) + b"".join(kv) + infos
    path.write_bytes(head + b"\0" * (-len(head) % alignment) + data)


def tensor_bytes(path: Path, name: str) -> bytes:
    with path.open("rb") as f:
        layout = read_layout(f)
        start, size = layout.slots()[name]
        f.seek(layout.data_start + start)
        return f.read(size)


def test_splice_takes_the_named_tensors_from_the_donor_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    a = np.arange(12, dtype=np.float32)
    source, donor, out = tmp_path / "s.gguf", tmp_path / "d.gguf", tmp_path / "o.gguf"
    # The donor's gate is half the bytes (F16), so every later offset moves.
    write_gguf(source, [("blk.0.ffn_gate.weight", F32, a.tobytes()),
                        ("blk.0.attn_q.weight", F32, (a * 2).tobytes()),
                        ("blk.0.ffn_up.weight", F32, (a * 3).tobytes())], alignment=64)
    write_gguf(donor, [("blk.0.ffn_up.weight", F16, (a * 5).astype(np.float16).tobytes()),
                       ("blk.0.ffn_gate.weight", F16, (a * 4).astype(np.float16).tobytes()),
                       ("blk.0.attn_q.weight", F16, (a * 6).astype(np.float16).tobytes())])

    assert splice(source, donor, out, FAST_TENSORS) == 2

    with source.open("rb") as f:
        mine = read_layout(f)
    with out.open("rb") as f:
        spliced = read_layout(f)
    assert spliced.kv == mine.kv and spliced.alignment == 64
    assert [(t.name, t.dims, t.type) for t in spliced.tensors] == [
        ("blk.0.ffn_gate.weight", (12,), F16),
        ("blk.0.attn_q.weight", (12,), F32),
        ("blk.0.ffn_up.weight", (12,), F16),
    ]
    assert all(t.offset % 64 == 0 for t in spliced.tensors)
    gate = np.frombuffer(tensor_bytes(out, "blk.0.ffn_gate.weight")[:24], np.float16)
    assert gate.tolist() == (a * 4).tolist()
    assert tensor_bytes(out, "blk.0.attn_q.weight")[:48] == (a * 2).tobytes()
    up = np.frombuffer(tensor_bytes(out, "blk.0.ffn_up.weight")[:24], np.float16)
    assert up.tolist() == (a * 5).tolist()


def test_splice_refuses_a_donor_of_another_model(tmp_path: Path) -> None:
    a = np.zeros(8, dtype=np.float32).tobytes()
    write_gguf(tmp_path / "s.gguf", [("blk.0.ffn_up.weight", F32, a)])
    write_gguf(tmp_path / "d.gguf", [("blk.0.ffn_down.weight", F32, a)])
    with pytest.raises(ConfigError, match="does not hold the tensors"):
        splice(tmp_path / "s.gguf", tmp_path / "d.gguf", tmp_path / "o.gguf", FAST_TENSORS)
    write_gguf(tmp_path / "d.gguf", [("blk.0.ffn_up.weight", F32, a + a)])
    with pytest.raises(ConfigError, match="another shape"):
        splice(tmp_path / "s.gguf", tmp_path / "d.gguf", tmp_path / "o.gguf", FAST_TENSORS)


@pytest.mark.parametrize(
    "data, why",
    [(b"GGML" + bytes(20), "not a GGUF"), (b"GGUF" + struct.pack("<IQQ", 9, 0, 0), "version 9"),
     (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _str("k"), "cut short")],
)
def test_a_file_that_is_not_a_whole_gguf_is_a_config_error(
    tmp_path: Path, data: bytes, why: str
) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with path.open("rb") as f, pytest.raises(ConfigError, match=why):
        read_layout(f)


def test_the_derived_file_is_made_once_and_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Path] = []

    def derive(source: Path, target: Path) -> None:
        made.append(target)
        target.write_bytes(source.read_bytes() + b"derived")

    monkeypatch.setattr(fastweights, "derive", derive)
    source = tmp_path / "model.gguf"
    source.write_bytes(b"GGUF model")
    said: list[str] = []
    target = fast_model_path(source, said.append)
    assert target == tmp_path / "model-ffn-iq4nl.gguf" and len(made) == 1
    assert "fast weights" in said[0]
    assert fast_model_path(source, said.append) == target and len(made) == 1
    target.write_bytes(b"half a fil")  # cut short (same mtime would be luck: size differs)
    fast_model_path(source, said.append)
    assert len(made) == 2 and target.read_bytes() == b"GGUF modelderived"


def test_a_model_without_fast_weights_runs_as_shipped_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        embedded = embedded_model_path()
    except ConfigError as e:
        pytest.skip(f"the embedded model is not available here: {e}")

    def fail(source: Path) -> Path:
        raise ConfigError(f"cannot write the LLM's fast weights to {source}: disk full")

    monkeypatch.setattr(llama, "fast_model_path", fail)
    with caplog.at_level(logging.WARNING, logger="npc_bridge.llm"):
        model = llama.LlamaCppLlm(n_ctx=256)
    try:
        assert model.path == embedded
        assert "shipped weights" in caplog.text and "disk full" in caplog.text
    finally:
        model.close()


def test_the_embedded_model_loads_its_fast_weights() -> None:
    """The real derivation (about 40 s on two cores the first time, then cached)."""
    try:
        embedded = embedded_model_path()
    except ConfigError as e:
        pytest.skip(f"the embedded model is not available here: {e}")
    fast = fast_model_path(embedded)
    with embedded.open("rb") as f:
        shipped = read_layout(f)
    with fast.open("rb") as f:
        derived = read_layout(f)
    assert derived.kv == shipped.kv
    types = {t.name: t.type for t in shipped.tensors}
    changed = Counter(
        re.sub(r"blk\.\d+\.", "", t.name) for t in derived.tensors if t.type != types[t.name]
    )
    assert changed == {"ffn_gate.weight": 24, "ffn_up.weight": 24}
    assert {t.type for t in derived.tensors if FAST_TENSORS.search(t.name)} == {IQ4_NL_TYPE}
    model = llama.LlamaCppLlm(n_ctx=256)
    try:
        assert model.path == fast
    finally:
        model.close()
