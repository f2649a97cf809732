"""The SQLite store's reads of records and models."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aimem.errors import AimemError
from aimem.jsontext import loads_or_text
from aimem.store.sqlite.core import StoreCore
from aimem.store.sqlite.rows import (
    ROW_COLUMNS,
    row_to_dict,
)


class ReadOps(StoreCore):
    """Totals, rows and model characteristics."""

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
        # One statement: three index-ordered reads, each by its own index.
        best_first = "verification_success DESC, fix_success DESC, timestamp DESC"
        rows = self._query(
            f"""SELECT 0, * FROM (SELECT {ROW_COLUMNS} FROM fix_history
                    WHERE issue_signature = ? ORDER BY timestamp DESC LIMIT ?) AS exact
                UNION ALL
                SELECT 1, * FROM (SELECT {ROW_COLUMNS} FROM fix_history
                    WHERE model_name = ? AND issue_type = ? ORDER BY {best_first} LIMIT ?) AS model
                UNION ALL
                SELECT 2, * FROM (SELECT {ROW_COLUMNS} FROM fix_history
                    WHERE issue_type = ? ORDER BY {best_first} LIMIT ?) AS by_type""",
            (signature, limit, model_name, issue_type, limit, issue_type, limit),
        )
        parts: list[list[dict[str, Any]]] = [[], [], []]
        for row in rows:
            parts[row[0]].append(row_to_dict(row[1:]))
        # A union keeps no order: each part is put back in its own.
        parts[0].sort(key=lambda r: r["timestamp"], reverse=True)
        for part in parts[1:]:
            part.sort(
                key=lambda r: (r["verification_success"], r["fix_success"], r["timestamp"]),
                reverse=True,
            )
        return {"exact_matches": parts[0], "model_matches": parts[1], "type_matches": parts[2]}

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
