"""The SQLite store's checks: integrity, drift of the aggregates, repair, housekeeping."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from aimem.errors import AimemError
from aimem.store import unwritable
from aimem.store.aggregates import (
    Fact,
)
from aimem.store.connection import (
    connect,
    translate_sqlite_error,
)
from aimem.store.sqlite.core import StoreCore

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


def drift_from_recomputation(conn: Any, extra_facts: Iterable[Fact]) -> list[tuple[str, str]]:
    """(table, detail) of every aggregate table that differs from a recomputation
    built in ``conn``'s temporary tables; rolled back, so ``conn`` is left as it was.
    ``conn`` is a sqlite3 connection or the PostgreSQL dialect connection."""
    from aimem.store.rebuild import rebuild_aggregates

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


class CheckOps(StoreCore):
    """Integrity, drift and repair of the aggregates, housekeeping."""

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
        conn = connect(self.path)
        try:
            conn.execute("PRAGMA temp_store = MEMORY")
            return drift_from_recomputation(conn, extra_facts)
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
