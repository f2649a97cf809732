"""The bulk commit of a cleanup that moves most rows (table cleared whole, rows
that stay copied back, indexes and triggers rebuilt): nothing else changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimem import AIMemory
from tests.archive_helpers import all_rows, seeded


def _schema(mem: AIMemory) -> list[tuple[str, str, str]]:
    return sorted(
        mem.store.conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    )


@pytest.mark.parametrize("purge", [False, True])
def test_most_rows_leaving_keeps_schema_rows_and_search(repo_dir: Path, purge: bool) -> None:
    seeded(repo_dir)
    with AIMemory(repo_dir) as mem:
        schema = _schema(mem)
        setting = mem.store.conn.execute("PRAGMA secure_delete").fetchone()[0]
        before = {r["id"]: r for r in mem.store.iter_rows()}
        result = mem.cleanup(30, purge=purge)
        assert result["rows"] > 2 * (len(before) - result["rows"]) > 0  # the bulk path
        hot, _ = all_rows(mem)
        assert hot and all(before[r["id"]] == r for r in hot)  # same ids, same content
        assert _schema(mem) == schema  # every index and trigger is back, unchanged
        assert mem.store.conn.execute("PRAGMA secure_delete").fetchone()[0] == setting
        word = hot[0]["description"].split()[0]
        found = {r["id"] for r in mem.search(word, limit=1000)}
        assert hot[0]["id"] in found  # the full-text index holds the rows that stayed
        assert mem.check().ok
