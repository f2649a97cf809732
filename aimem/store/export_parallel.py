"""Export on two cores: a helper process builds every other chunk of lines.

Building export lines is CPU work in SQLite and Python (``ExportLines``); one
process does about 100k rows per second. For a large export a second Python
process (a fresh interpreter, not a fork: a SQLite connection must not cross a
fork) opens the same database and builds the odd chunks while this one builds
the even chunks and writes them all, in order, to the output.

Both must read the same snapshot. This process takes SQLite's write lock
(``BEGIN IMMEDIATE`` on a connection of its own, waiting at most
``LOCK_WAIT`` seconds), starts its read transaction, lets the helper start its
own, and releases the lock once the helper says it has: no commit can land
between the two. Writers wait for those few milliseconds (as for any short
write); readers never do. When the lock cannot be had in time (a long write is
running, or the database is read-only) the export runs in one process.

The helper's chunks come over a pipe as ``<rows:u32><length:u64>`` and the
bytes. A helper that dies, or sends anything else, fails the export with one
clear error (the caller's output file is then discarded); an interrupted
export kills the helper.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from aimem.errors import AimemError

# Light on purpose: the command line starts a helper before it loads the rest
# of aimem (``prestart``), and the helper itself imports this module first.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

# Ids per chunk (ids are dense: about as many rows); the helper takes odd chunks.
CHUNK_IDS = 2048
# Below this many ids, starting a second interpreter costs more than it saves.
PARALLEL_MIN_IDS = 20_000
LOCK_WAIT = 0.25
# A database file at least this large gets a helper started ahead (``prestart``).
PRESTART_MIN_BYTES = 16 << 20
PIPE_BYTES = 1 << 20
_FRAME = struct.Struct("<IQ")
_READY = b"R"


class Helper:
    """The helper process: started early (its start-up overlaps ours), used once."""

    def __init__(self, database: Path) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        code = (
            f"import sys; sys.path.insert(0, {package_root!r}); "
            "from aimem.store.export_parallel import main; main()"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        setsize = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux: fewer waits on the pipe
        if self.process.stdout is not None and setsize is not None:
            with suppress(OSError):
                fcntl.fcntl(self.process.stdout.fileno(), setsize, PIPE_BYTES)

    def send(self, message: dict[str, Any]) -> None:
        import orjson

        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(orjson.dumps(message) + b"\n")
            stdin.flush()
        except OSError as error:
            raise self.failure() from error

    def read(self, size: int) -> bytes:
        stdout = self.process.stdout
        assert stdout is not None
        data = stdout.read(size)
        if len(data) != size:
            raise self.failure()
        return data

    def failure(self) -> AimemError:
        """The error for a helper that stopped answering (its last words, if any)."""
        self.stop()
        stderr = self.process.stderr
        words = stderr.read().decode(errors="replace").strip() if stderr else ""
        last = words.splitlines()[-1] if words else f"exit status {self.process.returncode}"
        return AimemError(f"the export helper process failed: {last}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with suppress(OSError):
                    stream.close()


_started: dict[Path, Helper] = {}


def prestart(database: Path) -> None:
    """Start a helper for a coming export of a large ``database``, so that its
    start-up (about 0.1 s: a Python interpreter, orjson, sqlite3) overlaps the
    exporter's own. Unused, it is stopped when this process exits."""
    if not _allowed():
        return
    try:
        database = database.resolve()
        size = database.stat().st_size
    except OSError:
        return
    if size >= PRESTART_MIN_BYTES and database not in _started:
        with suppress(OSError):  # no interpreter to start: the export runs alone
            _started[database] = Helper(database)
        if len(_started) == 1:
            atexit.register(_stop_unused)


def _stop_unused() -> None:
    while _started:
        _started.popitem()[1].stop()


def _allowed() -> bool:
    return (os.cpu_count() or 1) >= 2 and os.environ.get("AIMEM_EXPORT_HELPER") != "0"


def worth_a_helper(conn: sqlite3.Connection, readonly: bool) -> bool:
    """Whether a second process pays off for this database (a rough look, no snapshot)."""
    if readonly or not _allowed():
        return False
    low, high = conn.execute("SELECT min(id), max(id) FROM fix_history").fetchone()
    return low is not None and high - low + 1 >= PARALLEL_MIN_IDS


