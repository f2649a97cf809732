"""The physical floor: plain sqlite3 with the seed schema and its six indexes.

Same pragmas as aimem (WAL, synchronous FULL unless told otherwise, the same
busy timeout), no aimem code on the write path: what SQLite itself costs for
the same rows on this machine, measured in the same run as aimem's figures.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from aimem.store.schema import DESIGN_TABLES

# The seed schema's tables and six indexes, exactly as aimem creates them.
SCHEMA = DESIGN_TABLES
COLUMNS = (
    "timestamp, model_name, issue_type, issue_signature, description, fixer_type, "
    "claude_analysis, fix_commands, fix_success, verification_success, "
    "execution_time_seconds, system_info, notes"
)
INSERT = f"INSERT INTO fix_history({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def connect(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("PRAGMA busy_timeout = 60000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def create(path: Path, prefill_from: Path | None = None) -> None:
    """A floor database, optionally holding the same rows as an aimem repository."""
    conn = connect(path)
    conn.executescript(SCHEMA)
    if prefill_from is not None:
        conn.execute("ATTACH DATABASE ? AS src", (f"file:{prefill_from}?mode=ro",))
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"INSERT INTO fix_history({COLUMNS}) SELECT {COLUMNS} FROM src.fix_history")
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE src")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def rows_from_items(items: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Seed-schema rows for record_many items (signature as the seed system computes it)."""
    from aimem.learn.signatures import generate_issue_signature

    rows = []
    for item in items:
        issue = item["issue_data"]
        response = item.get("ai_response") or {}
        rows.append(
            (
                item["timestamp"],
                issue["model"],
                issue["issue_type"],
                generate_issue_signature(issue),
                issue["description"],
                item.get("fixer_type", "claude"),
                response.get("analysis", ""),
                orjson.dumps(response.get("fix_commands", [])).decode(),
                int(item["fix_success"]),
                int(item["verification_success"]),
                item.get("execution_time"),
                orjson.dumps(issue.get("system_info", {})).decode(),
                item.get("notes"),
            )
        )
    return rows


def durable_one_row(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> list[float]:
    """One BEGIN IMMEDIATE .. COMMIT per row; returns each transaction's seconds."""
    import time

    latencies = []
    for row in rows:
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT, row)
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - t)
    return latencies


def executemany(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Every row in one transaction with executemany (the bulk floor)."""
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT, rows)
    conn.execute("COMMIT")
