"""The SQLite implementation of the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from aimem.errors import AimemError
from aimem.jsontext import export_values, loads_or_text
from aimem.records import EXPORT_COLUMNS, Attempt
from aimem.store import json_lines, migrations, schema, unwritable
from aimem.store.aggregates import (
    SCOPE_FAMILY_TYPE,
    SCOPE_FINGERPRINT,
    SCOPE_MODEL,
    SCOPE_MODEL_TYPE,
    SCOPE_SIGNATURE,
    SCOPE_TYPE,
    AggregateWriter,
    Fact,
    Rollup,
)
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
from aimem.store.sqlparams import in_chunks

# (JSON line or None, timestamp, id, ...): see Store.archive_page
ArchiveRow = tuple[Any, ...]

ROW_COLUMNS = ", ".join(EXPORT_COLUMNS)
# A uid counts as stored when its row is hot or archived (or purged): importing
# it again must not count it twice.
_UID_STORED = (
    "SELECT 1 FROM fix_history WHERE uid = ? UNION ALL "
    "SELECT 1 FROM aimem_archived_uids WHERE uid = ? LIMIT 1"
)
_INSERT = schema.INSERT_ATTEMPT
# Page cache of a long streamed read: the export report at 100k rows (bench/
# datagen.py) runs no slower with 8 MiB than with the connection's 64 MiB
# (2.6-2.8 s against 3.1-3.3 s), at less than half the peak RSS (96 -> 43 MiB).
STREAM_CACHE_KIB = 8 * 1024
# From this many attempts on, ``insert_attempts_in`` inserts in bulk.
BULK_MIN_ROWS = 64
SCOPES = {
    "signature": SCOPE_SIGNATURE,
    "family_type": SCOPE_FAMILY_TYPE,
    "type": SCOPE_TYPE,
    "model": SCOPE_MODEL,
    "fingerprint": SCOPE_FINGERPRINT,
    "model_type": SCOPE_MODEL_TYPE,
}


def row_to_dict(row: Sequence[Any]) -> dict[str, Any]:
    """A ``fix_history`` row (selected as ROW_COLUMNS) in export form."""
    return export_values(EXPORT_COLUMNS, row)


def attempt_params(attempt: Attempt) -> tuple[Any, ...]:
    """Parameters of ``_INSERT`` for one attempt."""
    return (
        attempt.timestamp,
        attempt.model_name,
        attempt.issue_type,
        attempt.issue_signature,
        attempt.description,
        attempt.fixer_type,
        attempt.claude_analysis,
        orjson.dumps(attempt.fix_commands).decode(),
        int(attempt.fix_success),
        int(attempt.verification_success),
        attempt.execution_time_seconds,
        orjson.dumps(attempt.system_info).decode(),
        attempt.notes,
        attempt.uid,
        attempt.fingerprint,
        attempt.tokens_in,
        attempt.tokens_out,
        attempt.cost_usd,
        attempt.fixer_model,
    )


@dataclass(frozen=True, slots=True)
class PreparedAttempts:
    """Attempts turned into insert parameters and an aggregate plan before the write lock.

    Everything here is computed from the attempts alone, so a writer holds the
    lock only for the statements and the commit, however many writers wait.
    """

    params: list[tuple[Any, ...]]
    rollup: Rollup


def prepare_attempts(attempts: Sequence[Attempt]) -> PreparedAttempts:
    """``PreparedAttempts`` of ``attempts`` (no database access)."""
    params = [attempt_params(attempt) for attempt in attempts]
    rollup = Rollup()
    rollup.add_rows(params)
    return PreparedAttempts(params, rollup)


def attempt_fact(attempt: Attempt) -> Fact:
    """The aggregate-relevant part of an attempt."""
    return Fact(
        timestamp=attempt.timestamp,
        model_name=attempt.model_name,
        issue_type=attempt.issue_type,
        issue_signature=attempt.issue_signature,
        fingerprint=attempt.fingerprint,
        fixer_type=attempt.fixer_type,
        fix_commands=orjson.dumps(attempt.fix_commands).decode(),
        fix_success=attempt.fix_success,
        verification_success=attempt.verification_success,
        execution_time_seconds=attempt.execution_time_seconds,
        cost_usd=attempt.cost_usd,
        tokens_in=attempt.tokens_in,
        tokens_out=attempt.tokens_out,
        fixer_model=attempt.fixer_model,
    )


_EXACT_COLUMNS = (
    "id, pattern_name, issue_signature, coalesce(success_count, 0), "
    "coalesce(failure_count, 0), best_fix, last_seen, confidence_score, issue_type, model_family"
)


def _exact_row(r: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": r[0],
        "pattern_name": r[1],
        "issue_signature": r[2],
        "success_count": r[3],
        "failure_count": r[4],
        "best_fix": loads_or_text(r[5], None),
        "last_seen": r[6],
        "confidence_score": r[7],
        "issue_type": r[8],
        "model_family": r[9],
    }


def bump_generation(conn: sqlite3.Connection) -> None:
    """Mark what has been learned as changed (readers' caches key on the generation)."""
    conn.execute(
        "UPDATE aimem_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
    )


class Store:
    """One open SQLite database of one repository."""

    # Archive segments are files in the repository's archive/ folder (aimem.ops.segment_storage).
    segments_in_database = False

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

    @contextmanager
    def streaming_snapshot(self) -> Iterator[None]:
        """One read snapshot for a long streamed read (the export report).

        Its sorts (patterns by attempts) spill to temporary files instead of
        memory (``temp_store = MEMORY`` otherwise), and the page cache is
        STREAM_CACHE_KIB, so memory stays flat however many rows it reads;
        both settings are restored afterwards.
        """
        from aimem.store.connection import page_cache
        from aimem.store.snapshot import read_transaction

        temp_store = self.conn.execute("PRAGMA temp_store").fetchone()[0]
        self.conn.execute("PRAGMA temp_store = FILE")
        try:
            with page_cache(self.conn, STREAM_CACHE_KIB), read_transaction(self.conn):
                yield
        finally:
            self.conn.execute(f"PRAGMA temp_store = {int(temp_store)}")

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

    # Whether export's JSON lines and CSV cells are built by the database
    # (``export_chunks``, ``csv_rows``); else export encodes ``iter_rows``' rows.
    builds_export_lines = True

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """One read snapshot for several reads (nested: the outer one)."""
        from aimem.store.snapshot import read_transaction

        with read_transaction(self.conn):
            yield

    @contextmanager
    def export_chunks(
        self, since: str | None, separator: bytes
    ) -> Iterator[Iterator[tuple[bytes, int]]]:
        """(bytes, rows) chunks of export lines of hot rows from ``since`` on, one snapshot."""
        from aimem.store.connection import page_cache
        from aimem.store.export_rows import SCAN_CACHE_KIB, iter_export_chunks
        from aimem.store.snapshot import read_transaction

        with page_cache(self.conn, SCAN_CACHE_KIB), read_transaction(self.conn) as conn:
            chunks = iter_export_chunks(conn, since, separator=separator)
            try:
                yield chunks
            finally:
                getattr(chunks, "close", lambda: None)()

    @contextmanager
    def csv_rows(self, since: str | None) -> Iterator[Iterator[list[tuple[Any, ...]]]]:
        """CSV cells of hot rows from ``since`` on, a chunk at a time (caller holds a snapshot)."""
        from aimem.store import export_rows

        rows = export_rows.iter_csv_rows(self.conn, since)
        try:
            yield rows
        finally:
            getattr(rows, "close", lambda: None)()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise translate_sqlite_error(error, self.path) from error

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._query(sql, params)
        return rows[0] if rows else None

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
        stored: list[Attempt] = []
        for attempt in attempts:
            if skip_existing and conn.execute(_UID_STORED, (attempt.uid, attempt.uid)).fetchone():
                ids.append(None)
                continue
            cursor = conn.execute(_INSERT, attempt_params(attempt))
            ids.append(cursor.lastrowid)
            stored.append(attempt)
        AggregateWriter(conn).apply([attempt_fact(a) for a in stored])
        if stored:
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

    def _bump_generation(self, conn: sqlite3.Connection) -> None:
        bump_generation(conn)

    def existing_uids(self, uids: Sequence[str]) -> set[str]:
        """Which of ``uids`` are in the hot table (``fix_history``), archived ones not included."""
        found: set[str] = set()
        for chunk, marks in in_chunks(uids):
            found.update(
                r[0]
                for r in self._query(f"SELECT uid FROM fix_history WHERE uid IN ({marks})", chunk)
            )
        return found

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

    # ---- reads: totals and rows ------------------------------------------

    def totals(self) -> dict[str, int]:
        """Attempts, successes, distinct models and issue types over all history."""
        row = self._one(
            """SELECT coalesce(sum(attempts), 0), coalesce(sum(successes), 0),
                      count(DISTINCT model_name), count(DISTINCT issue_type)
               FROM aimem_totals"""
        )
        return {"attempts": row[0], "successes": row[1], "models": row[2], "issue_types": row[3]}

    def count_since(self, since: str) -> int:
        """Hot rows newer than ``since`` (uses the timestamp index)."""
        return int(self._one("SELECT count(*) FROM fix_history WHERE timestamp > ?", (since,))[0])

    def count_rows(self) -> int:
        return int(self._one("SELECT count(*) FROM fix_history")[0])

    def recent_rows(
        self, since: str, limit: int | None, filters: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Rows newer than ``since``, newest first; ``filters`` as ``row_matches`` reads them."""
        where, params = ["timestamp > ?"], [since]
        filters = filters or {}
        if filters.get("model") is not None:
            where.append("model_name = ?")
            params.append(filters["model"])
        if filters.get("issue_type") is not None:
            where.append("issue_type = ?")
            params.append(filters["issue_type"])
        if filters.get("fixer") is not None:
            # stored rows of other writers keep their fixer text: compare its one spelling
            where.append("lower(trim(fixer_type)) = ?")
            params.append(filters["fixer"])
        if filters.get("failed"):
            where.append("NOT coalesce(fix_success, 0)")
        rows = self._query(
            f"SELECT {ROW_COLUMNS} FROM fix_history WHERE {' AND '.join(where)} "
            "ORDER BY timestamp DESC, id DESC LIMIT ?",
            (*params, -1 if limit is None else limit),
        )
        return [row_to_dict(r) for r in rows]

    def get_row(self, record_id: int) -> dict[str, Any] | None:
        row = self._one(f"SELECT {ROW_COLUMNS} FROM fix_history WHERE id = ?", (record_id,))
        return None if row is None else row_to_dict(row)

    def iter_rows(self, since: str | None = None, chunk: int = 2000) -> Iterator[dict[str, Any]]:
        """Every hot row in id order (optionally newer than ``since``), streamed."""
        sql = f"SELECT {ROW_COLUMNS} FROM fix_history"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE timestamp >= ?"
            params = (since,)
        cursor = self.conn.execute(sql + " ORDER BY id", params)
        while True:
            rows = cursor.fetchmany(chunk)
            if not rows:
                return
            for row in rows:
                yield row_to_dict(row)

    def similar_rows(
        self, signature: str, model_name: str, issue_type: str, limit: int
    ) -> dict[str, list[dict[str, Any]]]:
        """Exact (signature), model (model + type) and type matches, newest successes first."""
        exact = self._query(
            f"SELECT {ROW_COLUMNS} FROM fix_history WHERE issue_signature = ? "
            "ORDER BY timestamp DESC LIMIT ?",
            (signature, limit),
        )
        model = self._query(
            f"SELECT {ROW_COLUMNS} FROM fix_history WHERE model_name = ? AND issue_type = ? "
            "ORDER BY verification_success DESC, fix_success DESC, timestamp DESC LIMIT ?",
            (model_name, issue_type, limit),
        )
        by_type = self._query(
            f"SELECT {ROW_COLUMNS} FROM fix_history WHERE issue_type = ? "
            "ORDER BY verification_success DESC, fix_success DESC, timestamp DESC LIMIT ?",
            (issue_type, limit),
        )
        return {
            "exact_matches": [row_to_dict(r) for r in exact],
            "model_matches": [row_to_dict(r) for r in model],
            "type_matches": [row_to_dict(r) for r in by_type],
        }

    def fingerprint_rows(self, fingerprint: str, limit: int) -> list[dict[str, Any]]:
        rows = self._query(
            f"SELECT {ROW_COLUMNS} FROM fix_history WHERE fingerprint = ? "
            "ORDER BY timestamp DESC LIMIT ?",
            (fingerprint, limit),
        )
        return [row_to_dict(r) for r in rows]

    def model_recent_rows(self, model_name: str, limit: int) -> list[dict[str, Any]]:
        rows = self._query(
            f"SELECT {ROW_COLUMNS} FROM fix_history WHERE model_name = ? "
            "ORDER BY timestamp DESC LIMIT ?",
            (model_name, limit),
        )
        return [row_to_dict(r) for r in rows]

    def notes_for_type(self, issue_type: str, limit: int) -> list[tuple[str, str]]:
        """(timestamp, notes) of the latest verified successes of an issue type with notes."""
        rows = self._query(
            """SELECT timestamp, notes FROM fix_history
               WHERE issue_type = ? AND verification_success = 1 AND fix_success = 1
                     AND notes IS NOT NULL AND notes != ''
               ORDER BY timestamp DESC LIMIT ?""",
            (issue_type, limit),
        )
        return [(r[0], r[1]) for r in rows]

    # ---- reads: models ----------------------------------------------------

    def model_characteristics(self, model_name: str) -> dict[str, Any] | None:
        row = self._one(
            """SELECT model_name, total_tests, success_rate, common_issues, effective_fixes,
                      last_updated, performance_notes
               FROM model_characteristics WHERE model_name = ?""",
            (model_name,),
        )
        if row is None:
            return None
        return {
            "model_name": row[0],
            "total_tests": row[1] or 0,
            "success_rate": row[2] or 0.0,
            "common_issues": loads_or_text(row[3], []),
            "effective_fixes": loads_or_text(row[4], []),
            "last_updated": row[5],
            "performance_notes": row[6],
        }

    def set_performance_notes(self, model_name: str, text: str | None, *, append: bool) -> None:
        """Replace (or with ``append`` add a line to) a model's performance notes.

        A model with no attempts yet gets its ``model_characteristics`` row now;
        aggregate updates keep the notes (they never write that column).
        """
        if append:
            value = (
                "CASE WHEN performance_notes IS NULL OR performance_notes = '' THEN ? "
                "ELSE performance_notes || char(10) || ? END"
            )
            params: tuple[Any, ...] = (model_name, text, text, text)
        else:
            value, params = "?", (model_name, text, text)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO model_characteristics(model_name, performance_notes) VALUES (?, ?) "
                f"ON CONFLICT(model_name) DO UPDATE SET performance_notes = {value}",
                params,
            )

    def model_totals(self, model_name: str | None = None) -> list[dict[str, Any]]:
        """Per model: attempts, fix successes, verified successes, time, first/last seen."""
        where = "WHERE model_name = ?" if model_name is not None else ""
        params = (model_name,) if model_name is not None else ()
        rows = self._query(
            f"""SELECT model_name, sum(attempts), sum(fix_successes), sum(successes),
                       sum(time_sum), sum(time_n), min(first_seen), max(last_seen),
                       count(DISTINCT issue_type)
                FROM aimem_totals {where} GROUP BY model_name ORDER BY sum(attempts) DESC,
                model_name""",
            params,
        )
        return [
            {
                "model_name": r[0],
                "attempts": r[1],
                "fix_successes": r[2],
                "successes": r[3],
                "avg_execution_time": (r[4] / r[5]) if r[5] else None,
                "first_seen": r[6],
                "last_seen": r[7],
                "issue_types": r[8],
            }
            for r in rows
        ]

    def fixers_for_model(self, model_name: str) -> list[dict[str, Any]]:
        rows = self._query(
            """SELECT fixer_type, sum(attempts), sum(successes) FROM aimem_totals
               WHERE model_name = ? GROUP BY fixer_type ORDER BY sum(attempts) DESC, fixer_type""",
            (model_name,),
        )
        return [{"fixer_type": r[0], "attempts": r[1], "successes": r[2]} for r in rows]

    def model_names(self) -> list[str]:
        """Every model with a row in the seed's model_characteristics table."""
        return [r[0] for r in self._query("SELECT model_name FROM model_characteristics")]

    def distinct_values(self, column: str, prefix: str = "", limit: int = 200) -> list[str]:
        """Distinct model names, issue types or fixer types (for completion)."""
        if column not in ("model_name", "issue_type", "fixer_type"):
            raise AimemError(f"unknown column {column!r}")
        rows = self._query(
            f"SELECT DISTINCT {column} FROM aimem_totals WHERE {column} >= ? AND {column} < ? "
            f"ORDER BY {column} LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [r[0] for r in rows]

    # ---- reads: outcomes and patterns ------------------------------------

    def fix_outcomes(
        self,
        scope: str,
        scope_key: str | None = None,
        limit: int | None = None,
        min_successes: int = 0,
    ) -> list[dict[str, Any]]:
        """What each fix achieved within a scope (optionally one key), best first."""
        where = "scope = ? AND successes >= ?"
        params: list[Any] = [SCOPES[scope], min_successes]
        if scope_key is not None:
            where += " AND scope_key = ?"
            params.append(scope_key)
        params.append(-1 if limit is None else limit)
        rows = self._query(
            f"""SELECT scope_key, fix_commands, attempts, successes, last_attempt, last_success
                FROM aimem_fix_outcomes WHERE {where}
                ORDER BY successes DESC, last_success DESC, fix_key LIMIT ?""",
            params,
        )
        return [
            {
                "key": r[0],
                "fix_commands": loads_or_text(r[1], []),
                "attempts": r[2],
                "successes": r[3],
                "last_attempt": r[4],
                "last_success": r[5],
            }
            for r in rows
        ]

    def exact_patterns(
        self,
        *,
        issue_type: str | None = None,
        signature: str | None = None,
        min_attempts: int = 0,
        limit: int | None = None,
        order: str = "attempts",
    ) -> list[dict[str, Any]]:
        """Exact-signature pattern rows.

        ``order`` is ``attempts`` (most attempts first, then newest) or ``name``
        (most attempts first, then pattern name: the order ``patterns`` lists).
        """
        orders = {
            "attempts": "coalesce(success_count, 0) + coalesce(failure_count, 0) DESC, "
            "last_seen DESC, id",
            "name": "coalesce(success_count, 0) + coalesce(failure_count, 0) DESC, pattern_name",
        }
        clauses = ["coalesce(success_count, 0) + coalesce(failure_count, 0) >= ?"]
        params: list[Any] = [min_attempts]
        if issue_type is not None:
            clauses.append("issue_type = ?")
            params.append(issue_type)
        if signature is not None:
            clauses.append("issue_signature = ?")
            params.append(signature)
        params.append(-1 if limit is None else limit)
        rows = self._query(
            f"""SELECT {_EXACT_COLUMNS}
                FROM issue_patterns WHERE {" AND ".join(clauses)}
                ORDER BY {orders[order]}
                LIMIT ?""",
            params,
        )
        return [_exact_row(r) for r in rows]

    def iter_exact_patterns(self, chunk: int = 2000) -> Iterator[dict[str, Any]]:
        """Every exact-signature pattern row, most attempts first then by name, streamed."""
        cursor = self.conn.execute(
            f"""SELECT {_EXACT_COLUMNS} FROM issue_patterns
                ORDER BY coalesce(success_count, 0) + coalesce(failure_count, 0) DESC,
                         pattern_name"""
        )
        try:
            while rows := cursor.fetchmany(chunk):
                for r in rows:
                    yield _exact_row(r)
        finally:
            cursor.close()

    def learned_patterns(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Exact patterns with a verified success, most recently seen first, and their count."""
        total = int(self._one("SELECT count(*) FROM issue_patterns WHERE success_count > 0")[0])
        rows = self._query(
            """SELECT id, pattern_name, issue_signature, success_count, coalesce(failure_count, 0),
                      best_fix, last_seen, issue_type, model_family
               FROM issue_patterns WHERE success_count > 0
               ORDER BY last_seen DESC, id LIMIT ?""",
            (limit,),
        )
        keys = (
            "id",
            "pattern_name",
            "issue_signature",
            "success_count",
            "failure_count",
            "best_fix",
            "last_seen",
            "issue_type",
            "model_family",
        )
        found = []
        for r in rows:
            item = dict(zip(keys, r, strict=True))
            item["best_fix"] = loads_or_text(item["best_fix"], None)
            found.append(item)
        return found, total

    def totals_by(self, *columns: str, issue_type: str | None = None) -> list[dict[str, Any]]:
        """Rollup totals grouped by some of model_name, issue_type, fixer_type
        (of one issue type when ``issue_type`` is given)."""
        allowed = {"model_name", "issue_type", "fixer_type"}
        if not columns or not set(columns) <= allowed:
            raise AimemError(f"cannot group totals by {columns}")
        cols = ", ".join(columns)
        # One type's rows are a few of the table's: filtered in SQL, the grouping
        # and the rows sent back are that few (a read path runs this per question).
        where, params = (
            ("WHERE issue_type = ?", (issue_type,)) if issue_type is not None else ("", ())
        )
        rows = self._query(
            f"""SELECT {cols}, sum(attempts), sum(fix_successes), sum(successes), sum(time_sum),
                       sum(time_n), min(first_seen), max(last_seen)
                FROM aimem_totals {where} GROUP BY {cols} ORDER BY {cols}""",
            params,
        )
        result = []
        for r in rows:
            item = dict(zip(columns, r[: len(columns)], strict=True))
            a, fs, s, tsum, tn, first, last = r[len(columns) :]
            item.update(
                attempts=a,
                fix_successes=fs,
                successes=s,
                time_sum=tsum,
                time_n=tn,
                first_seen=first,
                last_seen=last,
            )
            result.append(item)
        return result

    def temporal_counts(self) -> list[tuple[str, int, int, int, int]]:
        """(issue_type, weekday, hour, attempts, successes) rows."""
        return [
            tuple(r)
            for r in self._query(
                "SELECT issue_type, weekday, hour, attempts, successes FROM aimem_temporal"
            )
        ]

    def daily(self, since_day: str | None = None) -> list[dict[str, Any]]:
        """Daily rollup rows (day, model, type, fixer, counts), oldest first."""
        where, params = ("WHERE day >= ?", (since_day,)) if since_day else ("", ())
        rows = self._query(
            f"""SELECT day, model_name, issue_type, fixer_type, attempts, fix_successes, successes,
                       time_sum, time_n FROM aimem_daily {where} ORDER BY day""",
            params,
        )
        keys = (
            "day",
            "model_name",
            "issue_type",
            "fixer_type",
            "attempts",
            "fix_successes",
            "successes",
            "time_sum",
            "time_n",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # ---- full-text search ------------------------------------------------

    def search(self, match: str, limit: int) -> list[dict[str, Any]]:
        """FTS5 match, best (BM25) first, with a snippet of the best-matching column."""
        try:
            rows = self.conn.execute(
                # Rank and cut inside FTS5 first, then join only the survivors:
                # 30-45% faster on 1M rows than joining every match (bench/run.py).
                f"""SELECT {", ".join("h." + c for c in EXPORT_COLUMNS)}, best.score, best.snip
                    FROM (SELECT rowid, rank AS score,
                                 snippet(fix_history_fts, -1, '[', ']', '…', 12) AS snip
                          FROM fix_history_fts WHERE fix_history_fts MATCH ?
                          ORDER BY rank LIMIT ?) AS best
                    JOIN fix_history h ON h.id = best.rowid
                    ORDER BY best.score, h.id""",
                (match, limit),
            ).fetchall()
        except sqlite3.OperationalError as error:
            raise AimemError(f"invalid search query {match!r}: {error}") from error
        results = []
        for r in rows:
            record = row_to_dict(r[: len(EXPORT_COLUMNS)])
            record["rank"] = r[len(EXPORT_COLUMNS)]
            record["snippet"] = r[len(EXPORT_COLUMNS) + 1]
            results.append(record)
        return results

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

    # ---- archive segments ------------------------------------------------

    def segments(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The segment index, oldest time range first."""
        where, params = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self._query(
            f"""SELECT {SEGMENT_COLUMNS} FROM aimem_segments {where}
                ORDER BY min_timestamp, max_timestamp, name""",
            params,
        )
        return [dict(zip(SEGMENT_FIELDS, r, strict=True)) for r in rows]

    def segment(self, name: str) -> dict[str, Any] | None:
        row = self._one(f"SELECT {SEGMENT_COLUMNS} FROM aimem_segments WHERE name = ?", (name,))
        return None if row is None else dict(zip(SEGMENT_FIELDS, row, strict=True))

    def segments_since(self, since: str) -> list[dict[str, Any]]:
        """Segments holding at least one row newer than ``since`` (by their time range)."""
        rows = self._query(
            f"SELECT {SEGMENT_COLUMNS} FROM aimem_segments WHERE max_timestamp > ? ORDER BY name",
            (since,),
        )
        return [dict(zip(SEGMENT_FIELDS, r, strict=True)) for r in rows]

    def archive_page(
        self,
        before: str,
        keep_successes_since: str | None,
        limit: int,
        start: tuple[str, int] | None,
        columns: Sequence[str],
        group: Sequence[str],
    ) -> tuple[list[ArchiveRow], dict[int, bytes], tuple[str, int] | None]:
        """The next page of rows to archive: up to ``limit`` hot rows older than
        ``before`` in (timestamp, id) order from ``start`` on, grouped by the
        ``group`` columns (id order inside a group); and the (timestamp, id)
        where the next page starts, or None when this is the last page.

        Each row starts (JSON line's UTF-8 bytes with ``columns`` as keys,
        timestamp, id), the line built by SQLite (``json_lines``); the line of
        each row SQLite cannot build exactly (NULL there) comes apart, by id,
        built from its values.

        Verified successes newer than ``keep_successes_since`` stay hot. The
        grouping is a sort in Python on one text key built by SQLite: sorting
        whole rows in SQLite took about twice as long (100k rows).
        """
        if not set(columns) <= set(EXPORT_COLUMNS) or not set(group) <= set(EXPORT_COLUMNS):
            raise AimemError(f"unknown columns {columns} {group}")
        from aimem.store.snapshot import read_transaction

        # One snapshot: a row rebuilt from its values is the row whose line was read.
        with read_transaction(self.conn):
            sql, params = self._candidate_filter(before, keep_successes_since)
            # A value JSON cannot hold, in any candidate row, is refused by row and column
            with unwritable.refusing(self.conn, sql, params):
                if start is not None:
                    sql += " AND (timestamp, id) >= (?, ?)"
                    params = (*params, *start)
                # The first row past this page: none means no further page to ask for
                # (so a full last page costs no extra scan that finds nothing).
                bound = self._one(
                    f"SELECT timestamp, id FROM fix_history WHERE {sql} "
                    "ORDER BY timestamp, id LIMIT 1 OFFSET ?",
                    (*params, limit),
                )
                if bound is not None:
                    sql += " AND (timestamp, id) < (?, ?)"
                    params = (*params, bound[0], bound[1])
                key = (
                    " || char(31) || ".join(f"coalesce(CAST({c} AS TEXT), '')" for c in group)
                    or "''"
                )
                line = json_lines.row_line_sql(self.conn, columns)
                texts = [c for c in columns if c in json_lines.JSON_TEXT_DEFAULTS]
                selected = ", ".join([f"{line} AS line", "timestamp", "id", key, *texts])
                rows = self._query(
                    f"SELECT {selected} FROM fix_history WHERE {sql} ORDER BY id", params
                )
                unwritable.check_lines(self.conn, rows, 0, 2)
                rows.sort(key=itemgetter(3))  # stable: id order inside a group
                suspect = [r[2] for r in rows if r[0] is None]
                for at, column in enumerate(texts, 4):
                    odd = json_lines.CanonicalText(column).odd(map(itemgetter(at), rows))
                    if odd:
                        suspect += [r[2] for r in rows if r[at] in odd]
                values = self._values_by_id(columns, suspect) if suspect else {}
                rebuilt = unwritable.lines_from_values(self.conn, columns, values)
                return rows, rebuilt, (None if bound is None else (bound[0], bound[1]))

    def _values_by_id(self, columns: Sequence[str], ids: list[int]) -> dict[int, tuple[Any, ...]]:
        found: dict[int, tuple[Any, ...]] = {}
        for chunk, marks in in_chunks(ids):
            sql = f"SELECT id, {', '.join(columns)} FROM fix_history WHERE id IN ({marks})"
            for row in self._query(sql, chunk):
                found[row[0]] = tuple(row[1:])
        return found

    def count_archive_candidates(
        self, before: str, keep_successes_since: str | None
    ) -> dict[str, Any]:
        """How many rows ``archive_page`` would return in all, and their time range."""
        sql, params = self._candidate_filter(before, keep_successes_since)
        with unwritable.refusing(self.conn, sql, params):  # a timestamp that is not UTF-8
            row = self._one(
                f"SELECT count(*), min(timestamp), max(timestamp) FROM fix_history WHERE {sql}",
                params,
            )
        kept = 0
        if keep_successes_since is not None:
            kept = self._one(
                """SELECT count(*) FROM fix_history WHERE timestamp < ? AND timestamp >= ?
                   AND fix_success = 1 AND verification_success = 1""",
                (before, keep_successes_since),
            )[0]
        return {"rows": row[0], "min_timestamp": row[1], "max_timestamp": row[2], "kept": kept}

    def _candidate_filter(
        self, before: str, keep_successes_since: str | None
    ) -> tuple[str, tuple[Any, ...]]:
        # outcome-aware retention narrows the candidates to chosen ids
        only = " AND id IN (SELECT id FROM temp.aimem_retention)" if self._restricted else ""
        if keep_successes_since is None or keep_successes_since >= before:
            return "timestamp < ?" + only, (before,)
        return (
            "timestamp < ? AND NOT (fix_success = 1 AND verification_success = 1 "
            "AND timestamp >= ?)" + only,
            (before, keep_successes_since),
        )

    _restricted = False

    def restrict_candidates(self, ids: Sequence[int] | None) -> None:
        """Limit cleanup's candidates to ``ids`` (a temp table), or lift the limit (None)."""
        try:
            self.conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS aimem_retention(id INTEGER PRIMARY KEY)"
            )
            self.conn.execute("DELETE FROM temp.aimem_retention")
            if ids is not None:
                self.conn.executemany(
                    "INSERT INTO temp.aimem_retention(id) VALUES (?)", [(i,) for i in ids]
                )
            if self.conn.in_transaction:
                self.conn.commit()
        except sqlite3.Error as error:
            raise translate_sqlite_error(error, self.path) from error
        self._restricted = ids is not None

    def pending(self) -> list[dict[str, Any]]:
        """Journal entries of cleanups or thaws whose file step may be half done."""
        rows = self._query(
            "SELECT name, action, row_count, started_at FROM aimem_pending ORDER BY started_at"
        )
        return [
            dict(zip(("name", "action", "row_count", "started_at"), r, strict=True)) for r in rows
        ]

    def add_pending(self, name: str, action: str, row_count: int, started_at: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO aimem_pending(name, action, row_count, started_at)
                   VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET action = excluded.action,
                   row_count = excluded.row_count, started_at = excluded.started_at""",
                (name, action, row_count, started_at),
            )

    def drop_pending(self, name: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM aimem_pending WHERE name = ?", (name,))

    def commit_segments(
        self,
        segments: Sequence[dict[str, Any]],
        ids: Sequence[int],
        before_commit: Callable[[], None] | None = None,
        *,
        contents: Mapping[str, bytes] | None = None,
    ) -> None:
        """Register written, verified segments and delete their rows, in one transaction.

        Raises AimemError (nothing changed) when any of the rows is no longer hot.
        ``contents`` (segment bytes to store with them) must be empty: this
        backend keeps segments as files (``segments_in_database``).
        """
        if contents:
            raise AimemError("a SQLite repository keeps its segments as files, not in the database")
        ids = sorted(ids)  # table order: far fewer page visits than time order
        self.conn.execute("PRAGMA cache_size = -131072")  # 128 MiB for the bulk delete
        archived = all(s.get("kind", "rows") == "rows" for s in segments)
        with _freed_pages_unzeroed(self.conn, archived), self.transaction() as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS aimem_doomed(id INTEGER PRIMARY KEY)")
            conn.execute("DELETE FROM temp.aimem_doomed")
            conn.execute(
                "INSERT INTO temp.aimem_doomed(id) SELECT value FROM json_each(?)",
                (orjson.dumps(ids).decode(),),
            )
            present = conn.execute(
                "SELECT count(*) FROM fix_history WHERE id IN (SELECT id FROM temp.aimem_doomed)"
            ).fetchone()[0]
            if present != len(ids):
                raise AimemError(
                    f"{len(ids) - present} of the rows to archive are no longer in "
                    "fix_history; no segment was registered"
                )
            for segment in segments:
                self._register_segment(conn, segment)
            conn.execute(
                """INSERT OR IGNORE INTO aimem_archived_uids(uid)
                   SELECT uid FROM fix_history
                   WHERE id IN (SELECT id FROM temp.aimem_doomed) AND uid IS NOT NULL"""
            )
            remaining = conn.execute("SELECT count(*) FROM fix_history").fetchone()[0] - len(ids)
            delete = "DELETE FROM fix_history WHERE id IN (SELECT id FROM temp.aimem_doomed)"
            if len(ids) > 2 * remaining:
                # Deleting most rows: dropping the secondary indexes and the
                # triggers, then rebuilding both from the rows that stay, is
                # several times faster than per-row index and FTS deletes. The
                # rows that stay are copied aside and the table cleared whole
                # (SQLite frees its pages without rewriting each one: at 100k
                # rows the commit wrote 99 MB of WAL before, a few pages now).
                # All in this transaction: other processes see before or after.
                indexes = conn.execute(
                    """SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')
                       AND tbl_name = 'fix_history' AND sql IS NOT NULL"""
                ).fetchall()
                for kind, name, _ in indexes:
                    conn.execute(f'DROP {kind.upper()} "{name}"')
                conn.execute(
                    "CREATE TABLE aimem_keep AS SELECT * FROM fix_history "
                    "WHERE id NOT IN (SELECT id FROM temp.aimem_doomed)"
                )
                conn.execute("DELETE FROM fix_history")  # no WHERE, no trigger: cleared whole
                conn.execute("INSERT INTO fix_history SELECT * FROM aimem_keep")
                conn.execute("DROP TABLE aimem_keep")
                for _, _, sql in indexes:
                    conn.execute(sql)
                conn.execute("INSERT INTO fix_history_fts(fix_history_fts) VALUES ('rebuild')")
            else:
                conn.execute(delete)
            conn.execute("DELETE FROM temp.aimem_doomed")
            conn.executemany(
                "DELETE FROM aimem_pending WHERE name = ?", [(s["name"],) for s in segments]
            )
            self._bump_generation(conn)
            if before_commit is not None:
                before_commit()

    def finish_segment(self, segment: dict[str, Any], uids: Sequence[str]) -> int:
        """Register an unregistered segment and delete whichever of its rows are still hot."""
        with self.transaction() as conn:
            self._register_segment(conn, segment)
            conn.executemany(
                "INSERT OR IGNORE INTO aimem_archived_uids(uid) VALUES (?)", [(u,) for u in uids]
            )
            deleted = 0
            for chunk, marks in in_chunks(uids):
                deleted += conn.execute(
                    f"DELETE FROM fix_history WHERE uid IN ({marks})", chunk
                ).rowcount
            conn.execute("DELETE FROM aimem_pending WHERE name = ?", (segment["name"],))
            self._bump_generation(conn)
            return deleted

    def _register_segment(self, conn: sqlite3.Connection, segment: dict[str, Any]) -> None:
        conn.execute(
            f"""INSERT INTO aimem_segments({SEGMENT_COLUMNS})
                VALUES ({",".join("?" * len(SEGMENT_FIELDS))})""",
            [segment[f] for f in SEGMENT_FIELDS],
        )

    def thaw_segment(
        self,
        name: str,
        attempts: Sequence[tuple[int | None, Attempt]],
        before_commit: Callable[[], None] | None = None,
    ) -> dict[str, int]:
        """Put archived rows back into ``fix_history`` and retire the segment, atomically.

        Aggregates are not touched: they already count archived rows. A row keeps
        its old id when that id is free; a row whose uid is already hot is skipped.
        """
        with self.transaction() as conn:
            inserted = skipped = 0
            for record_id, attempt in attempts:
                if conn.execute(
                    "SELECT 1 FROM fix_history WHERE uid = ?", (attempt.uid,)
                ).fetchone():
                    skipped += 1
                    continue
                if (
                    record_id is not None
                    and not conn.execute(
                        "SELECT 1 FROM fix_history WHERE id = ?", (record_id,)
                    ).fetchone()
                ):
                    conn.execute(_INSERT_WITH_ID, (record_id, *attempt_params(attempt)))
                else:
                    conn.execute(_INSERT, attempt_params(attempt))
                inserted += 1
            conn.executemany(
                "DELETE FROM aimem_archived_uids WHERE uid = ?", [(a.uid,) for _, a in attempts]
            )
            conn.execute("DELETE FROM aimem_segments WHERE name = ?", (name,))
            self._bump_generation(conn)
            if before_commit is not None:
                before_commit()
        return {"inserted": inserted, "skipped": skipped}

    # ---- integrity and housekeeping --------------------------------------

    def integrity_problems(self, quick: bool = False, limit: int = 20) -> list[str]:
        """SQLite's ``integrity_check`` (or ``quick_check``) messages; empty when sound."""
        pragma = "quick_check" if quick else "integrity_check"
        try:
            rows = self.conn.execute(f"PRAGMA {pragma}({limit})").fetchall()
        except sqlite3.DatabaseError as error:
            return [str(error)]
        messages = [str(r[0]) for r in rows]
        return [] if messages == ["ok"] else messages

    def fts_problem(self) -> str | None:
        """None when the full-text index matches ``fix_history``, else SQLite's complaint."""
        try:
            with self.transaction() as conn:
                # rank 1: also compare the index with the content table (external content)
                conn.execute(
                    "INSERT INTO fix_history_fts(fix_history_fts, rank) VALUES ('integrity-check', 1)"
                )
        except AimemError as error:
            return str(error.__cause__ or error)
        return None

    def fts_rebuild(self) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO fix_history_fts(fix_history_fts) VALUES ('rebuild')")

    def bad_timestamps(self, limit: int = 20) -> list[tuple[int, str]]:
        """(id, timestamp) of hot rows whose timestamp is not in the storage form."""
        rows = self._query(
            "SELECT id, CAST(timestamp AS BLOB) FROM fix_history WHERE timestamp NOT GLOB ?"
            " ORDER BY id LIMIT ?",
            (_STORAGE_GLOB, limit),
        )
        # as bytes: a timestamp that is not UTF-8 is shown, not a crash
        return [(r[0], bytes(r[1] or b"").decode(errors="replace")) for r in rows]

    def unwritable_values(self, limit: int = 20) -> unwritable.Found:
        """The first ``limit`` hot rows (id, column, problem) holding a value that
        JSON and CSV cannot hold (``aimem.store.unwritable``), and how many there
        are: export and cleanup refuse them."""
        try:
            return unwritable.find(self.conn, limit=limit, count=True)
        except sqlite3.Error as error:
            raise translate_sqlite_error(error, self.path) from error

    def aggregate_drift(self, extra_facts: Iterable[Fact]) -> list[tuple[str, str]]:
        """Compare every aggregate with a recomputation from hot rows plus ``extra_facts``.

        Runs on a separate connection (the recomputation lives in its temp tables,
        read from one snapshot of the database). Returns (table, detail) per drift.
        """
        from aimem.store.rebuild import rebuild_aggregates

        conn = connect(self.path)
        try:
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("BEGIN")
            rebuild_aggregates(conn, extra_facts=extra_facts, schema_name="temp")
            drift = []
            for table, columns, key in _DRIFT_COMPARISONS:
                missing = conn.execute(
                    f"SELECT count(*) FROM (SELECT {columns} FROM temp.{table} "
                    f"EXCEPT SELECT {columns} FROM main.{table} {key})"
                ).fetchone()[0]
                extra = conn.execute(
                    f"SELECT count(*) FROM (SELECT {columns} FROM main.{table} {key} "
                    f"EXCEPT SELECT {columns} FROM temp.{table})"
                ).fetchone()[0]
                if missing or extra:
                    drift.append((table, f"{missing + extra} rows differ from a recomputation"))
            conn.execute("ROLLBACK")
            return drift
        except sqlite3.Error as error:
            raise translate_sqlite_error(error, self.path) from error
        finally:
            conn.close()

    def rebuild_aggregates(self, extra_facts: Iterable[Fact]) -> None:
        """Recompute every aggregate from hot rows plus ``extra_facts`` (``check --repair``)."""
        from aimem.store.rebuild import rebuild_aggregates

        with self.transaction() as conn:
            rebuild_aggregates(conn, extra_facts=extra_facts, schema_name="main")
            self._bump_generation(conn)

    def describe(self) -> str:
        """The database as messages name it."""
        return str(self.path)

    def database_bytes(self) -> int:
        """Bytes the database takes on disk (its file and its WAL)."""
        total = 0
        for suffix in ("", "-wal"):
            with suppress(FileNotFoundError):
                total += Path(str(self.path) + suffix).stat().st_size
        return total

    def page_stats(self) -> dict[str, int]:
        """Page size, page count and free pages of the database file."""
        return {
            "page_size": int(self._one("PRAGMA page_size")[0]),
            "page_count": int(self._one("PRAGMA page_count")[0]),
            "freelist_count": int(self._one("PRAGMA freelist_count")[0]),
        }

    def housekeeping(self, vacuum: bool) -> None:
        """WAL checkpoint (TRUNCATE), ``PRAGMA optimize``, ``ANALYZE``, optionally ``VACUUM``."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("ANALYZE")
            self.conn.execute("PRAGMA optimize")
            if vacuum:
                self.conn.execute("VACUUM")
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            raise translate_sqlite_error(error, self.path) from error

    # ---- advice, alerts, cost, retention ---------------------------------

    def fix_outcome_pairs(
        self, scope: str, pairs: Sequence[tuple[str, str]], conn: Any = None
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """(attempts, successes) of (scope key, fix key) pairs in one scope, in few queries."""
        found: dict[tuple[str, str], tuple[int, int]] = {}
        source = conn if conn is not None else self.conn
        unique = sorted(set(pairs))
        if len(unique) == 1:
            # One recorded attempt: a primary-key lookup (the repeat guard runs
            # inside the write transaction of every record).
            key, fkey = unique[0]
            try:
                row = source.execute(
                    """SELECT attempts, successes FROM aimem_fix_outcomes
                       WHERE scope = ? AND scope_key = ? AND fix_key = ?""",
                    (SCOPES[scope], key, fkey),
                ).fetchone()
            except sqlite3.Error as error:
                raise translate_sqlite_error(error, self.path) from error
            return {} if row is None else {(key, fkey): (row[0], row[1])}
        for start in range(0, len(unique), 400):
            chunk = unique[start : start + 400]
            values = ",".join("(?, ?)" for _ in chunk)
            params: list[Any] = [SCOPES[scope]]
            for key, fkey in chunk:
                params += [key, fkey]
            try:
                rows = source.execute(
                    f"""SELECT scope_key, fix_key, attempts, successes FROM aimem_fix_outcomes
                        WHERE scope = ? AND (scope_key, fix_key) IN (VALUES {values})""",
                    params,
                ).fetchall()
            except sqlite3.Error as error:
                raise translate_sqlite_error(error, self.path) from error
            found.update({(r[0], r[1]): (r[2], r[3]) for r in rows})
        return found

    def scope_totals(self, scope: str, scope_key: str) -> tuple[int, int]:
        """(attempts, successes) summed over every fix of one scope key."""
        row = self._one(
            """SELECT coalesce(sum(attempts), 0), coalesce(sum(successes), 0)
               FROM aimem_fix_outcomes WHERE scope = ? AND scope_key = ?""",
            (SCOPES[scope], scope_key),
        )
        return int(row[0]), int(row[1])

    def fixers_of_successes(self, issue_type: str, limit: int = 500) -> list[dict[str, Any]]:
        """Which fixers produced the latest ``limit`` verified successes of an issue type,
        by commands (their stored JSON text) and model.

        Bounded by the (issue_type, success, timestamp) index, whatever the history size.
        """
        rows = self._query(
            """SELECT fix_commands, model_name, fixer_type, coalesce(fixer_model, ''), count(*),
                      max(timestamp)
               FROM (SELECT fix_commands, model_name, fixer_type, fixer_model, timestamp
                     FROM fix_history
                     WHERE issue_type = ? AND verification_success = 1 AND fix_success = 1
                     ORDER BY timestamp DESC LIMIT ?)
               GROUP BY 1, 2, 3, 4""",
            (issue_type, limit),
        )
        return [
            {
                "fix_commands": r[0],
                "model_name": r[1],
                "fixer_type": r[2],
                "fixer_model": r[3] or None,
                "successes": r[4],
                "last_success": r[5],
            }
            for r in rows
        ]

    def fingerprint_summaries(
        self, issue_type: str | None = None, min_attempts: int = 2
    ) -> list[dict[str, Any]]:
        """Per fingerprint: attempts, successes, last attempt, and its latest hot row's
        issue type, model and description (None when every row is archived)."""
        return [
            row
            for row in self.iter_fingerprint_summaries(min_attempts)
            if issue_type is None or row["issue_type"] == issue_type
        ]

    def iter_fingerprint_summaries(
        self, min_attempts: int = 2, chunk: int = 2000
    ) -> Iterator[dict[str, Any]]:
        """``fingerprint_summaries`` of every issue type, most attempts first, streamed."""
        cursor = self.conn.execute(
            """SELECT o.scope_key, sum(o.attempts), sum(o.successes), max(o.last_attempt),
                      (SELECT h.issue_type || char(31) || h.model_name || char(31) || h.description
                       FROM fix_history h WHERE h.fingerprint = o.scope_key
                       ORDER BY h.timestamp DESC LIMIT 1)
               FROM aimem_fix_outcomes o WHERE o.scope = 'fingerprint'
               GROUP BY o.scope_key HAVING sum(o.attempts) >= ?
               ORDER BY 2 DESC, 1""",
            (min_attempts,),
        )
        try:
            while rows := cursor.fetchmany(chunk):
                for key, attempts, successes, last_attempt, sample in rows:
                    kind, model, description = sample.split("\x1f", 2) if sample else [None] * 3
                    yield {
                        "fingerprint": key,
                        "attempts": attempts,
                        "successes": successes,
                        "last_attempt": last_attempt,
                        "issue_type": kind,
                        "model_name": model,
                        "description": description,
                    }
        finally:
            cursor.close()

    def cost_rows(self) -> list[dict[str, Any]]:
        """The cost rollup: per fixer, fixer model and issue type (failed attempts included)."""
        rows = self._query(
            """SELECT fixer_type, fixer_model, issue_type, attempts, successes, cost_sum, cost_n,
                      tokens_in_sum, tokens_out_sum, tokens_n
               FROM aimem_cost ORDER BY fixer_type, fixer_model, issue_type"""
        )
        keys = (
            "fixer_type",
            "fixer_model",
            "issue_type",
            "attempts",
            "successes",
            "cost_sum",
            "cost_n",
            "tokens_in_sum",
            "tokens_out_sum",
            "tokens_n",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def failures_by_fingerprint(self, since: str, until: str) -> list[dict[str, Any]]:
        """Failed hot attempts in [since, until] grouped by fingerprint (timestamp index)."""
        rows = self._query(
            """SELECT fingerprint, count(*), min(timestamp), max(timestamp)
               FROM fix_history
               WHERE timestamp >= ? AND timestamp <= ?
                     AND NOT (fix_success = 1 AND verification_success = 1)
                     AND fingerprint IS NOT NULL
               GROUP BY fingerprint""",
            (since, until),
        )
        return [
            {"fingerprint": r[0], "failures": r[1], "first_failure": r[2], "last_failure": r[3]}
            for r in rows
        ]

    def last_fingerprint_success(self, fingerprint: str) -> dict[str, Any] | None:
        """The fix with the latest verified success for a fingerprint (archive included)."""
        row = self._one(
            """SELECT fix_commands, last_success, attempts, successes FROM aimem_fix_outcomes
               WHERE scope = 'fingerprint' AND scope_key = ? AND last_success IS NOT NULL
               ORDER BY last_success DESC, fix_key LIMIT 1""",
            (fingerprint,),
        )
        if row is None:
            return None
        return {
            "fix_commands": loads_or_text(row[0], []),
            "last_success": row[1],
            "attempts": row[2],
            "successes": row[3],
        }

    def fingerprint_rows_after(self, fingerprint: str, after: str, until: str) -> list[Any]:
        """(timestamp, model_name, issue_type, description, success) of hot rows of a
        fingerprint in (after, until], oldest first (fingerprint index)."""
        return self._query(
            """SELECT timestamp, model_name, issue_type, description,
                      fix_success = 1 AND verification_success = 1
               FROM fix_history WHERE fingerprint = ? AND timestamp > ? AND timestamp <= ?
               ORDER BY timestamp, id""",
            (fingerprint, after, until),
        )

    def failure_ids_beyond(self, keep: int) -> list[dict[str, Any]]:
        """Hot failed attempts older than the ``keep`` latest failures of their fingerprint.

        Successes are never selected. Each item: id, timestamp, fingerprint,
        issue_type, model_name, fix_commands (JSON text).
        """
        rows = self._query(
            """SELECT id, timestamp, fingerprint, issue_type, model_name, fix_commands FROM (
                   SELECT id, timestamp, fingerprint, issue_type, model_name, fix_commands,
                          row_number() OVER (PARTITION BY coalesce(fingerprint, '')
                                             ORDER BY timestamp DESC, id DESC) AS rn
                   FROM fix_history
                   WHERE NOT (fix_success = 1 AND verification_success = 1))
               WHERE rn > ? ORDER BY id""",
            (keep,),
        )
        keys = ("id", "timestamp", "fingerprint", "issue_type", "model_name", "fix_commands")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def hot_fix_counts(self) -> dict[str, int]:
        """Hot rows per fix-command JSON text (for retention explanations)."""
        return {
            r[0]: r[1]
            for r in self._query(
                "SELECT fix_commands, count(*) FROM fix_history GROUP BY fix_commands"
            )
        }


SEGMENT_FIELDS = (
    "name",
    "kind",
    "sha256",
    "row_count",
    "min_timestamp",
    "max_timestamp",
    "raw_bytes",
    "compressed_bytes",
    "created_at",
)
SEGMENT_COLUMNS = ", ".join(SEGMENT_FIELDS)


@contextmanager
def _freed_pages_unzeroed(conn: sqlite3.Connection, when: bool) -> Iterator[None]:
    """``secure_delete = FAST`` for the block when ``when`` (restored afterwards).

    Rows moved into an archive segment live on there: zeroing every page they
    freed (``secure_delete``, on in Debian's SQLite) only wrote each page to the
    WAL again (99 MB for 100k archived rows). A purge keeps the setting: purged
    text should not linger in free pages.
    """
    if not when:
        yield
        return
    previous = int(conn.execute("PRAGMA secure_delete").fetchone()[0])
    conn.execute("PRAGMA secure_delete = FAST")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA secure_delete = {previous}")


_FTS_DELETE_TRIGGER = next(
    statement.strip() + ";"
    for statement in schema.FULL_TEXT.split(";\nEND;")
    if "fix_history_fts_delete" in statement
).replace(";", ";\nEND;", 1)
_INSERT_WITH_ID = _INSERT.replace(
    "INSERT INTO fix_history(", "INSERT INTO fix_history(id, "
).replace("VALUES (?", "VALUES (?, ?")
_STORAGE_GLOB = (
    "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
    ".[0-9][0-9][0-9][0-9][0-9][0-9]Z"
)
# (table, compared columns, filter on main) for check's recomputation. Sums of
# seconds are rounded (addition order differs); legacy pattern or model rows
# with no raw rows behind them are kept as they are, so only keys the
# recomputation knows are compared on the seed schema's tables.
_DRIFT_COMPARISONS = (
    (
        "aimem_totals",
        "model_name, issue_type, fixer_type, attempts, fix_successes, successes, "
        "round(time_sum, 3), time_n, first_seen, last_seen",
        "",
    ),
    (
        "aimem_daily",
        "day, model_name, issue_type, fixer_type, attempts, fix_successes, successes, "
        "round(time_sum, 3), time_n",
        "",
    ),
    ("aimem_temporal", "issue_type, weekday, hour, attempts, successes", ""),
    (
        "aimem_fix_outcomes",
        "scope, scope_key, fix_key, fix_commands, attempts, successes, last_attempt, last_success",
        "",
    ),
    (
        "aimem_cost",
        "fixer_type, fixer_model, issue_type, attempts, successes, round(cost_sum, 6), cost_n, "
        "tokens_in_sum, tokens_out_sum, tokens_n",
        "",
    ),
    (
        "issue_patterns",
        "issue_signature, coalesce(success_count, 0), coalesce(failure_count, 0), best_fix, "
        "last_seen, round(confidence_score, 6)",
        "WHERE issue_signature IN (SELECT issue_signature FROM temp.issue_patterns)",
    ),
    (
        "model_characteristics",
        "model_name, total_tests, round(success_rate, 6), common_issues, effective_fixes",
        "WHERE model_name IN (SELECT model_name FROM temp.model_characteristics)",
    ),
)
