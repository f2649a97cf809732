"""A repository whose database is not yet in WAL mode opens while another process writes it.

Switching to WAL takes a write lock from a read lock. When another
connection holding the write lock starts to commit, SQLite gives up on the
switch at once instead of calling the busy handler (waiting could deadlock),
so several processes opening a new repository together failed with
"database is locked".
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from aimem import AIMemory


def test_the_switch_to_wal_waits_for_a_writer_that_commits(tmp_path: Path) -> None:
    repo = tmp_path / "AIMemory"
    repo.mkdir()
    database = repo / "ai_memory.db"
    writer = sqlite3.connect(database, check_same_thread=False, isolation_level=None, timeout=30)
    writer.execute("CREATE TABLE other_program (x INTEGER)")  # rollback journal
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO other_program VALUES (1)")
    committed = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    committed.start()
    try:
        with AIMemory(repo) as memory:
            assert memory.get_memory_stats()["total_fixes_attempted"] == 0
    finally:
        committed.join()
        writer.close()
    check = sqlite3.connect(database)
    try:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert check.execute("SELECT x FROM other_program").fetchall() == [(1,)]
    finally:
        check.close()