@contextmanager
def shared_snapshot(conn: sqlite3.Connection, database: Path, helper: Helper) -> Iterator[bool]:
    """Start ``conn``'s read transaction on the snapshot the helper will read.

    Yields True when the helper holds the same snapshot, False when the lock
    could not be had (the helper is stopped; export in one process). The read
    transaction ends with the block.
    """
    import sqlite3

    lock = sqlite3.connect(database, timeout=LOCK_WAIT, isolation_level=None)
    shared = False
    try:
        try:
            lock.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            helper.stop()
        else:
            try:
                conn.execute("BEGIN")
                conn.execute("SELECT 1 FROM fix_history LIMIT 1").fetchall()
                # A helper that cannot start is not worth failing the export for.
                with suppress(AimemError):
                    helper.send({"snapshot": True})
                    shared = helper.read(1) == _READY
                if not shared:
                    helper.stop()
            finally:
                lock.execute("ROLLBACK")
    finally:
        lock.close()
    try:
        if not conn.in_transaction:
            conn.execute("BEGIN")
        yield shared
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


@contextmanager
def export_chunks(
    conn: sqlite3.Connection,
    database: Path,
    readonly: bool,
    since: str | None,
    separator: bytes,
) -> Iterator[Iterator[tuple[bytes, int]]]:
    """The export chunks of hot rows (``iter_export_chunks``' bytes), from one
    snapshot, built on two cores when that pays off."""
    from aimem.store.export_rows import iter_export_chunks
    from aimem.store.snapshot import read_transaction

    started = _started.pop(database.resolve(), None)
    if not worth_a_helper(conn, readonly):
        if started is not None:
            started.stop()
        with read_transaction(conn):
            yield iter_export_chunks(conn, since, separator=separator)
        return
    try:
        helper = started or Helper(database)
    except OSError:  # no interpreter to start (an embedded Python): run alone
        with read_transaction(conn):
            yield iter_export_chunks(conn, since, separator=separator)
        return
    try:
        with shared_snapshot(conn, database, helper) as shared:
            if shared:
                yield iter_chunks(conn, helper, since, separator)
            else:
                yield iter_export_chunks(conn, since, separator=separator)
    finally:
        helper.stop()


def iter_chunks(
    conn: sqlite3.Connection,
    helper: Helper,
    since: str | None,
    separator: bytes,
) -> Iterator[tuple[bytes, int]]:
    """(bytes, rows) of every chunk in id order: even ones built here, odd ones by
    the helper (inside ``shared_snapshot``). Ids far apart (a table whose ids
    have large gaps) are left to one process."""
    from aimem.store.export_rows import ExportLines, iter_export_chunks

    where, params = ("WHERE timestamp >= ?", (since,)) if since is not None else ("", ())
    low, high, rows = conn.execute(
        f"SELECT min(id), max(id), count(*) FROM fix_history {where}", params
    ).fetchone()
    count = 0 if low is None else (high - low) // CHUNK_IDS + 1
    sparse = count > 2 * (rows // CHUNK_IDS + 1)  # chunks by id would be mostly empty
    job = {"since": since, "separator": separator.decode(), "low": low, "chunks": count}
    helper.send({**job, "chunks": 0 if sparse else count, "chunk_ids": CHUNK_IDS})
    if sparse:
        helper.stop()
        yield from iter_export_chunks(conn, since, separator=separator)
        return
    lines = ExportLines(conn)
    sep = separator.decode()
    try:
        for index in range(count):
            if index % 2:
                rows, size = _FRAME.unpack(helper.read(_FRAME.size))
                data = helper.read(size)
                if rows:
                    yield data, rows
            else:
                start = low + index * CHUNK_IDS
                fetched = conn.execute(*lines.query(since, (start, start + CHUNK_IDS))).fetchall()
                if fetched:  # ids with no rows (gaps, --since) make no chunk
                    yield lines.chunk(fetched, sep), len(fetched)
    finally:
        helper.stop()


def _serve(database: str, commands: IO[bytes], out: IO[bytes]) -> None:
    import sqlite3

    import orjson

    from aimem.store.export_rows import ExportLines

    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    if not commands.readline():
        return  # the exporter went away before the snapshot
    conn.execute("BEGIN")
    conn.execute("SELECT 1 FROM fix_history LIMIT 1").fetchall()
    out.write(_READY)
    out.flush()
    job = orjson.loads(commands.readline() or b"null")
    if job is None:
        return
    lines = ExportLines(conn)
    since, sep, low, width = job["since"], job["separator"], job["low"], job["chunk_ids"]
    for index in range(1, job["chunks"], 2):
        start = low + index * width
        fetched = conn.execute(*lines.query(since, (start, start + width))).fetchall()
        data = lines.chunk(fetched, sep)
        out.write(_FRAME.pack(len(fetched), len(data)))
        out.write(data)
    out.flush()


def main() -> None:
    """The helper process: ``python -c ... DATABASE``; commands on stdin, chunks on stdout."""
    # Ctrl-C reaches the whole process group: the exporter decides, and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:
        os._exit(1)  # the exporter is gone; nobody to tell
    sys.stdout.flush()
