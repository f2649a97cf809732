"""The SQLite store's archive: segments, cleanup candidates and pages, thaw."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import orjson

from aimem.errors import AimemError
from aimem.records import EXPORT_COLUMNS, Attempt
from aimem.store import json_lines, unwritable
from aimem.store.connection import (
    translate_sqlite_error,
)
from aimem.store.sqlite.core import StoreCore
from aimem.store.sqlite.rows import (
    _INSERT,
    ArchiveRow,
    attempt_params,
)
from aimem.store.sqlparams import in_chunks

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


_INSERT_WITH_ID = _INSERT.replace(
    "INSERT INTO fix_history(", "INSERT INTO fix_history(id, "
).replace("VALUES (?", "VALUES (?, ?")


class ArchiveOps(StoreCore):
    """Archive segments and the moves of rows into and out of them."""

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

    def _page_bounds(
        self, sql: str, params: tuple[Any, ...], start: tuple[str, int] | None, limit: int
    ) -> tuple[str, tuple[Any, ...], Any]:
        """``sql``/``params`` narrowed to one page of candidates from ``start`` on, and
        the first row past that page (None: this is the last page, so a full last
        page costs no extra scan that finds nothing)."""
        if start is not None:
            sql += " AND (timestamp, id) >= (?, ?)"
            params = (*params, *start)
        bound = self._one(
            f"SELECT timestamp, id FROM fix_history WHERE {sql} "
            "ORDER BY timestamp, id LIMIT 1 OFFSET ?",
            (*params, limit),
        )
        if bound is not None:
            sql += " AND (timestamp, id) < (?, ?)"
            params = (*params, bound[0], bound[1])
        return sql, params, bound

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
                sql, params, bound = self._page_bounds(sql, params, start, limit)
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
