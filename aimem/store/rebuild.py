"""Recomputing every aggregate from raw rows (migration, ``check``, ``check --repair``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from aimem.store import schema
from aimem.store.aggregates import FACT_COLUMNS, AggregateWriter, Fact, facts_from_rows
from aimem.store.connection import run_script

# Facts folded per write: every window upserts each key it touched, so wider
# windows write less (check's recomputation at 100k rows: 9.9-11.6 s with
# 5,000, 7.9-8.6 s with 50,000, no faster with all rows at once). Import
# folds the same 50,000-row windows; memory stays bounded.
CHUNK = 50_000


def _chunks(facts: Iterable[Fact]) -> Iterable[list[Fact]]:
    batch: list[Fact] = []
    for fact in facts:
        batch.append(fact)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def hot_facts(conn: sqlite3.Connection) -> Iterable[Fact]:
    """Facts of every row in ``fix_history``, in id order, streamed."""
    cursor = conn.execute(f"SELECT {FACT_COLUMNS} FROM main.fix_history ORDER BY id")
    while True:
        rows = cursor.fetchmany(CHUNK)
        if not rows:
            return
        yield from facts_from_rows(rows)


def rebuild_aggregates(
    conn: sqlite3.Connection, extra_facts: Iterable[Fact] = (), schema_name: str = "main"
) -> None:
    """Recompute rollups, patterns and model characteristics; the caller holds the transaction.

    ``extra_facts`` adds rows that live outside ``fix_history`` (archive segments).
    Pattern rows whose signature has no raw rows (legacy patterns whose records
    the seed system's cleanup removed) are left as they are.
    """
    s = schema_name
    if s == "temp":
        run_script(conn, schema.ROLLUPS.format(schema="temp"))
        run_script(conn, schema.TEMP_DESIGN_AGGREGATES)
    # The cost rollup (migration m012) may not exist yet when an earlier
    # migration (m009) recomputes aggregates; creating it here is idempotent.
    run_script(conn, schema.COST_ROLLUP.format(schema=s))
    for table in schema.ROLLUP_TABLES:
        conn.execute(f"DELETE FROM {s}.{table}")
    writer = AggregateWriter(conn, s)
    if s == "main":
        conn.execute(
            """UPDATE main.issue_patterns SET success_count = 0, failure_count = 0,
                   best_fix = NULL, last_seen = NULL, confidence_score = 0.0
               WHERE issue_signature IN (SELECT issue_signature FROM main.fix_history)"""
        )
        conn.execute(
            """UPDATE main.model_characteristics SET total_tests = 0, success_rate = 0.0,
                   common_issues = NULL, effective_fixes = NULL
               WHERE model_name IN (SELECT model_name FROM main.fix_history)"""
        )
    else:
        conn.execute(f"DELETE FROM {s}.issue_patterns")
        conn.execute(f"DELETE FROM {s}.model_characteristics")
    for batch in _chunks(hot_facts(conn)):
        writer.apply(batch)
    if s == "main":
        _reset_archived_only(conn, extra_facts, writer)
    else:
        for batch in _chunks(extra_facts):
            writer.apply(batch)


def _reset_archived_only(
    conn: sqlite3.Connection, extra_facts: Iterable[Fact], writer: AggregateWriter
) -> None:
    # Rows only in the archive: their pattern and model rows must be reset too
    # before the archived facts are added back.
    reset_signatures: set[str] = set()
    reset_models: set[str] = set()
    for batch in _chunks(extra_facts):
        fresh_signatures = {f.issue_signature for f in batch} - reset_signatures
        fresh_models = {f.model_name for f in batch} - reset_models
        for signature in fresh_signatures:
            has_hot = conn.execute(
                "SELECT 1 FROM main.fix_history WHERE issue_signature = ? LIMIT 1", (signature,)
            ).fetchone()
            if not has_hot:
                conn.execute(
                    """UPDATE main.issue_patterns SET success_count = 0, failure_count = 0,
                           best_fix = NULL, last_seen = NULL, confidence_score = 0.0
                       WHERE issue_signature = ?""",
                    (signature,),
                )
        for model in fresh_models:
            has_hot = conn.execute(
                "SELECT 1 FROM main.fix_history WHERE model_name = ? LIMIT 1", (model,)
            ).fetchone()
            if not has_hot:
                conn.execute(
                    """UPDATE main.model_characteristics SET total_tests = 0, success_rate = 0.0
                       WHERE model_name = ?""",
                    (model,),
                )
        reset_signatures |= fresh_signatures
        reset_models |= fresh_models
        writer.apply(batch)
