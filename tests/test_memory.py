"""Memory: turns, summaries and relationships survive reopening, a SIGKILL, and many threads."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from bridge.errors import ConfigError
from npc.memory import SCHEMA_VERSION, Memory


def test_turns_come_back_oldest_first_per_pair(tmp_path: Path) -> None:
    memory = Memory(tmp_path / "m.db")
    ids = [memory.add_turn("brakka", "p1", "player", f"line {i}") for i in range(5)]
    memory.add_turn("brakka", "p2", "player", "someone else")
    memory.add_turn("guard", "p1", "player", "another NPC")
    memory.add_turn(
        "brakka",
        "p1",
        "npc",
        "Red it is.",
        session="s1",
        attributes={"humor": 3},
        meta={"action": "paint_mech"},
    )

    recent = memory.recent("brakka", "p1", 3)
    assert [t.text for t in recent] == ["line 3", "line 4", "Red it is."]
    assert recent[-1].role == "npc"
    assert recent[-1].session == "s1"
    assert recent[-1].attributes == {"humor": 3}
    assert recent[-1].meta == {"action": "paint_mech"}
    assert recent[0].attributes is None
    assert ids == sorted(ids)
    assert memory.count("brakka", "p1") == 6
    assert memory.count("brakka", "nobody") == 0
    with pytest.raises(ValueError, match="role"):
        memory.add_turn("brakka", "p1", "narrator", "no such role")
    memory.close()


def test_last_finds_the_latest_turn_of_a_role(tmp_path: Path) -> None:
    memory = Memory(tmp_path / "m.sqlite3")
    assert memory.last("brakka", "p1", "player") is None
    first = memory.add_turn("brakka", "p1", "player", "hello")
    memory.add_turn("brakka", "p1", "npc", "hi")
    memory.add_turn("brakka", "p2", "player", "someone else")
    last = memory.last("brakka", "p1", "player")
    assert last is not None and (last.id, last.text) == (first, "hello")
    latest = memory.add_turn("brakka", "p1", "player", "again")
    assert memory.last("brakka", "p1", "player").id == latest  # type: ignore[union-attr]


def test_rolling_summary_covers_turns_up_to_its_id(tmp_path: Path) -> None:
    memory = Memory(tmp_path / "m.db")
    assert memory.summary("brakka", "p1").text == ""
    assert memory.summary("brakka", "p1").upto_id == 0
    first = [memory.add_turn("brakka", "p1", "player", f"t{i}") for i in range(4)]
    assert [t.text for t in memory.since_summary("brakka", "p1")] == ["t0", "t1", "t2", "t3"]

    memory.set_summary("brakka", "p1", "The player wants a red mech.", first[2])
    memory.add_turn("brakka", "p1", "npc", "t4")
    assert memory.summary("brakka", "p1").text == "The player wants a red mech."
    assert [t.text for t in memory.since_summary("brakka", "p1")] == ["t3", "t4"]
    memory.set_summary("brakka", "p1", "Newer.", first[3])
    assert memory.summary("brakka", "p1").upto_id == first[3]
    assert memory.summary("brakka", "p2").text == ""


def test_relationships_clamp_and_stay_per_pair(tmp_path: Path) -> None:
    memory = Memory(tmp_path / "m.db")
    assert memory.relationship("brakka", "p1") == {}
    assert memory.change_relationship("brakka", "p1", "trust", 30) == 30
    assert memory.change_relationship("brakka", "p1", "trust", 90) == 100
    assert memory.change_relationship("brakka", "p1", "trust", -500) == -100
    assert memory.change_relationship("brakka", "p1", "debt", 7, lo=0, hi=5) == 5
    assert memory.set_relationship("brakka", "p1", "fear", 250) == 100
    assert memory.set_relationship("brakka", "p1", "fear", -3, lo=0) == 0
    assert memory.relationship("brakka", "p1") == {"debt": 5, "fear": 0, "trust": -100}
    assert memory.relationship("brakka", "p2") == {}
    with pytest.raises(ValueError, match="bounds"):
        memory.change_relationship("brakka", "p1", "trust", 1, lo=5, hi=0)
    assert memory.relationship("brakka", "p1")["trust"] == -100  # the failed change rolled back


def test_everything_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "m.db"
    memory = Memory(path)
    turn = memory.add_turn("brakka", "p1", "player", "Paint my mech red.", meta={"n": 1})
    memory.set_summary("brakka", "p1", "Wants red paint.", turn)
    memory.change_relationship("brakka", "p1", "trust", 12)
    memory.close()

    again = Memory(path)
    assert [t.text for t in again.recent("brakka", "p1", 10)] == ["Paint my mech red."]
    assert again.recent("brakka", "p1", 10)[0].meta == {"n": 1}
    assert again.summary("brakka", "p1").text == "Wants red paint."
    assert again.relationship("brakka", "p1") == {"trust": 12}
    assert again.add_turn("brakka", "p1", "npc", "Red it is.") > turn


def test_database_is_wal_with_versioned_schema(tmp_path: Path) -> None:
    Memory(tmp_path / "m.db").close()
    db = sqlite3.connect(tmp_path / "m.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="schema"):
        Memory(tmp_path / "m.db")


def test_a_file_that_is_not_a_database_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "m.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match=r"m\.db"):
        Memory(tmp_path / "m.db")


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from npc.memory import Memory
    memory = Memory(sys.argv[1])
    for i in range(3):
        memory.add_turn("brakka", "p1", "player", f"line {i}")
    memory.change_relationship("brakka", "p1", "trust", 5)
    turn = memory.add_turn("brakka", "p1", "npc", "the last words")
    os.kill(os.getpid(), signal.SIGKILL)  # right after add_turn returns: no close, no exit
    """
)


def test_a_process_killed_right_after_add_turn_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert (tmp_path / "m.db-wal").exists()  # killed before a checkpoint could tidy up

    memory = Memory(path)
    texts = [t.text for t in memory.recent("brakka", "p1", 10)]
    assert texts == ["line 0", "line 1", "line 2", "the last words"]
    assert memory.relationship("brakka", "p1") == {"trust": 5}


def test_concurrent_writes_from_threads_are_all_kept(tmp_path: Path) -> None:
    memory = Memory(tmp_path / "m.db")
    threads, per_thread = 8, 40
    failures: list[BaseException] = []

    def talk(n: int) -> None:
        try:
            for i in range(per_thread):
                memory.add_turn("brakka", f"p{n % 2}", "player", f"{n}:{i}")
                memory.change_relationship("brakka", "shared", "visits", 1, hi=10_000)
        except BaseException as e:
            failures.append(e)

    workers = [threading.Thread(target=talk, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert failures == []
    total = memory.count("brakka", "p0") + memory.count("brakka", "p1")
    assert total == threads * per_thread
    assert memory.relationship("brakka", "shared") == {"visits": threads * per_thread}
    ids = [t.id for t in memory.recent("brakka", "p0", 1000)]
    assert ids == sorted(set(ids))
    # Each thread's own turns are stored in the order it wrote them.
    mine = [t.text for t in memory.recent("brakka", "p0", 1000) if t.text.startswith("2:")]
    assert mine == [f"2:{i}" for i in range(per_thread)]
