"""Bulk-loading helpers for imports (SQL stays under aimem/store/).

``deferred_full_text`` indexes a whole import in one statement instead of one
trigger call per row (measured: ~100 µs per row through the trigger against
~7 µs in bulk). Inside the caller's write transaction it drops the FTS insert
trigger, and at the end indexes every row added since (ids above the maximum
at the start: AUTOINCREMENT ids only grow) and re-creates the trigger from its
own stored SQL. DDL is transactional in SQLite: a rollback restores the trigger,
and no other connection can write (or see the trigger gone) meanwhile.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from aimem.records import Attempt
from aimem.store.aggregates import AggregateWriter, Fact
from aimem.store.sqlite_store import _INSERT, attempt_fact, attempt_params

TRIGGER = "fix_history_fts_insert"
# Idempotent insert: a uid already stored (unique index) leaves the row out.
_INSERT_NEW = _INSERT + " ON CONFLICT(uid) DO NOTHING"


@contextmanager
def deferred_full_text(conn: sqlite3.Connection) -> Iterator[None]:
    """Within a write transaction: index the rows inserted in the block in bulk at its end."""
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (TRIGGER,)
    ).fetchone()
    if row is None:
        yield
        return
    start = conn.execute("SELECT coalesce(max(id), 0) FROM fix_history").fetchone()[0]
    conn.execute(f"DROP TRIGGER {TRIGGER}")
    yield
    conn.execute(
        """INSERT INTO fix_history_fts(rowid, description, claude_analysis, fix_commands, notes)
           SELECT id, description, claude_analysis, fix_commands, notes
           FROM fix_history WHERE id > ?""",
        (start,),
    )
    conn.execute(row[0])


def insert_new(conn: sqlite3.Connection, attempts: Sequence[Attempt]) -> tuple[int, list[Fact]]:
    """Insert the attempts whose uid is not stored yet; return (how many, their facts).

    The caller applies the facts to the aggregates (``apply_facts``), possibly
    for many batches at once: aggregates are order- and batch-independent.
    """
    added = 0
    facts: list[Fact] = []
    for attempt in attempts:
        if conn.execute(_INSERT_NEW, attempt_params(attempt)).rowcount == 1:
            added += 1
            facts.append(attempt_fact(attempt))
    return added, facts


def apply_facts(conn: sqlite3.Connection, facts: Sequence[Fact]) -> None:
    """Add facts to every aggregate and bump the generation (the caller holds the transaction)."""
    if not facts:
        return
    AggregateWriter(conn).apply(facts)
    conn.execute(
        "UPDATE aimem_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
    )
