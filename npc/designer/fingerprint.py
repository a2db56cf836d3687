"""Which designer files changed since the last look: mtime and size first, then a hash."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

# A file modified this recently may change again within the same mtime tick: hash it anyway.
RACY_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class _Print:
    mtime_ns: int
    size: int
    digest: str


class Fingerprints:
    """The last seen state of each file; reading a changed file records its new state."""

    def __init__(self) -> None:
        self._prints: dict[Path, _Print] = {}

    def changed(self, path: Path) -> bytes | None:
        """The file's bytes when they differ from the last look (or it is new), else None."""
        stat = path.stat()
        old = self._prints.get(path)
        racy = time.time_ns() - stat.st_mtime_ns < RACY_NS
        if old and (old.mtime_ns, old.size) == (stat.st_mtime_ns, stat.st_size) and not racy:
            return None
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        self._prints[path] = _Print(stat.st_mtime_ns, stat.st_size, digest)
        return None if old and old.digest == digest else data

    def forget(self, path: Path) -> None:
        """Look at `path` afresh next time, as if new."""
        self._prints.pop(path, None)
