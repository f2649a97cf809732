"""Helpers shared by the transfer and backup tests."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from aimem import AIMemory
from tests.legacy import DESIGN_DDL

# The seed schema, exactly as an old ai_memory.db has it.
DESIGN_SQL = DESIGN_DDL


def db_digest(path: Path) -> str:
    """A hash of every row of every table (order-independent within a table)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        digest = hashlib.sha256()
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger', 'index') "
                "ORDER BY name"
            )
        ]
        schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        digest.update(repr(schema).encode())
        for table in tables:
            kind = conn.execute(
                "SELECT type FROM sqlite_master WHERE name = ?", (table,)
            ).fetchone()
            if kind[0] != "table":
                continue
            rows = sorted(repr(r) for r in conn.execute(f'SELECT * FROM "{table}"'))
            digest.update(table.encode())
            digest.update("\n".join(rows).encode())
        return digest.hexdigest()
    finally:
        conn.close()


def rows_without_id(memory: AIMemory) -> list[dict[str, Any]]:
    """Every record in export form without the local id, ordered by uid."""
    return sorted(
        ({k: v for k, v in row.items() if k != "id"} for row in memory.store.iter_rows()),
        key=lambda r: r["uid"],
    )


def learned_state(memory: AIMemory) -> dict[str, Any]:
    """Everything learned from the records (independent of local ids and clocks)."""
    conn = memory.store.conn
    state: dict[str, Any] = {}
    for table in ("aimem_totals", "aimem_daily", "aimem_temporal", "aimem_fix_outcomes"):
        state[table] = sorted(repr(r) for r in conn.execute(f"SELECT * FROM {table}"))
    state["issue_patterns"] = sorted(
        repr(r)
        for r in conn.execute(
            "SELECT pattern_name, issue_signature, success_count, failure_count, best_fix, "
            "last_seen, confidence_score, issue_type, model_family FROM issue_patterns"
        )
    )
    state["model_characteristics"] = sorted(
        repr(r)
        for r in conn.execute(
            "SELECT model_name, total_tests, success_rate, common_issues, effective_fixes "
            "FROM model_characteristics"
        )
    )
    stats = memory.get_memory_stats()
    for key in ("memory_directory", "knowledge_base_size", "recent_activity_7days"):
        stats.pop(key)
    state["stats"] = stats
    kb = memory.knowledge_base
    kb.pop("generation")
    state["knowledge_base"] = kb
    # what matches (the order of equal matches is each backend's own ranking)
    state["search"] = sorted(r["uid"] for r in memory.search("timeout", limit=10_000))
    return state
