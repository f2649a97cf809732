"""The SQLite store's core: the connection, write transactions, meta values."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from aimem.store import migrations
from aimem.store.bulk import bump_generation
from aimem.store.connection import (
    CHECKPOINT_EVERY,
    MERGE_LOCK_NAME,
    WRITE_QUEUE_NAME,
    WriteQueue,
    atomic,
    configure_for_writes,
    connect,
    translate_sqlite_error,
)


class StoreCore:
    """One open SQLite database: its connection, transactions and meta values."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.write_queue = WriteQueue(path.parent / WRITE_QUEUE_NAME, path.parent / MERGE_LOCK_NAME)
        self._commits = 0
        self.conn = connect(path, readonly=readonly)
        try:
            version = migrations.check_version(self.conn, path)
            if not readonly:
                if version < len(migrations.MIGRATIONS):
                    migrations.refuse_unreadable(self.conn, path)
                configure_for_writes(self.conn)
                migrations.migrate(self.conn, path)
        except sqlite3.Error as error:
            self.conn.close()
            raise translate_sqlite_error(error, path) from error
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.write_queue.close()
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction with SQLite errors translated to aimem errors.

        Writers take turns through the repository's write queue first (see
        ``WriteQueue``), then take SQLite's write lock with ``BEGIN IMMEDIATE``.
        """
        try:
            with self.write_queue.turn(), atomic(self.conn) as conn:
                yield conn
        except sqlite3.Error as error:
            raise translate_sqlite_error(error, self.path) from error
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and not self.conn.in_transaction:
            self._commits = 0
            # A checkpoint that cannot run now runs later; nothing is lost.
            with suppress(sqlite3.Error):
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @property
    def label(self) -> str:
        """How findings name the database: its file name."""
        return self.path.name

    def snapshot_to(self, dest: Path, label: Path | None = None) -> None:
        """A consistent copy of the database in the new file ``dest`` (see
        ``aimem.store.snapshot.snapshot_to``; ``label`` names it in a failed write)."""
        from aimem.store.snapshot import snapshot_to

        snapshot_to(self.conn, dest, self.path, label)

    def scratch_copy(self) -> None:
        """Treat this database as a scratch copy: no fsync of its writes."""
        self.conn.execute("PRAGMA synchronous = OFF")

    def single_file(self) -> None:
        """Leave WAL mode, so the database is one self-contained file."""
        self.conn.execute("PRAGMA journal_mode = DELETE")

    def scratch_folder(self) -> Path:
        """Where an import stages its rows: next to the database (the same disk)."""
        return self.path.parent

    # Answers of the reads inside ``memoized_reads``, by statement and parameters.
    _memo: dict[tuple[str, tuple[Any, ...]], list[Any]] | None = None

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        memo = self._memo
        if memo is not None:
            key = (sql, tuple(params))
            found = memo.get(key)
            if found is None:
                found = memo[key] = self._fetch(sql, params)
            return list(found)
        return self._fetch(sql, params)

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise translate_sqlite_error(error, self.path) from error

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._query(sql, params)
        return rows[0] if rows else None

    def _bump_generation(self, conn: sqlite3.Connection) -> None:
        bump_generation(conn)

    # ---- meta -------------------------------------------------------------

    def generation(self) -> int:
        """A counter bumped by every write that changes what has been learned."""
        row = self._one("SELECT value FROM aimem_meta WHERE key = 'generation'")
        return int(row[0]) if row else 0

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM aimem_meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO aimem_meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def update_meta(self, key: str, change: Callable[[str | None], str | None]) -> str | None:
        """Replace a meta value by ``change(old)`` in one write transaction (None removes
        it); return the new value. Two concurrent updates never lose one another."""
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM aimem_meta WHERE key = ?", (key,)).fetchone()
            value = change(None if row is None else str(row[0]))
            if value is None:
                conn.execute("DELETE FROM aimem_meta WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO aimem_meta(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
        return value

    def schema_version(self) -> int:
        return migrations.schema_version(self.conn)
