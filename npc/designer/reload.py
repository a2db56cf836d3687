"""Live designer files: the current good NPCs, actions and lore, reloaded as files change.

A changed file is swapped in only when it loads; a broken one is reported (file, line,
reason) and its last good version keeps serving. Readers see whole snapshots: the
published dicts are replaced, never changed in place.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bridge.errors import DesignerError
from npc.designer.actions import ActionSpec, load_action_file
from npc.designer.fingerprint import Fingerprints
from npc.designer.persona import NpcFile, check_actions, check_unique, parse_npc

if TYPE_CHECKING:
    from npc.rag.lore import LoreDoc

log = logging.getLogger("npc_bridge.designer")
T = TypeVar("T")
Specs = dict[str, ActionSpec]  # one module's actions by name


@dataclass(frozen=True, slots=True)
class Reload:
    """What one poll changed: ids and action names swapped in or removed, and what broke."""

    npcs: tuple[str, ...] = ()
    removed_npcs: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    removed_actions: tuple[str, ...] = ()
    lore: bool = False  # the lore was reloaded
    errors: tuple[DesignerError, ...] = ()  # broken files; their last good version stays

    @property
    def changed(self) -> bool:
        return bool(
            self.npcs or self.removed_npcs or self.actions or self.removed_actions or self.lore
        )


@dataclass
class _Changes:
    npcs: set[str] = field(default_factory=set)
    removed_npcs: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    removed_actions: set[str] = field(default_factory=set)
    lore: bool = False
    errors: dict[str, DesignerError] = field(default_factory=dict)  # by path: latest wins

    def result(self) -> Reload:
        return Reload(
            tuple(sorted(self.npcs)),
            tuple(sorted(self.removed_npcs - self.npcs)),
            tuple(sorted(self.actions)),
            tuple(sorted(self.removed_actions - self.actions)),
            self.lore,
            tuple(self.errors.values()),
        )


Listener = Callable[[Reload], None]


class Designs:
    """The designer files of one game, as last loaded without errors."""

    def __init__(
        self, npcs_dir: Path, actions_dir: Path | None = None, lore_dir: Path | None = None
    ) -> None:
        self.npcs_dir, self.actions_dir, self.lore_dir = npcs_dir, actions_dir, lore_dir
        self.npcs: dict[str, NpcFile] = {}
        self.actions: dict[str, ActionSpec] = {}
        self.lore: list[LoreDoc] = []  # lore documents, by file name
        self.broken: dict[Path, DesignerError] = {}  # files whose last change did not load
        self._npc_files: dict[Path, NpcFile] = {}
        self._action_files: dict[Path, Specs] = {}
        self._lore_files: dict[Path, LoreDoc] = {}
        self._prints = Fingerprints()
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        npcs_dir: Path | str,
        actions_dir: Path | str | None = None,
        lore_dir: Path | str | None = None,
    ) -> Designs:
        """Load everything at startup; any broken file raises its DesignerError."""
        designs = cls(
            Path(npcs_dir),
            None if actions_dir is None else Path(actions_dir),
            None if lore_dir is None else Path(lore_dir),
        )
        if not designs.npcs_dir.is_dir():
            raise DesignerError(designs.npcs_dir, None, "NPC folder does not exist")
        designs._scan(strict=True)
        if not designs.npcs:
            raise DesignerError(designs.npcs_dir, None, "no NPC files (*.toml)")
        return designs

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` after each reload with changes or errors; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def poll(self) -> Reload:
        """Re-read the files that changed since the last look (blocking: file reads, imports)."""
        result = self._scan(strict=False)
        self._notify(result)
        return result

    async def watch(
        self,
        interval_s: float = 1.0,
        on_change: Callable[[Reload], Awaitable[None] | None] | None = None,
    ) -> None:
        """Poll every `interval_s` in a worker thread until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                result = await asyncio.to_thread(self._scan, False)
            except Exception:
                log.exception("designer files: reload failed; the last good set keeps serving")
                continue
            self._notify(result)
            if on_change is not None and (result.changed or result.errors):
                outcome = on_change(result)
                if inspect.isawaitable(outcome):
                    await outcome

    def _notify(self, result: Reload) -> None:
        for error in result.errors:
            log.warning("%s (the last good version keeps serving)", error)
        if not (result.changed or result.errors):
            return
        for listener in list(self._listeners):
            try:
                listener(result)
            except Exception:
                log.exception("designer reload listener failed")

    def _scan(self, strict: bool) -> Reload:
        with self._lock:
            out = _Changes()
            self._scan_actions(out, strict)
            self._scan_npcs(out, strict)
            accepted = out.npcs or out.removed_npcs or out.actions or out.removed_actions
            if accepted and self.broken:
                # What broke because of another file (a clash, a missing action) may load now.
                for path in self.broken:
                    if path.suffix in (".py", ".toml"):
                        self._prints.forget(path)
                self._scan_actions(out, strict)
                self._scan_npcs(out, strict)
            if out.actions or out.removed_actions:
                self._check_actions_exist(out, strict)
            self._scan_lore(out, strict)
            return out.result()

    def _scan_folder(
        self,
        out: _Changes,
        present: list[Path],
        known: dict[Path, T],
        parse: Callable[[Path, str, dict[Path, T]], T],
        strict: bool,
    ) -> tuple[dict[Path, T], list[tuple[T | None, T]], list[T]]:
        """(the files' new values, (old, new) for each one swapped in, the removed ones).

        `parse` gets the text and the other files' values; it raises DesignerError.
        """
        files = dict(known)
        gone = [path for path in files if path not in present]
        for path in [*gone, *(p for p in self.broken if not p.exists())]:
            self._prints.forget(path)
            self.broken.pop(path, None)
        removed = [files.pop(path) for path in gone]
        swapped: list[tuple[T | None, T]] = []
        for path in present:
            data = self._prints.changed(path)
            if data is None:
                continue
            try:
                value = parse(path, _text(path, data), files)
            except DesignerError as e:
                if strict:
                    raise
                self.broken[path] = out.errors[str(path)] = e
                continue
            swapped.append((files.get(path), value))
            files[path] = value
            self.broken.pop(path, None)
            out.errors.pop(str(path), None)
        return dict(sorted(files.items())), swapped, removed

    def _scan_actions(self, out: _Changes, strict: bool) -> None:
        folder = self.actions_dir
        present = [] if folder is None or not folder.is_dir() else _files(folder, "*.py")

        def parse(path: Path, text: str, files: dict[Path, Specs]) -> Specs:
            specs = load_action_file(path, text)
            for name, spec in specs.items():
                for other, theirs in files.items():
                    if other != path and name in theirs:
                        where = f"is already defined at {theirs[name].source}"
                        raise DesignerError(path, spec.line, f"action '{name}' {where}")
            return specs

        files, swapped, removed = self._scan_folder(out, present, self._action_files, parse, strict)
        for old, new in swapped:
            out.removed_actions.update(set(old or {}) - set(new))
            out.actions.update(new)
        for old in removed:
            out.removed_actions.update(old)
        self._action_files = files
        self.actions = {name: s for specs in files.values() for name, s in specs.items()}

    def _scan_npcs(self, out: _Changes, strict: bool) -> None:
        present = _files(self.npcs_dir, "*.toml") if self.npcs_dir.is_dir() else []

        def parse(path: Path, text: str, files: dict[Path, NpcFile]) -> NpcFile:
            npc = parse_npc(path, text)
            check_unique(npc, [n for p, n in files.items() if p != path])
            check_actions(npc, text, self.actions, self._actions_where)
            return npc

        files, swapped, removed = self._scan_folder(out, present, self._npc_files, parse, strict)
        for old, new in swapped:
            if old is not None and old.id != new.id:
                out.removed_npcs.add(old.id)
            out.npcs.add(new.id)
        out.removed_npcs.update(npc.id for npc in removed)
        self._npc_files = files
        self.npcs = {npc.id: npc for npc in files.values()}

    def _check_actions_exist(self, out: _Changes, strict: bool) -> None:
        """An NPC still naming an action that went away is reported; it keeps serving
        without it (the brain offers only actions that exist)."""
        for path, npc in self._npc_files.items():
            if str(path) in out.errors or not path.exists():
                continue
            try:
                check_actions(
                    npc, path.read_text(encoding="utf-8"), self.actions, self._actions_where
                )
            except DesignerError as e:
                if strict:
                    raise
                out.errors[str(path)] = e

    @property
    def _actions_where(self) -> str:
        return str(self.actions_dir or "any actions folder")

    def _scan_lore(self, out: _Changes, strict: bool) -> None:
        folder = self.lore_dir
        if folder is None or not folder.is_dir():
            return
        try:
            from npc.rag.lore import parse_lore_text
        except ImportError:
            log.warning("lore in %s not loaded: npc.rag.lore is not available", folder)
            return
        present = sorted(folder.glob("*.md"))
        files, swapped, removed = self._scan_folder(
            out,
            present,
            self._lore_files,
            lambda path, text, _: parse_lore_text(path, text),
            strict,
        )
        out.lore = out.lore or bool(swapped or removed)
        self._lore_files = files
        self.lore = list(files.values())


def _files(folder: Path, pattern: str) -> list[Path]:
    return [p for p in sorted(folder.glob(pattern)) if not p.name.startswith("_")]


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DesignerError(path, None, f"not UTF-8 text: {e}") from e
