"""What each NPC remembers of each player: every turn, a rolling summary, relationships (SQLite).

One database file, WAL journal with `synchronous=FULL`: a write is on disk when its call
returns, so a killed server loses nothing it has acknowledged. One connection shared by
the event loop and worker threads, serialised by a lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import BackendError, ConfigError

ROLES = ("player", "npc", "action", "event")

# Schema migrations: entry i takes the database from user_version i to i + 1.
_MIGRATIONS = (
    """
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        npc TEXT NOT NULL,
        player TEXT NOT NULL,
        session TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL CHECK (role IN ('player', 'npc', 'action', 'event')),
        text TEXT NOT NULL,
        attributes TEXT,
        meta TEXT,
        at REAL NOT NULL
    );
    CREATE INDEX turns_by_pair ON turns (npc, player, id);
    CREATE TABLE summaries (
        npc TEXT NOT NULL,
        player TEXT NOT NULL,
        text TEXT NOT NULL,
        upto_id INTEGER NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (npc, player)
    );
    CREATE TABLE relationships (
        npc TEXT NOT NULL,
        player TEXT NOT NULL,
        key TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (npc, player, key)
    );
    """,
    """
    CREATE TABLE goals (
        npc TEXT NOT NULL,
        player TEXT NOT NULL,
        name TEXT NOT NULL,
        enabled INTEGER,
        fired INTEGER NOT NULL DEFAULT 0,
        last_at REAL,
        PRIMARY KEY (npc, player, name)
    );
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)
_TURN_COLUMNS = "id, npc, player, session, role, text, attributes, meta, at"


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One stored turn. `at` is Unix time, s; `attributes` the steering it was said with."""

    id: int
    npc: str
    player: str
    session: str
    role: str
    text: str
    attributes: dict[str, int] | None
    meta: dict[str, Any] | None
    at: float


@dataclass(frozen=True, slots=True)
class Summary:
    """The rolling summary of an NPC's history with a player, covering turns up to `upto_id`."""

    text: str = ""
    upto_id: int = 0


@dataclass(frozen=True, slots=True)
class GoalRecord:
    """A script goal's state for one NPC and player; `enabled` None: as the script says."""

    enabled: bool | None = None
    fired: int = 0  # times it fired
    last_at: float | None = None  # when it last fired, Unix time, s


