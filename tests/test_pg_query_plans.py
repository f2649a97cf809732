"""PostgreSQL reads the history's latest rows of a kind from an index, not by a
scan and a sort: the dialect writes SQLite's ``DESC`` as ``DESC NULLS LAST``,
which only an index of that shape can serve. Plans, not timings: the planner is
told to avoid sequential scans and sorts wherever it has another way, so the
test sees whether an index of the right shape exists at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aimem import AIMemory
from aimem.store.postgres.dialect import translate

from .conftest import write_config

NOTES = """SELECT timestamp, notes FROM fix_history
           WHERE issue_type = ? AND verification_success = 1 AND fix_success = 1
                 AND notes IS NOT NULL AND notes != ''
           ORDER BY timestamp DESC LIMIT ?"""
BY_TYPE = """SELECT id, timestamp FROM fix_history WHERE issue_type = ?
             ORDER BY verification_success DESC, fix_success DESC, timestamp DESC LIMIT ?"""
BY_MODEL_TYPE = """SELECT id, timestamp FROM fix_history WHERE model_name = ? AND issue_type = ?
                   ORDER BY verification_success DESC, fix_success DESC, timestamp DESC LIMIT ?"""
BY_MODEL = (
    "SELECT id, timestamp FROM fix_history WHERE model_name = ? ORDER BY timestamp DESC LIMIT ?"
)
OLDEST_BY_MODEL = (
    "SELECT id, timestamp FROM fix_history WHERE model_name = ? ORDER BY timestamp LIMIT ?"
)


@pytest.fixture
def pg(pg_demo_url: str, tmp_path: Any) -> Iterator[Any]:
    import psycopg

    repo = tmp_path / "AIMemory"
    write_config(repo, pg_demo_url)
    with AIMemory(repo) as memory:  # the schema, as a repository opens it
        memory.build_context({"model": "qwen2.5:7b", "issue_type": "TIMEOUT"})
    with psycopg.connect(pg_demo_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_sort = off")
        yield conn


def plan(conn: Any, statement: str, params: tuple[Any, ...]) -> str:
    rows = conn.execute("EXPLAIN " + translate(statement), params).fetchall()
    return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize(
    ("statement", "params", "index"),
    [
        (NOTES, ("TIMEOUT", 3), "aimem_fix_history_type_success"),
        (BY_TYPE, ("TIMEOUT", 20), "aimem_fix_history_type_success"),
        (BY_MODEL_TYPE, ("qwen2.5:7b", "TIMEOUT", 20), "aimem_fix_history_model_type"),
        (BY_MODEL, ("qwen2.5:7b", 20), "aimem_fix_history_model_time"),
        (OLDEST_BY_MODEL, ("qwen2.5:7b", 20), "aimem_fix_history_model_time"),
    ],
    ids=["context-notes", "type", "model-type", "model-latest", "model-oldest"],
)
def test_latest_rows_come_from_an_index_in_order(
    pg: Any, statement: str, params: tuple[Any, ...], index: str
) -> None:
    found = plan(pg, statement, params)
    assert "NULLS LAST" in translate(statement) or "NULLS FIRST" in translate(statement)
    assert index in found, found
    assert "Sort" not in found, found
    assert "Seq Scan" not in found, found
