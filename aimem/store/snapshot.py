"""Database snapshots and inspection for backup bundles (all of backup's SQL).

``snapshot_to`` uses SQLite's online backup API in one step: a single read
transaction, so the copy is consistent while other processes keep writing
(WAL readers never block writers). ``inspect_database`` opens a copy read-only
and reports its integrity, schema version and record counts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aimem.store.connection import translate_sqlite_error

COUNTED_TABLES = ("fix_history", "issue_patterns", "model_characteristics", "aimem_segments")


def snapshot_to(conn: sqlite3.Connection, dest: Path, source_path: Path) -> None:
    """Copy the database behind ``conn`` into a new file ``dest`` (consistent snapshot).

    ``dest`` is scratch in WAL mode: it is not fsynced (whatever is made from
    it must be); the caller switches it to ``journal_mode = DELETE`` when done.
    """
    try:
        target = sqlite3.connect(dest, isolation_level=None)
        try:
            # A scratch copy: the bundle made from it is what gets fsynced, so
            # syncing the copy too would force all of it to disk for nothing
            # (it more than doubles the backup time at 100k rows).
            target.execute("PRAGMA synchronous = OFF")
            target.execute("PRAGMA journal_mode = OFF")
            conn.backup(target, pages=-1)
            # In WAL mode, as aimem opens it (switching modes later would sync it).
            target.execute("PRAGMA journal_mode = WAL")
        finally:
            target.close()
    except sqlite3.Error as error:
        raise translate_sqlite_error(error, source_path) from error


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Row counts of the seed tables, segments, archived records and all attempts."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    result: dict[str, int] = {}
    for table in COUNTED_TABLES:
        result[table] = (
            int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            if table in tables
            else 0
        )
    result["archived_records"] = (
        int(conn.execute("SELECT coalesce(sum(row_count), 0) FROM aimem_segments").fetchone()[0])
        if "aimem_segments" in tables
        else 0
    )
    result["total_attempts"] = (
        int(conn.execute("SELECT coalesce(sum(attempts), 0) FROM aimem_totals").fetchone()[0])
        if "aimem_totals" in tables
        else result["fix_history"]
    )
    return result


def segment_files(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(name, sha256) of every archive segment the database knows."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "aimem_segments" not in tables:
        return []
    return [(r[0], r[1]) for r in conn.execute("SELECT name, sha256 FROM aimem_segments")]


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: every query inside sees one snapshot of the database."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def inspect_database(path: Path) -> dict[str, Any]:
    """Integrity problems (empty when fine), schema version and counts of a database file."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            problems = [
                str(r[0]) for r in conn.execute("PRAGMA integrity_check(20)") if r[0] != "ok"
            ]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            found = counts(conn) if not problems else {}
            segments = segment_files(conn) if not problems else []
        finally:
            conn.close()
    except sqlite3.Error as error:
        return {"problems": [str(error)], "schema_version": None, "counts": {}, "segments": []}
    return {"problems": problems, "schema_version": version, "counts": found, "segments": segments}


def describe_database(path: Path) -> dict[str, Any]:
    """Schema version, counts and segment files of a database file (no integrity check)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        with read_transaction(conn):
            return {
                "schema_version": int(conn.execute("PRAGMA user_version").fetchone()[0]),
                "counts": counts(conn),
                "segments": segment_files(conn),
            }
    finally:
        conn.close()
