"""Schema versions, a seed-schema database adopted in place, newer databases refused."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aimem import AIMemory, SchemaTooNewError
from aimem.store.migrations import MIGRATIONS
from tests.conftest import issue, response, sql
from tests.legacy import LEGACY_ROWS, build_legacy_database
from tests.oracle import assert_aggregates_match

GOLDEN = Path(__file__).parent / "golden" / "schema.sql"


def _schema(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'fix_history_fts_%' ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()
    return "\n".join(f"-- {t} {n}\n{sql};" for t, n, sql in rows) + "\n"


def test_migration_names_are_append_only() -> None:
    assert [m.__name__ for m in MIGRATIONS] == [
        "m001_design_schema",
        "m002_utc_timestamps",
        "m003_extra_columns",
        "m004_record_uids",
        "m005_query_indexes",
        "m006_meta_and_segments",
        "m007_rollups",
        "m008_full_text_search",
        "m009_rebuild_aggregates",
        "m010_read_path_indexes",
        "m011_segment_kind_and_pending",
        "m012_advice_cost_and_fingerprints",
        "m013_archived_uids",
        "m014_fix_templates",
        "m015_one_issue_type_spelling",
        "m016_one_fixer_spelling",
    ]


def test_blank_schema_matches_golden(repo_dir: Path) -> None:
    AIMemory(repo_dir).close()
    actual = _schema(repo_dir / "ai_memory.db")
    if os.environ.get("AIMEM_UPDATE_GOLDEN"):
        GOLDEN.write_text(actual)
    assert actual == GOLDEN.read_text(), (
        "schema changed: add a migration, then AIMEM_UPDATE_GOLDEN=1"
    )


def test_version_is_recorded(memory: AIMemory) -> None:
    assert memory.store.schema_version() == len(MIGRATIONS)


@pytest.fixture
def legacy_repo(repo_dir: Path) -> Path:
    repo_dir.mkdir()
    build_legacy_database(repo_dir / "ai_memory.db")
    return repo_dir


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_design_database_is_migrated_in_place(legacy_repo: Path, new_york: None) -> None:
    with AIMemory(legacy_repo) as memory:
        stats = memory.get_memory_stats()
        rows = [memory.store.get_row(i) for i in range(1, len(LEGACY_ROWS) + 1)]
    assert stats["total_fixes_attempted"] == len(LEGACY_ROWS)
    assert all(rows)
    assert [r["id"] for r in rows if r] == [1, 2, 3, 4, 5]
    first = rows[0]
    assert first is not None
    # 10:30 local New York (EST, UTC-5) is 15:30 UTC.
    assert first["timestamp"] == "2025-01-15 15:30:00.123456Z"
    uids = {r["uid"] for r in rows if r}
    assert len(uids) == len(LEGACY_ROWS)  # the duplicate row got its own uid
    conn = sqlite3.connect(legacy_repo / "ai_memory.db")
    try:
        kept = conn.execute(
            "SELECT id, pattern_name, success_count FROM issue_patterns WHERE issue_signature = ?",
            ("ffffffffffffffff",),
        ).fetchone()
        note = conn.execute(
            "SELECT performance_notes, total_tests FROM model_characteristics WHERE model_name = 'qwen2.5:7b'"
        ).fetchone()
        names = [r[0] for r in conn.execute("SELECT pattern_name FROM issue_patterns ORDER BY id")]
    finally:
        conn.close()
    assert kept[1:] == ("ERROR_old", 4)  # legacy pattern without records is kept untouched
    assert note == ("hand-written note", 2)
    assert names[0] == "TIMEOUT_qwen2.5:7b"  # legacy names and ids are kept


def test_migrated_legacy_rows_aggregate_correctly(legacy_repo: Path) -> None:
    with AIMemory(legacy_repo) as memory:
        memory.record_fix_attempt(issue(), response("x"), True, True, 1.0)
    db = legacy_repo / "ai_memory.db"
    sql(db, "DELETE FROM issue_patterns WHERE issue_signature = 'ffffffffffffffff'")
    assert_aggregates_match(db)


def test_design_sql_runs_unchanged_on_migrated_database(legacy_repo: Path) -> None:
    with AIMemory(legacy_repo) as memory:
        memory.record_fix_attempt(issue(), response("x"), True, True, 2.0, fixer_type="qwen")
    sqlite = shutil.which("sqlite3")
    queries = [
        """SELECT fixer_type, COUNT(*) as total_attempts,
           SUM(CASE WHEN fix_success = 1 AND verification_success = 1 THEN 1 ELSE 0 END) as successes,
           ROUND(100.0 * SUM(CASE WHEN fix_success = 1 AND verification_success = 1 THEN 1 ELSE 0 END)
                 / COUNT(*), 2) as success_rate
           FROM fix_history GROUP BY fixer_type;""",
        """SELECT model_name, DATE(timestamp) as date, COUNT(*) as daily_attempts,
           AVG(CASE WHEN fix_success = 1 THEN 1.0 ELSE 0.0 END) as daily_success_rate
           FROM fix_history WHERE timestamp > datetime('now', '-30 days')
           GROUP BY model_name, DATE(timestamp) ORDER BY date DESC;""",
        """SELECT issue_type, COUNT(*) as occurrences, AVG(execution_time_seconds) as avg_fix_time,
           ROUND(100.0 * SUM(fix_success) / COUNT(*), 2) as success_rate
           FROM fix_history GROUP BY issue_type ORDER BY occurrences DESC;""",
    ]
    conn = sqlite3.connect(legacy_repo / "ai_memory.db")
    try:
        by_fixer = dict((r[0], r[1:]) for r in conn.execute(queries[0]))
        recent = conn.execute(queries[1]).fetchall()
        by_type = conn.execute(queries[2]).fetchall()
    finally:
        conn.close()
    assert by_fixer["qwen"] == (3, 2, 66.67)
    assert by_fixer["claude"] == (3, 2, 66.67)
    # Only the attempt recorded now is inside the 30-day window of the seed system's SQL.
    assert [r[2] for r in recent] == [1]
    assert by_type[0][:2] == ("TIMEOUT", 3)
    if sqlite:
        shell = subprocess.run(
            [sqlite, str(legacy_repo / "ai_memory.db"), queries[1]], capture_output=True, text=True
        )
        assert shell.returncode == 0, shell.stderr
        assert shell.stdout.count("\n") == 1


def test_newer_database_is_refused_and_not_written(repo_dir: Path) -> None:
    AIMemory(repo_dir).close()
    db = repo_dir / "ai_memory.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(SchemaTooNewError) as caught:
        AIMemory(repo_dir)
    assert "newer" in str(caught.value)
    assert db.read_bytes() == before
    result = subprocess.run(
        [sys.executable, "-m", "aimem", "--dir", str(repo_dir), "stats"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("aimem: error: ")
    assert "Traceback" not in result.stderr
    assert db.read_bytes() == before


def test_a_legacy_row_with_text_for_its_seconds_is_adopted(repo_dir: Path) -> None:
    """The seed schema's REAL column keeps text that is no number ('12.5s'): such a
    row counts as an attempt of unknown duration, not as an internal error."""
    from tests.conftest import run_aimem

    repo_dir.mkdir()
    build_legacy_database(repo_dir / "ai_memory.db")
    conn = sqlite3.connect(repo_dir / "ai_memory.db")
    conn.execute("UPDATE fix_history SET execution_time_seconds = '12.5s' WHERE id = 1")
    conn.commit()
    assert conn.execute(
        "SELECT typeof(execution_time_seconds) FROM fix_history WHERE id = 1"
    ).fetchone() == ("text",)
    conn.close()
    stats = run_aimem("--dir", str(repo_dir), "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert b"internal error" not in stats.stderr
    with AIMemory(repo_dir) as memory:
        assert memory.get_memory_stats()["total_fixes_attempted"] == len(LEGACY_ROWS)
        report = memory.check()
        assert report.ok, report


@pytest.mark.slow
@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("description", "?", "holds a BLOB (binary value)"),
        ("model_name", "?", "holds a BLOB (binary value)"),
        ("timestamp", "CAST(X'32FF' AS TEXT)", "holds text that is not valid UTF-8"),
    ],
)
def test_a_legacy_database_with_a_value_it_cannot_read_is_refused_unchanged(
    repo_dir: Path, column: str, value: str, problem: str
) -> None:
    """Adopting hashes, normalizes and counts every row: a BLOB or text that is
    not UTF-8 (another program's) is named in one line before any step runs."""
    from tests.conftest import run_aimem

    repo_dir.mkdir()
    db = repo_dir / "ai_memory.db"
    build_legacy_database(db)
    conn = sqlite3.connect(db)
    conn.execute(
        f"UPDATE fix_history SET {column} = {value} WHERE id = 2", (b"\x01\xff",) * (value == "?")
    )
    conn.commit()
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = db.read_bytes()
    done = run_aimem("--dir", str(repo_dir), "stats")
    assert done.returncode == 1
    first = done.stderr.decode().splitlines()[0]
    assert f"fix_history row 2, column {column} {problem}" in first, first
    assert "cannot upgrade" in first and "internal error" not in first
    assert db.read_bytes() == before
    conn = sqlite3.connect(db)
    conn.execute(f"UPDATE fix_history SET {column} = 'repaired' WHERE id = 2")
    conn.commit()
    conn.close()
    assert run_aimem("--dir", str(repo_dir), "stats").returncode == 0  # once corrected
