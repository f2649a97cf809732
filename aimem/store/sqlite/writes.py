"""The SQLite store's writes: attempts one by one or in bulk, imports, sync by uid,
the imported knowledge base."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from aimem.jsontext import loads_or_text
from aimem.records import Attempt
from aimem.store.aggregates import (
    AggregateWriter,
    Rollup,
)
from aimem.store.bulk import Message
from aimem.store.connection import (
    translate_sqlite_error,
)
from aimem.store.sqlite.core import StoreCore
from aimem.store.sqlite.rows import (
    _INSERT,
    _UID_STORED,
    BULK_MIN_ROWS,
    ROW_COLUMNS,
    PreparedAttempts,
    _DryRun,
    attempt_params,
    prepare_attempts,
    row_to_dict,
)
from aimem.store.sqlparams import in_chunks


class WriteOps(StoreCore):
    """Inserts of attempts with their aggregates, imports, records compared by uid."""

    @contextmanager
    def import_transaction(self) -> Iterator[sqlite3.Connection]:
        """The write transaction of one import: a larger page cache, the write
        queue held as a merge, the search index built once at the end."""
        from aimem.store.bulk import deferred_full_text, import_cache

        with (
            import_cache(self.conn),
            self.transaction() as conn,
            self.write_queue.merging(),
            deferred_full_text(conn),
        ):
            yield conn

    def merge_import(
        self, messages: Iterable[Message], *, dry_run: bool = False
    ) -> tuple[int, int]:
        """Merge a staged import (a ``Spool``'s messages) in ONE import transaction;
        return (rows read, rows added). ``dry_run`` rolls it back all the same."""
        from aimem.store.bulk import write_messages

        try:
            with self.import_transaction() as conn:
                read, added = write_messages(conn, messages)
                if dry_run:
                    raise _DryRun(read, added)
        except _DryRun as unwound:
            read, added = unwound.args
        return int(read), int(added)

    @contextmanager
    def translated_errors(self) -> Iterator[None]:
        """Database errors raised in the block (a row the driver cannot read, say)
        turned into aimem errors naming the database."""
        try:
            yield
        except sqlite3.Error as error:
            raise translate_sqlite_error(error, self.path) from error

    def prepare(self, attempts: Sequence[Attempt]) -> PreparedAttempts | None:
        """``prepare_attempts`` of a small batch, computed before the write lock;
        None for a batch large enough to take the bulk path (``insert_attempts_in``)."""
        return prepare_attempts(attempts) if len(attempts) < BULK_MIN_ROWS else None

    # ---- writes -----------------------------------------------------------

    def insert_attempts(
        self, attempts: Sequence[Attempt], *, skip_existing: bool = False
    ) -> list[int | None]:
        """Insert attempts and update every aggregate in one transaction.

        With ``skip_existing`` an attempt whose uid is already stored is left out
        (its id in the result is None): the idempotent merge used by import.
        """
        with self.transaction() as conn:
            return self.insert_attempts_in(conn, attempts, skip_existing=skip_existing)

    def insert_attempts_in(
        self,
        conn: sqlite3.Connection,
        attempts: Sequence[Attempt],
        *,
        skip_existing: bool = False,
    ) -> list[int | None]:
        """``insert_attempts`` inside a transaction the caller already holds."""
        if not skip_existing and len(attempts) >= BULK_MIN_ROWS:
            return self._insert_bulk(conn, attempts)
        ids: list[int | None] = []
        stored: list[tuple[Any, ...]] = []
        for attempt in attempts:
            if skip_existing and conn.execute(_UID_STORED, (attempt.uid, attempt.uid)).fetchone():
                ids.append(None)
                continue
            params = attempt_params(attempt)
            ids.append(conn.execute(_INSERT, params).lastrowid)
            stored.append(params)
        if stored:
            rollup = Rollup()
            rollup.add_rows(stored)
            AggregateWriter(conn).write(rollup)
            self._bump_generation(conn)
        return ids

    def insert_prepared(
        self, conn: sqlite3.Connection, prepared: PreparedAttempts
    ) -> list[int | None]:
        """Insert ``prepare_attempts`` output inside a transaction the caller holds."""
        ids: list[int | None] = [conn.execute(_INSERT, row).lastrowid for row in prepared.params]
        if ids:
            AggregateWriter(conn).write(prepared.rollup)
            self._bump_generation(conn)
        return ids

    def _insert_bulk(
        self, conn: sqlite3.Connection, attempts: Sequence[Attempt]
    ) -> list[int | None]:
        # One executemany, and the search index built in one statement at the
        # end instead of one trigger call per row (measured ~100 us a row).
        from aimem.store.bulk import deferred_full_text

        rows = [attempt_params(a) for a in attempts]
        with deferred_full_text(conn):
            conn.executemany(_INSERT, rows)
            # AUTOINCREMENT ids of one statement's rows are consecutive (the
            # write lock is held): the last one gives them all.
            last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        rollup = Rollup()
        rollup.add_rows(rows)
        AggregateWriter(conn).write(rollup)
        self._bump_generation(conn)
        return list(range(last - len(rows) + 1, last + 1))

    def existing_uids(self, uids: Sequence[str]) -> set[str]:
        """Which of ``uids`` are in the hot table (``fix_history``), archived ones not included."""
        found: set[str] = set()
        for chunk, marks in in_chunks(uids):
            found.update(
                r[0]
                for r in self._query(f"SELECT uid FROM fix_history WHERE uid IN ({marks})", chunk)
            )
        return found

    # ---- sync: records compared by uid -------------------------------------

    def uid_page(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, uid) of up to ``limit`` hot rows with an id above ``after_id``, in id order."""
        rows = self._query(
            "SELECT id, uid FROM fix_history WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def missing_uids(self, uids: Sequence[str]) -> set[str]:
        """Which of ``uids`` this repository lacks: stored neither hot nor archived
        (a purged record's uid stays in ``aimem_archived_uids``, so it counts as stored)."""
        missing = set(uids)
        for chunk, marks in in_chunks(uids):
            missing.difference_update(
                r[0]
                for r in self._query(
                    f"SELECT uid FROM fix_history WHERE uid IN ({marks}) "
                    f"UNION ALL SELECT uid FROM aimem_archived_uids WHERE uid IN ({marks})",
                    chunk + chunk,
                )
            )
        return missing

    def rows_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The hot rows with these ids (as ``iter_rows`` gives them), in id order."""
        rows: list[dict[str, Any]] = []
        for chunk, marks in in_chunks(ids):
            rows += [
                row_to_dict(r)
                for r in self._query(
                    f"SELECT {ROW_COLUMNS} FROM fix_history WHERE id IN ({marks}) ORDER BY id",
                    chunk,
                )
            ]
        return rows

    # ---- knowledge base (imported part) ----------------------------------

    def kb_imported(self) -> dict[str, Any]:
        rows = self._query("SELECT key, value FROM aimem_kb_imported ORDER BY key")
        return {r[0]: loads_or_text(r[1], None) for r in rows}

    def kb_merge_imported(self, entries: dict[str, Any], imported_at: str) -> None:
        """Store top-level entries of an external knowledge base (replacing same keys)."""
        with self.transaction() as conn:
            conn.executemany(
                """INSERT INTO aimem_kb_imported(key, value, imported_at) VALUES (?, ?, ?)
                   ON CONFLICT(key) DO UPDATE SET value = excluded.value,
                       imported_at = excluded.imported_at""",
                [(k, orjson.dumps(v).decode(), imported_at) for k, v in entries.items()],
            )
            self._bump_generation(conn)
