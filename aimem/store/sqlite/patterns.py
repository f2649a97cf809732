"""The SQLite store's reads of what was learned: fix outcomes, patterns, rollups, search."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from aimem.errors import AimemError
from aimem.jsontext import loads_or_text
from aimem.records import EXPORT_COLUMNS
from aimem.store.sqlite.core import StoreCore
from aimem.store.sqlite.rows import (
    _EXACT_COLUMNS,
    SCOPES,
    _exact_row,
    row_to_dict,
)


class PatternOps(StoreCore):
    """Fix outcomes, patterns, rollups and full-text search."""

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

    def temporal_counts(
        self, issue_type: str | None = None
    ) -> list[tuple[str, int, int, int, int]]:
        """(issue_type, weekday, hour, attempts, successes) rows, of one issue type if given."""
        where, params = ("WHERE issue_type = ?", (issue_type,)) if issue_type else ("", ())
        return [
            tuple(r)
            for r in self._query(
                f"SELECT issue_type, weekday, hour, attempts, successes FROM aimem_temporal {where}",
                params,
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
