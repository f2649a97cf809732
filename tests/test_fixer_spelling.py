"""One fixer spelling in stored history: migration m016 respells rows and merges the
rollups of 'Claude', 'CLAUDE' and 'claude'; archived rows are respelled as read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.app import app
from aimem.store.migrations import MIGRATIONS
from tests.archive_helpers import learned, seeded
from tests.conftest import sql
from tests.legacy import build_legacy_database

FIXER_TABLES = ("fix_history", "aimem_totals", "aimem_daily", "aimem_cost")
SPELLED = "SELECT count(*) FROM {} WHERE fixer_type != lower(trim(fixer_type))"


def _respell(db: Path) -> None:
    """Spell a third of the rows 'CLAUDE'-style and a third 'Claude'-style, as an
    aimem before the one spelling stored what it was given."""
    sql(db, "UPDATE fix_history SET fixer_type = upper(fixer_type) WHERE id % 3 = 0")
    sql(
        db,
        "UPDATE fix_history SET fixer_type = "
        "upper(substr(fixer_type, 1, 1)) || substr(fixer_type, 2) WHERE id % 3 = 1",
    )


def _errors(memory: AIMemory) -> list[object]:
    return [f for f in memory.check().findings if f.severity == "error"]


def test_adopting_a_seed_database_with_fixers_in_several_cases(tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    folder.mkdir()
    db = folder / "ai_memory.db"
    build_legacy_database(db)
    conn = sqlite3.connect(db)
    total = conn.execute("SELECT count(*) FROM fix_history").fetchone()[0]
    for row_id, fixer in enumerate(["Claude", "CLAUDE", " claude ", "claude", "Qwen"], 1):
        conn.execute("UPDATE fix_history SET fixer_type = ? WHERE id = ?", (fixer, row_id))
    conn.commit()
    conn.close()
    with AIMemory(folder) as memory:
        fixers = {f["fixer_type"]: f["total_attempts"] for f in memory.get_fixer_effectiveness()}
        assert sorted(fixers) == ["claude", "qwen"] and sum(fixers.values()) == total
        assert _errors(memory) == []
    for table in FIXER_TABLES:
        assert sql(db, SPELLED.format(table)) == [(0,)], table


@pytest.fixture
def spelled_apart(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A repository of the schema before m016: history, rollups and an archive
    segment holding 'claude', 'Claude' and 'CLAUDE' as three fixers. Returns what
    the history teaches once the spellings are one (the same history, recorded
    in one spelling)."""
    seeded(repo_dir, count=300)
    with AIMemory(repo_dir) as memory:
        memory.cleanup(30)
        expected = learned(memory)
        memory.thaw(memory.store.segments()[0]["name"])
    db = repo_dir / "ai_memory.db"
    _respell(db)
    with monkeypatch.context() as old:
        # The aggregates and segments as an older aimem wrote them: every spelling a key.
        old.setattr("aimem.store.aggregates.normalize_fixer", lambda name: name)
        with AIMemory(repo_dir) as memory:
            assert memory.cleanup(30)["segments"]
            memory.check(repair=True)
            apart = {f["fixer_type"] for f in memory.get_fixer_effectiveness()}
            assert len(apart) > len({name.lower() for name in apart})
    sql(db, f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    return expected


def test_the_migration_merges_history_rollups_and_archived_counts(
    repo_dir: Path, spelled_apart: dict[str, object]
) -> None:
    db = repo_dir / "ai_memory.db"
    generation = "SELECT value FROM aimem_meta WHERE key = 'generation'"
    before = int(sql(db, generation)[0][0])
    with AIMemory(repo_dir) as memory:
        assert int(sql(db, generation)[0][0]) > before
        for table in FIXER_TABLES:
            assert sql(db, SPELLED.format(table)) == [(0,)], table
        assert learned(memory) == spelled_apart
        # check recomputes every rollup from the rows, the segment's read through
        # the one spelling, and finds the merged rollups equal
        assert _errors(memory) == []
        memory.thaw(memory.store.segments()[0]["name"])
        assert sql(db, SPELLED.format("fix_history")) == [(0,)]
        assert learned(memory) == spelled_apart


def test_cli_analytics_after_the_migration_counts_one_fixer(
    runner: CliRunner, repo_dir: Path, spelled_apart: dict[str, object]
) -> None:
    result = runner.invoke(app, ["analytics", "--json"])
    assert result.exit_code == 0, result.stderr
    comparison = orjson.loads(result.stdout)["fixer_comparison"]
    names = [row["fixer_type"] for row in comparison]
    assert names and all(name == name.lower() for name in names)
    assert len(names) == len(set(names))
    for spelling in ("claude", "Claude", "CLAUDE"):
        recent = runner.invoke(app, ["recent", "--fixer", spelling, "--since", "1000d", "--json"])
        assert recent.exit_code == 0, recent.stderr
        assert {row["fixer_type"] for row in orjson.loads(recent.stdout)} <= {"claude"}
