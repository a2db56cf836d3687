"""Piper phoneme timings: the voice patched once into a cache, its alignments as Phones."""

# ruff: noqa: RUF001  (IPA symbols are meant)

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from npc.tts.base import PAUSE, Phone

log = logging.getLogger("npc_bridge.tts")

# piper's own ids: BOS, EOS, padding; with punctuation and word gaps they are pauses.
_PAUSES = frozenset("^$_ .,;:!?¡¿—–-…\"'()«»")
_STRESS = frozenset("ˈˌ")  # belongs to the syllable that follows
# Marks that modify the phoneme before them: length, aspiration, palatal, r-colour, and
# combining diacritics (nasal, syllabic, non-syllabic...).
_MODIFIERS = frozenset("ːˑʰʲ˞ʷˠˤ")
# Two codepoints espeak-ng writes as one phoneme: diphthongs and affricates.
_JOINED = frozenset({"aɪ", "aʊ", "eɪ", "oʊ", "ɔɪ", "əʊ", "eə", "ɪə", "ʊə", "tʃ", "dʒ"})
_PATCH_TIMEOUT_S = 300


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/npc-bridge/voices, else ~/.cache/npc-bridge/voices."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "npc-bridge" / "voices"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def aligned_model(model: Path, cache_dir: Path) -> Path | None:
    """The voice patched to output phoneme durations, made once into `cache_dir` as
    `<sha256 of the model>.onnx`; None (with a warning) when patching is not possible."""
    try:
        target = cache_dir / f"{file_sha256(model)}.onnx"
        if target.is_file():
            return target
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        log.warning("piper: no phoneme timings for %s: cache %s: %s", model.name, cache_dir, e)
        return None
    log.info("piper: patching %s for phoneme timings, once, into %s", model.name, target)
    fd, tmp = tempfile.mkstemp(suffix=".onnx.part", dir=cache_dir)
    os.close(fd)
    command = [sys.executable, "-m", "piper.patch_voice_with_alignment", str(model)]
    try:
        done = subprocess.run(
            [*command, "--output", tmp],
            capture_output=True,
            text=True,
            timeout=_PATCH_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0 or not Path(tmp).stat().st_size:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(why[-1] if why else f"exit status {done.returncode}")
        os.replace(tmp, target)  # atomic: a concurrent loader sees all of it or nothing
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        log.warning(
            "piper: could not patch %s for phoneme timings (%s); speaking without them "
            "(is the onnx package installed?)",
            model.name,
            e,
        )
        Path(tmp).unlink(missing_ok=True)
        return None
    log.info("piper: phoneme-timed voice cached at %s", target)
    return target


def phones(alignment: Iterable[tuple[str, int]], length: int) -> list[Phone]:
    """(piper phoneme, samples) pairs to Phones covering 0..length: stress marks join the
    next phoneme, length marks and diacritics the one before, diphthongs and affricates
    become one phone, and piper's special ids and punctuation become pauses."""
    out: list[Phone] = []
    at = 0
    start = 0  # where the next phone starts: earlier than `at` after a stress mark
    for symbol, samples in alignment:
        end = min(length, at + int(samples))
        if symbol in _STRESS:
            at = end
            continue
        last = out[-1] if out else None
        if last and last.symbol != PAUSE and (_modifies(symbol) or last.symbol + symbol in _JOINED):
            out[-1] = Phone(last.symbol + symbol, last.start, end)
        elif symbol in _PAUSES or symbol.isspace():
            if last and last.symbol == PAUSE:
                out[-1] = Phone(PAUSE, last.start, end)
            else:
                out.append(Phone(PAUSE, start, end))
        else:
            out.append(Phone(symbol, start, end))
        at = start = end
    if out and out[-1].end < length:
        out[-1] = Phone(out[-1].symbol, out[-1].start, length)
    return [p for p in out if p.end > p.start]


def _modifies(symbol: str) -> bool:
    return symbol in _MODIFIERS or all(0x300 <= ord(c) <= 0x36F for c in symbol)
