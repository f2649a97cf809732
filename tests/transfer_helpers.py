"""Helpers shared by the transfer and backup tests."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from aimem import AIMemory

# The design's exact schema (docs: Database Schema), as an old ai_memory.db has it.
DESIGN_SQL = """
CREATE TABLE fix_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    model_name TEXT NOT NULL,
    issue_type TEXT NOT NULL,
    issue_signature TEXT NOT NULL,
    description TEXT NOT NULL,
    fixer_type TEXT NOT NULL,
    claude_analysis TEXT NOT NULL,
    fix_commands TEXT NOT NULL,
    fix_success BOOLEAN NOT NULL,
    verification_success BOOLEAN NOT NULL,
    execution_time_seconds REAL,
    system_info TEXT NOT NULL,
    notes TEXT
);
CREATE TABLE issue_patterns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pattern_name TEXT UNIQUE NOT NULL,
    issue_signature TEXT NOT NULL,
    success_count INTEGER DEFAULT 0,
    failure_count INTEGER DEFAULT 0,
    best_fix TEXT,
    last_seen TEXT,
    confidence_score REAL DEFAULT 0.0
);
CREATE TABLE model_characteristics (
    model_name TEXT PRIMARY KEY,
    total_tests INTEGER DEFAULT 0,
    success_rate REAL DEFAULT 0.0,
    common_issues TEXT,
    effective_fixes TEXT,
    last_updated TEXT,
    performance_notes TEXT
);
CREATE INDEX idx_fix_history_timestamp ON fix_history(timestamp);
CREATE INDEX idx_fix_history_model ON fix_history(model_name);
CREATE INDEX idx_fix_history_issue_type ON fix_history(issue_type);
CREATE INDEX idx_fix_history_signature ON fix_history(issue_signature);
CREATE INDEX idx_fix_history_fixer_type ON fix_history(fixer_type);
CREATE INDEX idx_fix_history_success ON fix_history(fix_success, verification_success);
"""


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
    state["search"] = [r["uid"] for r in memory.search("timeout", limit=50)]
    return state
