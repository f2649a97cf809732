"""Export on two cores: a helper process builds every other chunk of lines.

Building export lines is CPU work in SQLite and Python (``ExportLines``); one
process does about 100k rows per second. For a large export a second Python
process (a fresh interpreter, not a fork: a SQLite connection must not cross a
fork) opens the same database and builds the odd chunks while this one builds
the even chunks and writes them all, in order, to the output.

Both must read the same snapshot of the same file. This process takes
SQLite's write lock (``BEGIN IMMEDIATE`` on a connection of its own, waiting
at most ``LOCK_WAIT`` seconds), starts its read transaction, lets the helper
start its own, and releases the lock once the helper has answered: no commit
can land between the two. The helper answers with a fingerprint (the file's
device and inode, the schema version, the id range) that must equal ours: the
helper opens the database by path, and a restore can swap the folder under an
open repository. Writers wait for those few milliseconds (as for any short
write); readers never do. When the lock cannot be had in time (a long write is
running), the database is read-only, the helper does not start within
``START_WAIT`` or answer within ``READY_WAIT``, or the fingerprints differ,
the export runs in one process.

The helper's chunks come over a pipe as ``<rows:u32><length:u64>`` and the
bytes. When the helper dies midway, this process (which holds the same
snapshot) builds the chunks it left; an interrupted export kills the helper.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from aimem.errors import AimemError
from aimem.fsutil import file_identity

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
# How long a helper may take to start (no lock held), and to answer with its
# snapshot (the write lock held): past either, the export runs in one process.
START_WAIT = 5.0
READY_WAIT = 1.0
# A database file at least this large gets a helper started ahead (``prestart``).
PRESTART_MIN_BYTES = 32 << 20  # about PARALLEL_MIN_IDS rows (1.6 KB a row with indexes)
PIPE_BYTES = 1 << 20
# Page cache of both processes' scans: each page is read once, so a large cache
# only costs fresh memory for every page (1M rows: peak RSS 98 -> 28 MB, no slower).
SCAN_CACHE_KIB = 2048
_FRAME = struct.Struct("<IQ")
_STARTED = b"S"


class Helper:
    """The helper process: started early (its start-up overlaps ours), used once."""

    def __init__(self, database: Path) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        # sys.path[0] is the current folder for ``-c``: replaced, never searched
        # (a subprocess.py in an untrusted checkout must not run).
        code = (
            f"import sys; sys.path[0] = {package_root!r}; "
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

    def answer(self, timeout: float) -> bytes:
        """One line of the handshake, within ``timeout`` seconds (unbuffered: the
        helper sends nothing more until it is told to)."""
        import select

        stdout = self.process.stdout
        assert stdout is not None
        fd, line, deadline = stdout.fileno(), b"", time.monotonic() + timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise self.failure("did not answer in time")
            piece = os.read(fd, 4096)
            if not piece:
                raise self.failure()
            line += piece
        return line

    def read(self, size: int) -> bytes:
        stdout = self.process.stdout
        assert stdout is not None
        data = stdout.read(size)
        if len(data) != size:
            raise self.failure()
        return data

    def failure(self, why: str | None = None) -> AimemError:
        """The error for a helper that stopped answering (its last words, if any)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        stderr = self.process.stderr
        words = stderr.read().decode(errors="replace").strip() if stderr else ""
        self.stop()
        last = why or (
            words.splitlines()[-1] if words else f"exit status {self.process.returncode}"
        )
        return AimemError(f"the export helper process failed: {last}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with suppress(OSError):
                    stream.close()


def fingerprint(conn: sqlite3.Connection, identity: tuple[int, int]) -> list[Any]:
    """What both processes must see alike: the database file (device, inode) and,
    inside the read transaction, the schema version and the id range."""
    low, high = conn.execute("SELECT min(id), max(id) FROM fix_history").fetchone()
    schema = conn.execute("PRAGMA schema_version").fetchone()[0]
    return [*identity, schema, low, high]


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


def worth_a_helper(conn: sqlite3.Connection) -> bool:
    """Whether a second process pays off for this database (a rough look, no snapshot)."""
    if not _allowed():
        return False
    low, high = conn.execute("SELECT min(id), max(id) FROM fix_history").fetchone()
    return low is not None and high - low + 1 >= PARALLEL_MIN_IDS


@contextmanager
def shared_snapshot(
    conn: sqlite3.Connection, database: Path, identity: tuple[int, int], helper: Helper
) -> Iterator[bool]:
    """Start ``conn``'s read transaction on the snapshot the helper will read.

    Yields True when the helper holds the same snapshot (the same file, seen
    with the write lock held), False otherwise (the helper is stopped: export
    in one process). The read transaction ends with the block.
    """
    import sqlite3

    shared = False
    try:
        # Started (Python and its imports loaded) before any lock is taken.
        started = helper.answer(START_WAIT) == _STARTED + b"\n"
    except AimemError:
        started = False
    if started and file_identity(database) == identity:
        lock = sqlite3.connect(database, timeout=LOCK_WAIT, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("BEGIN")
                ours = fingerprint(conn, identity)
                with suppress(AimemError):  # not worth failing the export for
                    helper.send({"snapshot": True})
                    shared = _ready(helper.answer(READY_WAIT)) == ours
            finally:
                lock.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the lock is busy: one process
        finally:
            lock.close()
    if not shared:
        helper.stop()
    try:
        if not conn.in_transaction:
            conn.execute("BEGIN")
        yield shared
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def _ready(line: bytes) -> Any:
    import orjson

    try:
        return orjson.loads(line).get("ready")
    except (orjson.JSONDecodeError, AttributeError):
        return None


@contextmanager
def export_chunks(
    conn: sqlite3.Connection,
    database: Path,
    identity: tuple[int, int] | None,
    since: str | None,
    separator: bytes,
) -> Iterator[Iterator[tuple[bytes, int]]]:
    """The export chunks of hot rows (``iter_export_chunks``' bytes), from one
    snapshot, built on two processes when that pays off. ``identity`` is the
    (device, inode) of the file ``conn`` opened; None: no helper (read-only)."""
    from aimem.store.connection import page_cache
    from aimem.store.export_rows import iter_export_chunks
    from aimem.store.snapshot import read_transaction

    with page_cache(conn, SCAN_CACHE_KIB):
        started = _started.pop(database.resolve(), None)
        helper: Helper | None = None
        if identity is not None and worth_a_helper(conn):
            with suppress(OSError):  # no interpreter to start (an embedded Python): alone
                helper = started or Helper(database)
        if helper is None or identity is None:
            if started is not None:
                started.stop()
            with read_transaction(conn):
                yield iter_export_chunks(conn, since, separator=separator)
            return
        try:
            with shared_snapshot(conn, database, identity, helper) as shared:
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
    have large gaps) are left to one process; so are the chunks left when the
    helper stops answering (this process holds the same snapshot)."""
    from aimem.store.export_rows import ExportLines, iter_export_chunks, row_filter

    where, params = row_filter(since)
    low, high, rows = conn.execute(
        f"SELECT min(id), max(id), count(*) FROM fix_history WHERE {where}", params
    ).fetchone()
    count = 0 if low is None else (high - low) // CHUNK_IDS + 1
    sparse = count > 2 * (rows // CHUNK_IDS + 1)  # chunks by id would be mostly empty
    job = {"since": since, "separator": separator.decode(), "low": low, "chunk_ids": CHUNK_IDS}
    helping = True
    try:
        helper.send({**job, "chunks": 0 if sparse else count})
    except AimemError:
        helping = False
    if sparse:
        helper.stop()
        yield from iter_export_chunks(conn, since, separator=separator)
        return
    lines = ExportLines(conn)
    try:
        for index in range(count):
            if index % 2 and helping:
                try:
                    found, size = _FRAME.unpack(helper.read(_FRAME.size))
                    data = helper.read(size)
                except AimemError:
                    helping = False  # build it here, and the rest
                else:
                    if found:
                        yield data, found
                    continue
            data, found = lines.id_range(since, low + index * CHUNK_IDS, CHUNK_IDS, separator)
            if found:  # ids with no rows (gaps, --since) make no chunk
                yield data, found
    finally:
        helper.stop()


def _serve(database: str, commands: IO[bytes], out: IO[bytes]) -> None:
    import sqlite3

    import orjson

    from aimem.store.export_rows import ExportLines

    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    conn.execute(f"PRAGMA cache_size = -{SCAN_CACHE_KIB}")
    identity = file_identity(Path(database))
    out.write(_STARTED + b"\n")
    out.flush()
    if not commands.readline():
        return  # the exporter went away before the snapshot
    conn.execute("BEGIN")
    out.write(orjson.dumps({"ready": fingerprint(conn, identity)}) + b"\n")
    out.flush()
    job = orjson.loads(commands.readline() or b"null")
    if job is None:
        return
    lines = ExportLines(conn)
    since, low, width = job["since"], job["low"], job["chunk_ids"]
    sep = str(job["separator"]).encode()
    for index in range(1, job["chunks"], 2):
        data, found = lines.id_range(since, low + index * width, width, sep)
        out.write(_FRAME.pack(found, len(data)))
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
