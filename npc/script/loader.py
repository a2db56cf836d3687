"""The game's behaviour scripts: load every file in scripts_dir, reload the ones that change.

A changed file is swapped in only when it runs without error; a broken one is reported
(file, line, reason) and its last good version keeps serving. Readers see whole snapshots
(`Scripts.current`), replaced, never changed in place.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bridge.errors import DesignerError
from npc.designer.actions import run_module
from npc.designer.fingerprint import Fingerprints
from npc.script.api import Collected, Goal, Hook, collecting

log = logging.getLogger("npc_bridge.script")

POOL_THREADS = 4  # sync hooks at once; a hook stuck past its limit holds one


@dataclass(frozen=True, slots=True)
class ScriptOptions:
    """The [scripts] table."""

    timeout_s: float = 2.0  # a hook running longer is reported and skipped
    wait_s: float = 8.0  # a proactive line waits this long for the player to finish
    intent_threshold: float = 0.72  # similarity at which a line matches an intent phrase


@dataclass(frozen=True, slots=True)
class ScriptSet:
    """Every hook and goal of the scripts as last loaded."""

    hooks: tuple[Hook, ...] = ()
    goals: tuple[Goal, ...] = ()

    def hooks_for(self, kind: str, npc: str) -> list[Hook]:
        return [h for h in self.hooks if h.kind == kind and h.concerns(npc)]

    def goals_for(self, npc: str) -> list[Goal]:
        return [g for g in self.goals if g.concerns(npc)]

    def goal(self, npc: str, name: str) -> Goal | None:
        return next((g for g in self.goals_for(npc) if g.name == name), None)


@dataclass(frozen=True, slots=True)
class ScriptReload:
    """What one look at the folder changed: files swapped in or removed, and what broke."""

    loaded: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    errors: tuple[DesignerError, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.loaded or self.removed)


@dataclass
class _State:
    files: dict[Path, Collected] = field(default_factory=dict)
    broken: dict[Path, DesignerError] = field(default_factory=dict)


class Scripts:
    """The behaviour scripts in `folder` (`*.py`; names starting with "_" are skipped)."""

    def __init__(self, folder: Path, options: ScriptOptions | None = None) -> None:
        self.folder = Path(folder)
        self.options = options or ScriptOptions()
        self.current = ScriptSet()
        self.pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="npc-script")
        self._state = _State()
        self._prints = Fingerprints()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: Path | str, options: ScriptOptions | None = None) -> Scripts:
        """Load every script at startup; a broken one raises its DesignerError."""
        scripts = cls(Path(folder), options)
        if not scripts.folder.is_dir():
            raise DesignerError(scripts.folder, None, "scripts folder does not exist")
        result = scripts.poll()
        if result.errors:
            raise result.errors[0]
        return scripts

    @property
    def broken(self) -> dict[Path, DesignerError]:
        return dict(self._state.broken)

    def poll(self) -> ScriptReload:
        """Re-run the files that changed since the last look (blocking: file reads, imports)."""
        with self._lock:
            return self._scan()

    async def watch(self, interval_s: float, on_change: Callable[[ScriptReload], None]) -> None:
        """Poll every `interval_s` in a worker thread until cancelled; `on_change` hears of
        every poll that changed something or found a broken file."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                change = await asyncio.to_thread(self.poll)
            except Exception:
                log.exception("scripts: reload failed; the last good set keeps serving")
                continue
            if change.changed or change.errors:
                on_change(change)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _scan(self) -> ScriptReload:
        state = self._state
        present = (
            [p for p in sorted(self.folder.glob("*.py")) if not p.name.startswith("_")]
            if self.folder.is_dir()
            else []
        )
        removed = [p for p in state.files if p not in present]
        for path in [*removed, *(p for p in state.broken if p not in present)]:
            state.files.pop(path, None)
            state.broken.pop(path, None)
            self._prints.forget(path)
        loaded, errors = [], []
        for path in present:
            data = self._prints.changed(path)
            if data is None:
                continue
            try:
                found = self._run(path, data)
                _check_goals(path, found, {p: c for p, c in state.files.items() if p != path})
            except DesignerError as e:
                state.broken[path] = e
                errors.append(e)
                log.warning("%s (the last good version keeps serving)", e)
                continue
            state.files[path] = found
            state.broken.pop(path, None)
            loaded.append(path.name)
        if loaded or removed:
            files = [state.files[p] for p in sorted(state.files)]
            self.current = ScriptSet(
                tuple(h for c in files for h in c.hooks), tuple(g for c in files for g in c.goals)
            )
        return ScriptReload(tuple(loaded), tuple(p.name for p in removed), tuple(errors))

    @staticmethod
    def _run(path: Path, data: bytes) -> Collected:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DesignerError(path, None, f"not UTF-8 text: {e}") from e
        with collecting() as found:
            try:
                run_module(path, text, "npc_script")
            except DesignerError:
                raise
            except Exception as e:  # raised by a decorator's own checks, outside exec
                raise DesignerError(path, None, f"{type(e).__name__}: {e}") from e
        return found


def _check_goals(path: Path, found: Collected, others: dict[Path, Collected]) -> None:
    """Goal names are unique per NPC: a second definition is an error at its line."""
    seen: list[Goal] = [g for c in others.values() for g in c.goals]
    for goal in found.goals:
        for other in seen:
            overlap = goal.npcs is None or other.npcs is None or goal.npcs & other.npcs
            if other.name == goal.name and overlap:
                line = goal.source.rpartition(":")[2]
                raise DesignerError(
                    path,
                    int(line) if line.isdigit() else None,
                    f"goal '{goal.name}' is already defined at {other.source}",
                )
        seen.append(goal)