class Memory:
    """The memory database at `path` (created with its folder when missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: each statement is its own transaction unless `_write` opens one.
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except (sqlite3.Error, OSError) as e:
            raise ConfigError(f"memory database {self.path}: {e}") from e

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"memory database {self.path} has schema {version}; this NPC Bridge "
                f"knows up to {SCHEMA_VERSION}"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._write() as db:
                for statement in _MIGRATIONS[target - 1].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (and synced) on leaving, rolled back on error."""
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            yield self._db

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as e:
            busy = "locked" in str(e) or "busy" in str(e)
            raise BackendError(f"memory: {e}", retryable=busy, stage="memory") from e
        except sqlite3.Error as e:
            raise BackendError(f"memory: {e}", stage="memory") from e

    def add_turn(
        self,
        npc: str,
        player: str,
        role: str,
        text: str,
        *,
        session: str = "",
        attributes: dict[str, int] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> int:
        """Store one turn; it is committed when this returns. Returns its id (ascending)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        row = (npc, player, session, role, text, _dump(attributes), _dump(meta), time.time())
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO turns (npc, player, session, role, text, attributes, meta, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        assert cursor.lastrowid is not None  # always set after an INSERT
        return cursor.lastrowid

    def recent(self, npc: str, player: str, limit: int) -> list[TurnRecord]:
        """The last `limit` turns between `npc` and `player`, oldest first."""
        rows = self._turns(npc, player, "", (), f"ORDER BY id DESC LIMIT {max(0, int(limit))}")
        return rows[::-1]

    def last(self, npc: str, player: str, role: str) -> TurnRecord | None:
        """The latest turn of `role` between `npc` and `player`; None when there is none."""
        rows = self._turns(npc, player, "AND role = ?", (role,), "ORDER BY id DESC LIMIT 1")
        return rows[0] if rows else None

    def _turns(
        self, npc: str, player: str, where: str, params: tuple[Any, ...], order: str
    ) -> list[TurnRecord]:
        """Turns between `npc` and `player` matching `where` (SQL after the pair), in `order`."""
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_TURN_COLUMNS} FROM turns WHERE npc = ? AND player = ? {where} {order}",
                (npc, player, *params),
            ).fetchall()
        return [_record(row) for row in rows]

    def count(self, npc: str, player: str) -> int:
        with self._read() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM turns WHERE npc = ? AND player = ?", (npc, player)
            ).fetchone()
        return int(row[0])

    def summary(self, npc: str, player: str) -> Summary:
        """The rolling summary; empty with `upto_id` 0 before the first one is set."""
        with self._read() as db:
            row = db.execute(
                "SELECT text, upto_id FROM summaries WHERE npc = ? AND player = ?", (npc, player)
            ).fetchone()
        return Summary(row[0], int(row[1])) if row else Summary()

    def set_summary(self, npc: str, player: str, text: str, upto_id: int) -> None:
        """Replace the summary; it now covers every turn up to and including `upto_id`."""
        with self._write() as db:
            db.execute(
                "INSERT INTO summaries (npc, player, text, upto_id, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (npc, player) DO UPDATE SET "
                "text = excluded.text, upto_id = excluded.upto_id, at = excluded.at",
                (npc, player, text, upto_id, time.time()),
            )

    def since_summary(self, npc: str, player: str) -> list[TurnRecord]:
        """The turns the summary does not cover yet, oldest first."""
        upto = self.summary(npc, player).upto_id
        return self._turns(npc, player, "AND id > ?", (upto,), "ORDER BY id")

    def relationship(self, npc: str, player: str) -> dict[str, int]:
        """Every relationship value the NPC holds about the player ("trust": 20, ...)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT key, value FROM relationships WHERE npc = ? AND player = ? ORDER BY key",
                (npc, player),
            ).fetchall()
        return {key: int(value) for key, value in rows}

    def change_relationship(
        self, npc: str, player: str, key: str, delta: int, lo: int = -100, hi: int = 100
    ) -> int:
        """Add `delta` to a value (0 when unset), clamped to lo..hi; returns the new value."""
        with self._write() as db:
            row = db.execute(
                "SELECT value FROM relationships WHERE npc = ? AND player = ? AND key = ?",
                (npc, player, key),
            ).fetchone()
            value = _clamp((int(row[0]) if row else 0) + delta, lo, hi)
            _put_relationship(db, npc, player, key, value)
        return value

    def set_relationship(
        self, npc: str, player: str, key: str, value: int, lo: int = -100, hi: int = 100
    ) -> int:
        """Set a value, clamped to lo..hi; returns what was stored."""
        value = _clamp(value, lo, hi)
        with self._write() as db:
            _put_relationship(db, npc, player, key, value)
        return value

    def goal(self, npc: str, player: str, name: str) -> GoalRecord:
        """A goal's stored state; the default record when it never fired nor was switched."""
        with self._read() as db:
            row = db.execute(
                "SELECT enabled, fired, last_at FROM goals WHERE npc = ? AND player = ? "
                "AND name = ?",
                (npc, player, name),
            ).fetchone()
        if row is None:
            return GoalRecord()
        enabled, fired, last_at = row
        return GoalRecord(None if enabled is None else bool(enabled), int(fired), last_at)

    def set_goal_enabled(self, npc: str, player: str, name: str, enabled: bool) -> None:
        """Switch a goal on or off for this NPC and player (it outlives the script's default)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO goals (npc, player, name, enabled) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (npc, player, name) DO UPDATE SET enabled = excluded.enabled",
                (npc, player, name, int(enabled)),
            )

    def set_goal_fired(
        self, npc: str, player: str, name: str, fired: int, last_at: float | None
    ) -> None:
        """Put a goal's count and last firing back as they were."""
        with self._write() as db:
            db.execute(
                "UPDATE goals SET fired = ?, last_at = ? WHERE npc = ? AND player = ? "
                "AND name = ?",
                (fired, last_at, npc, player, name),
            )

    def goal_fired(self, npc: str, player: str, name: str, at: float | None = None) -> int:
        """Count one firing of a goal at `at` (now by default); returns the times fired."""
        at = time.time() if at is None else at
        with self._write() as db:
            db.execute(
                "INSERT INTO goals (npc, player, name, fired, last_at) VALUES (?, ?, ?, 1, ?) "
                "ON CONFLICT (npc, player, name) DO UPDATE SET "
                "fired = fired + 1, last_at = excluded.last_at",
                (npc, player, name, at),
            )
            row = db.execute(
                "SELECT fired FROM goals WHERE npc = ? AND player = ? AND name = ?",
                (npc, player, name),
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _put_relationship(db: sqlite3.Connection, npc: str, player: str, key: str, value: int) -> None:
    db.execute(
        "INSERT INTO relationships (npc, player, key, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (npc, player, key) DO UPDATE SET value = excluded.value",
        (npc, player, key, value),
    )


def _clamp(value: int, lo: int, hi: int) -> int:
    if lo > hi:
        raise ValueError(f"relationship bounds lo {lo} > hi {hi}")
    return max(lo, min(hi, value))


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _record(row: tuple[Any, ...]) -> TurnRecord:
    id_, npc, player, session, role, text, attributes, meta, at = row
    return TurnRecord(
        int(id_),
        npc,
        player,
        session,
        role,
        text,
        None if attributes is None else json.loads(attributes),
        None if meta is None else json.loads(meta),
        float(at),
    )
