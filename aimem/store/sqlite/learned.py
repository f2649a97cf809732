"""The SQLite store's reads for advice, alerts, cost and retention."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from aimem.jsontext import loads_or_text
from aimem.store.connection import (
    translate_sqlite_error,
)
from aimem.store.sqlite.core import StoreCore
from aimem.store.sqlite.rows import (
    SCOPES,
)


class LearnedOps(StoreCore):
    """Reads behind advice, alerts, cost analysis and retention."""

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

    def scope_totals(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """(attempts, successes) summed over every fix of each (scope, scope key), in one query."""
        found = dict.fromkeys(keys, (0, 0))
        if not found:
            return found
        scopes = {SCOPES[scope]: scope for scope, _ in found}
        wanted = " OR ".join("(scope = ? AND scope_key = ?)" for _ in found)
        params = [value for scope, key in found for value in (SCOPES[scope], key)]
        for scope, key, attempts, successes in self._query(
            f"""SELECT scope, scope_key, sum(attempts), sum(successes)
                FROM aimem_fix_outcomes WHERE {wanted} GROUP BY scope, scope_key""",
            params,
        ):
            found[(scopes[scope], key)] = (int(attempts), int(successes))
        return found

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
