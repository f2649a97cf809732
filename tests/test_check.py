"""check finds damage (segments, database, knowledge base, aggregates, index) and repairs what it can."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.commands import app
from aimem.fsutil import TEMP_MARKER
from tests.archive_helpers import learned, seeded
from tests.conftest import make_repository


@pytest.fixture
def archived_dir(request: pytest.FixtureRequest, backend: str, repo_dir: Path) -> Path:
    make_repository(request, backend, repo_dir)
    seeded(repo_dir)
    with AIMemory(repo_dir) as mem:
        mem.cleanup(30)
    return repo_dir


def _segment(repo: Path) -> Path:
    (path,) = (repo / "archive").glob("seg-*.ndjson.zst")
    return path


def _check(runner: CliRunner, *args: str) -> tuple[int, list[str], dict]:
    out = runner.invoke(app, ["check", *args])
    report = runner.invoke(app, ["check", "--json", *args])
    return out.exit_code, out.stdout.splitlines(), json.loads(report.stdout)


def test_clean_repository_passes(archived_dir: Path, runner: CliRunner) -> None:
    code, lines, report = _check(runner)
    assert code == 0 and lines == []
    assert report["ok"] is True and report["findings"] == []
    assert set(report) == {"ok", "quick", "errors", "hints", "findings", "repaired", "checked"}
    assert runner.invoke(app, ["check", "--quick"]).exit_code == 0


@pytest.mark.sqlite_only  # damage done to SQLite's files
def test_flipped_byte_in_segment(archived_dir: Path, runner: CliRunner) -> None:
    path = _segment(archived_dir)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    code, lines, report = _check(runner)
    assert code == 1
    assert any(line.startswith(f"hash-mismatch {path.name}: ") for line in lines)
    assert any(f["kind"] == "unreadable-segment" for f in report["findings"])


@pytest.mark.sqlite_only  # damage done to SQLite's files
def test_truncated_and_missing_segment(archived_dir: Path, runner: CliRunner) -> None:
    path = _segment(archived_dir)
    path.write_bytes(path.read_bytes()[:-100])
    code, lines, _ = _check(runner)
    assert code == 1 and any(line.startswith("unreadable-segment ") for line in lines)
    code, lines, _ = _check(runner, "--quick")
    assert code == 1 and any(line.startswith("size-mismatch ") for line in lines)
    path.unlink()
    code, lines, _ = _check(runner)
    assert code == 1 and lines[0] == f"missing-segment {path.name}: the file is gone"
    # repair never deletes what it cannot rebuild: the segment stays registered
    assert runner.invoke(app, ["check", "--repair", "--yes"]).exit_code == 1


@pytest.mark.sqlite_only  # damage done to SQLite's files
def test_corrupt_database_page(archived_dir: Path, runner: CliRunner) -> None:
    db = archived_dir / "ai_memory.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'idx_fix_history_model'"
        ).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    start = (root - 1) * page_size
    data[start + 8 : start + 200] = b"\xa5" * 192
    db.write_bytes(bytes(data))
    code, lines, _ = _check(runner)
    assert code == 1
    assert any(line.startswith("corrupt-database ai_memory.db: ") for line in lines)


@pytest.mark.sqlite_only  # damage done to SQLite's files
def test_corrupt_knowledge_base_reported_and_repaired(
    archived_dir: Path, runner: CliRunner
) -> None:
    kb = archived_dir / "knowledge_base.json"
    kb.write_text('{"broken": ')
    code, lines, _ = _check(runner)
    assert code == 1 and lines == ["corrupt-knowledge-base knowledge_base.json: not valid JSON"]
    dry = runner.invoke(app, ["check", "--repair", "--dry-run", "--json"])
    assert json.loads(dry.stdout)["repaired"] and kb.read_text() == '{"broken": '
    fixed = runner.invoke(app, ["check", "--repair", "--yes", "--json"])
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["repaired"]
    assert json.loads(kb.read_text())["format"] == "aimem-knowledge-base"
    assert [p.read_text() for p in archived_dir.glob("knowledge_base.json.corrupt-*")] == [
        '{"broken": '
    ]


@pytest.mark.sqlite_only  # damage done to SQLite's files
def test_aggregate_drift_and_fts_repaired(archived_dir: Path, runner: CliRunner) -> None:
    with AIMemory(archived_dir) as mem:
        before = learned(mem)
    with sqlite3.connect(archived_dir / "ai_memory.db") as conn:
        conn.execute("UPDATE aimem_totals SET attempts = attempts + 5")
        conn.execute("UPDATE issue_patterns SET success_count = success_count + 1")
        row = conn.execute(
            "SELECT id, description, claude_analysis, fix_commands, notes FROM fix_history LIMIT 1"
        ).fetchone()
        conn.execute(
            "INSERT INTO fix_history_fts(fix_history_fts, rowid, description, claude_analysis, "
            "fix_commands, notes) VALUES ('delete', ?, ?, ?, ?, ?)",
            row,
        )
    conn.close()
    code, lines, report = _check(runner)
    assert code == 1
    assert "aggregate-drift aimem_totals: " in "\n".join(lines)
    assert "aggregate-drift issue_patterns: " in "\n".join(lines)
    assert any(f["kind"] == "search-index" for f in report["findings"])
    assert runner.invoke(app, ["check", "--repair", "--yes"]).exit_code == 0
    with AIMemory(archived_dir) as mem:
        assert learned(mem) == before


@pytest.mark.sqlite_only  # damage done to SQLite's files
def test_leftover_temp_file_is_a_hint_and_repair_removes_it(
    archived_dir: Path, runner: CliRunner
) -> None:
    temp = archived_dir / "archive" / f"{TEMP_MARKER}seg-x.ndjson.zst.999999999.1"
    temp.write_bytes(b"partial")
    code, lines, report = _check(runner)
    assert code == 0
    assert lines == [f"leftover-temp archive/{temp.name}: left by an interrupted write"]
    assert report["findings"][0]["severity"] == "hint"
    assert runner.invoke(app, ["check", "--repair", "--yes"]).exit_code == 0
    assert not temp.exists()


@pytest.mark.sqlite_only  # the damage is to knowledge_base.json
def test_repair_needs_yes_without_a_terminal(archived_dir: Path, runner: CliRunner) -> None:
    # nothing to repair: no question, so no --yes needed
    assert runner.invoke(app, ["check", "--repair"]).exit_code == 0
    (archived_dir / "knowledge_base.json").unlink()
    out = runner.invoke(app, ["check", "--repair"])
    assert out.exit_code == 2 and "--yes" in out.stderr
    assert not (archived_dir / "knowledge_base.json").exists()


@pytest.mark.sqlite_only  # damage done to SQLite's files
def test_unregistered_segment_with_hot_rows_is_removed(
    archived_dir: Path, runner: CliRunner
) -> None:
    path = _segment(archived_dir)
    copy = path.read_bytes()
    with AIMemory(archived_dir) as mem:
        mem.thaw(path.name)
    path.write_bytes(copy)  # a redundant copy: every row is hot again
    code, lines, _ = _check(runner)
    assert code == 1
    assert lines == [f"unregistered-segment {path.name}: the file is not in the segment index"]
    assert runner.invoke(app, ["check", "--repair", "--yes"]).exit_code == 0
    assert not path.exists()


@pytest.mark.sqlite_only  # damage done to SQLite's files
def test_unregistered_segment_holding_the_only_copy_is_registered(
    archived_dir: Path, runner: CliRunner
) -> None:
    with AIMemory(archived_dir) as mem:
        before = learned(mem)
        archived = sorted(r["uid"] for r in mem.iter_archived_rows())
    with sqlite3.connect(archived_dir / "ai_memory.db") as conn:
        conn.execute("DELETE FROM aimem_segments")
    conn.close()
    code, lines, _ = _check(runner)
    assert code == 1 and any(line.startswith("unregistered-segment ") for line in lines)
    assert runner.invoke(app, ["check", "--repair", "--yes"]).exit_code == 0
    with AIMemory(archived_dir) as mem:
        assert sorted(r["uid"] for r in mem.iter_archived_rows()) == archived
        assert learned(mem) == before
