"""SQLite connections: WAL, a busy timeout, and ``BEGIN IMMEDIATE`` write transactions.

Connections run in autocommit mode (``isolation_level=None``) so that every
write transaction is explicit: ``atomic()`` takes the write lock up front with
``BEGIN IMMEDIATE``, which makes concurrent writers queue on the busy timeout
instead of failing with "database is locked" on a lock upgrade.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aimem.errors import (
    AimemError,
    CorruptRepositoryError,
    ReadOnlyRepositoryError,
    StorageFullError,
)

BUSY_TIMEOUT_MS = 60_000
CACHE_KIB = 65_536
# FULL: a commit that returned is on disk even after power loss. NORMAL would be
# about 3x faster per commit but can drop the last commits on power loss (never
# corrupts). Override with AIMEM_SYNCHRONOUS=NORMAL where that trade is wanted.
DEFAULT_SYNCHRONOUS = "FULL"


_WRITE_FAILURES = frozenset(
    {
        "SQLITE_FULL",
        "SQLITE_IOERR_WRITE",
        "SQLITE_IOERR_FSYNC",
        "SQLITE_IOERR_TRUNCATE",
        "SQLITE_IOERR_SHMSIZE",
        "SQLITE_IOERR_DIR_FSYNC",
    }
)


def translate_sqlite_error(error: sqlite3.Error, path: Path) -> AimemError:
    """Turn SQLite's errors into aimem errors that name the database."""
    text = str(error)
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return ReadOnlyRepositoryError(f"cannot write {path}: {text}")
    if "disk is full" in lowered or "database or disk is full" in lowered:
        return StorageFullError(f"no space to write {path}: {text}")
    name = str(getattr(error, "sqlite_errorname", ""))
    if name in _WRITE_FAILURES:
        # A failed write (ENOSPC, EFBIG past a file-size limit, EIO) is not damage:
        # the transaction rolled back and the database is as it was.
        return StorageFullError(
            f"cannot write {path}: {text} ({name}); the disk may be full or a file-size "
            "limit reached; nothing was changed"
        )
    if "malformed" in lowered or "not a database" in lowered or "disk i/o" in lowered:
        return CorruptRepositoryError(
            f"database {path} is damaged: {text}", hint="run 'aimem check' for details"
        )
    if "unable to open" in lowered:
        return ReadOnlyRepositoryError(f"cannot open {path}: {text}")
    if "locked" in lowered or "busy" in lowered:
        return AimemError(f"database {path} stayed locked: {text}", hint="retry later")
    return AimemError(f"database error in {path}: {text}")


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open ``path`` with aimem's pragmas. The caller migrates before use."""
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    try:
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # SQLite's default page cache is 2 MiB; with ten indexes and the search
        # index a bulk insert into a 100k-row history spent a third of its time
        # re-reading pages (bench/run.py). Memory is only taken when used.
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    except sqlite3.Error as error:
        raise translate_sqlite_error(error, path) from error
    return conn


def configure_for_writes(conn: sqlite3.Connection) -> None:
    """WAL and synchronous settings (they write the header, so only after the version check)."""
    synchronous = os.environ.get("AIMEM_SYNCHRONOUS", DEFAULT_SYNCHRONOUS).upper()
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        synchronous = DEFAULT_SYNCHRONOUS
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA temp_store = MEMORY")


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock, polling every millisecond or so while another writer holds it.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... up to 100 ms between tries,
    so under many writers most of the wait was sleep after the lock was free
    (bench/run.py, 8 writer processes). The busy timeout still bounds the wait.
    """
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.0005
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 1.5, 0.005)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


@contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` .. ``COMMIT``, rolled back on any error."""
    _begin_immediate(conn)
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
