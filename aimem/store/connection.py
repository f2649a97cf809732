"""SQLite connections: WAL, a busy timeout, and ``BEGIN IMMEDIATE`` write transactions.

Connections run in autocommit mode (``isolation_level=None``) so that every
write transaction is explicit: ``atomic()`` takes the write lock up front with
``BEGIN IMMEDIATE``, which makes concurrent writers queue on the busy timeout
instead of failing with "database is locked" on a lock upgrade.
"""

from __future__ import annotations

import fcntl
import os
import random
import sqlite3
import threading
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
# Checkpoints: a writer runs a PASSIVE checkpoint itself every CHECKPOINT_EVERY
# commits, after it has left the write queue (Store.transaction), so the copy
# into the database file and its fsync no longer happen while other writers
# wait. SQLite's own automatic checkpoint (run inside COMMIT, so inside the
# queue) stays as a backstop for large transactions and one-shot processes.
CHECKPOINT_EVERY = 48
AUTOCHECKPOINT_PAGES = 4000


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
    if lowered.startswith("could not decode to utf-8"):
        # Python's message quotes the whole value: keep the column, not the bytes
        column = text.split("'")[1] if text.count("'") >= 2 else "?"
        return AimemError(
            f"database {path} holds text that is not valid UTF-8 (column {column})",
            hint="find and correct that text with sqlite3, then run the command again",
        )
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


@contextmanager
def page_cache(conn: sqlite3.Connection, kib: int) -> Iterator[None]:
    """The connection's page cache at ``kib`` KiB for the block, restored afterwards."""
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = {-abs(int(kib))}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {int(cache)}")


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """``PRAGMA journal_mode = WAL``, waiting up to the busy timeout.

    The switch needs the database to itself and SQLite does not call the busy
    handler for it: while another process reads (several processes opening a
    new repository at once), it fails at once with "database is locked".
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.02))


def configure_for_writes(conn: sqlite3.Connection) -> None:
    """WAL and synchronous settings (they write the header, so only after the version check)."""
    synchronous = os.environ.get("AIMEM_SYNCHRONOUS", DEFAULT_SYNCHRONOUS).upper()
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        synchronous = DEFAULT_SYNCHRONOUS
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        _switch_to_wal(conn)
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA temp_store = MEMORY")


@contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` .. ``COMMIT``, rolled back on any error.

    A writer that finds the lock taken waits in SQLite's busy handler, up to
    the busy timeout.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


WRITE_QUEUE_NAME = ".aimem-write.lock"
# Held (flock) by an import while it merges: writers queued behind it keep
# waiting past the busy timeout while it is held (see WriteQueue).
MERGE_LOCK_NAME = ".aimem-merge.lock"


class WriteQueue:
    """Writers of one repository take turns through an ``flock`` on a lock file.

    Waiting for SQLite's write lock means polling it: SQLite's busy handler
    sleeps in steps of up to 100 ms, so under 8 writer processes one waiter
    could lose every race for seconds (slowest write 4.4 s against 0.3 s
    through the queue; docs/performance.md, "Speed paths"). A waiter blocked
    in ``flock`` uses no CPU, the kernel wakes it when the lock is released,
    and waiters take their turns in order. The wait is bounded: it happens in
    a helper thread, and a waiter that gives up falls back to SQLite's busy
    timeout, so a stuck writer still ends in "database stayed locked" rather
    than a hang.
    Writers that do not take part (the seed system's SQL, the ``sqlite3`` shell) are
    still excluded by SQLite's own lock, which is always taken after this one.
    A kill -9 releases the lock with the process.

    A bulk merge (``merging``) may hold the turn longer than the busy timeout;
    it says so by holding the merge lock, and a waiter keeps waiting while
    that lock is held, so an import of any size never makes a writer fail.
    The merge lock, too, goes with its holder: a dead import holds nothing.
    """

    def __init__(self, path: Path, merge_path: Path | None = None) -> None:
        self.path = path
        self.merge_path = merge_path
        self._fd: int | None = None
        self._disabled = False
        self._depth = 0
        self._held: int | None = None  # the descriptor that holds the lock

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @contextmanager
    def merging(self) -> Iterator[None]:
        """Announce a long hold of the turn (the caller holds it) for the block."""
        fd = None
        if self.merge_path is not None:
            try:
                fd = os.open(self.merge_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                # Unannounced, the merge still runs; waiters fall back to the timeout.
                if fd is not None:
                    os.close(fd)
                fd = None
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the flock

    def _merge_running(self) -> bool:
        if self.merge_path is None:
            return False
        try:
            fd = os.open(self.merge_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            os.close(fd)
        return False

    @contextmanager
    def turn(self, timeout: float | None = None) -> Iterator[bool]:
        """Hold this repository's writer turn; yields whether it is held.

        Re-entrant; yields False when the lock file cannot be opened (a read-only
        folder) or the bounded wait gave up.
        """
        if timeout is None:
            timeout = BUSY_TIMEOUT_MS / 1000
        if self._depth:
            self._depth += 1
            try:
                yield self._held is not None
            finally:
                self._depth -= 1
            return
        self._held = self._acquire(timeout)
        self._depth = 1
        try:
            yield self._held is not None
        finally:
            self._depth = 0
            held, self._held = self._held, None
            if held is not None:
                try:
                    fcntl.flock(held, fcntl.LOCK_UN)
                finally:
                    if held != self._fd:
                        os.close(held)

    def _open(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return None  # a read-only folder: SQLite's lock alone orders the writers

    def _acquire(self, timeout: float) -> int | None:
        if self._disabled:
            return None
        if self._fd is None:
            self._fd = self._open()
            if self._fd is None:
                self._disabled = True
                return None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self._fd
        except BlockingIOError:
            pass
        except OSError:
            return None
        # Contended: block in a helper thread on a descriptor of its own (flock
        # belongs to the open file, so an abandoned wait can never release ours).
        fd = self._open()
        if fd is None:
            return None
        got = threading.Event()
        state = {"abandoned": False}
        guard = threading.Lock()

        def wait() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                os.close(fd)
                return
            with guard:
                if state["abandoned"]:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                    return
                got.set()

        threading.Thread(target=wait, name="aimem-write-queue", daemon=True).start()
        if got.wait(timeout):
            return fd
        while self._merge_running():
            if got.wait(min(timeout, 1.0)):
                return fd
        with guard:
            if got.is_set():
                return fd
            state["abandoned"] = True
        return None


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run a multi-statement script inside the current transaction.

    ``executescript`` would COMMIT first, breaking the one-transaction promise.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            conn.execute(pending)
            pending = ""
    if pending.strip():
        conn.execute(pending)


def read_file_meta(db: Path, key: str) -> str | None:
    """The ``aimem_meta`` value ``key`` of the database file ``db``, opened read only;
    None when the file, the table or the key is missing or unreadable."""
    if not db.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
        try:
            row = conn.execute("SELECT value FROM aimem_meta WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])
