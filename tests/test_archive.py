"""Archive segments: cleanup, purge, thaw, the segment format, statistics unchanged."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.commands import app
from aimem.ops import archive
from tests.archive_helpers import all_rows, learned, seeded
from tests.conftest import make_repository


@pytest.fixture
def seeded_dir(request: pytest.FixtureRequest, backend: str, repo_dir: Path) -> Path:
    make_repository(request, backend, repo_dir)
    seeded(repo_dir)
    return repo_dir


def test_cleanup_moves_old_rows_and_keeps_everything_learned(seeded_dir: Path) -> None:
    with AIMemory(seeded_dir) as mem:
        before = learned(mem)
        original = sorted(mem.store.iter_rows(), key=lambda r: r["uid"])
        result = mem.cleanup(30)
        assert result["rows"] > 0 and len(result["segments"]) == 1
        hot, cold = all_rows(mem)
        assert len(cold) == result["rows"]
        assert all(r["timestamp"] < result["cutoff"] for r in cold)
        assert all(r["timestamp"] >= result["cutoff"] for r in hot)
        assert sorted(hot + cold, key=lambda r: r["uid"]) == original
        assert learned(mem) == before
        assert mem.check().ok


def test_thaw_round_trip_restores_identical_rows(seeded_dir: Path) -> None:
    with AIMemory(seeded_dir) as mem:
        before = learned(mem)
        original = sorted(mem.store.iter_rows(), key=lambda r: r["uid"])
        name = mem.cleanup(10)["segments"][0]["name"]
        result = mem.thaw(name[:20])
        assert result["segment"] == name and result["skipped"] == 0
        assert not (seeded_dir / "archive" / name).exists()
        assert mem.archive_segments() == []
        assert sorted(mem.store.iter_rows(), key=lambda r: r["uid"]) == original
        assert learned(mem) == before
        assert mem.search("timeout")  # thawed rows are searchable again
        assert mem.check().ok


@pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd CLI not installed")
@pytest.mark.sqlite_only  # segment files
def test_segments_pass_standard_tools(seeded_dir: Path) -> None:
    with AIMemory(seeded_dir) as mem:
        entry = mem.cleanup(20)["segments"][0]
    path = seeded_dir / "archive" / entry["name"]
    subprocess.run(["zstd", "-q", "-t", str(path)], check=True)
    out = subprocess.run(["zstd", "-q", "-dc", str(path)], check=True, capture_output=True)
    lines = out.stdout.splitlines()
    assert len(lines) == entry["row_count"]
    rows = [json.loads(line) for line in lines]
    assert all(set(r) == set(archive.ROW_ORDER) for r in rows)
    assert all(isinstance(r["fix_commands"], list) for r in rows)
    assert all(isinstance(r["system_info"], dict) for r in rows)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == entry["sha256"] and digest[:16] in entry["name"]
    assert entry["name"].startswith("seg-") and entry["name"].endswith(".ndjson.zst")


def test_keep_successful_keeps_verified_successes_hot(seeded_dir: Path) -> None:
    with AIMemory(seeded_dir) as mem:
        result = mem.cleanup(30, keep_successful=100)
        hot, cold = all_rows(mem)
        assert result["kept_successful"] > 0
        assert not any(
            r["fix_success"] and r["verification_success"]
            for r in cold
            if r["timestamp"] >= min(h["timestamp"] for h in hot)
        )
        old_successes = [
            r
            for r in hot
            if r["timestamp"] < result["cutoff"] and r["fix_success"] and r["verification_success"]
        ]
        assert len(old_successes) == result["kept_successful"]


def test_purge_deletes_text_but_history_still_counts(seeded_dir: Path) -> None:
    with AIMemory(seeded_dir) as mem:
        before = learned(mem)
        result = mem.cleanup(30, purge=True)
        assert result["mode"] == "purge" and result["rows"] > 0
        assert result["segments"][0]["name"].startswith("facts-")
        assert list(mem.iter_archived_rows()) == []
        assert learned(mem) == before
        assert mem.check().ok
        with pytest.raises(Exception, match="purged"):
            mem.thaw(result["segments"][0]["name"])


@pytest.mark.sqlite_only  # the archive folder
def test_dry_run_changes_nothing(seeded_dir: Path) -> None:
    with AIMemory(seeded_dir) as mem:
        count = mem.store.count_rows()
        result = mem.cleanup(30, dry_run=True)
        assert result["rows"] > 0 and result["segments"] == []
        assert mem.store.count_rows() == count
        assert list((seeded_dir / "archive").iterdir()) == []


def test_big_cleanup_writes_several_segments(
    seeded_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "SEGMENT_MAX_ROWS", 60)
    with AIMemory(seeded_dir) as mem:
        before = learned(mem)
        result = mem.cleanup(0)
        assert mem.store.count_rows() == 0
        assert len(result["segments"]) == -(-result["rows"] // 60)
        assert learned(mem) == before  # recent_activity_7days read from segments too
        assert mem.check().ok


def test_cli_cleanup_list_thaw(seeded_dir: Path, runner: CliRunner) -> None:
    out = runner.invoke(app, ["cleanup", "30", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert set(result) == {
        "mode",
        "dry_run",
        "cutoff",
        "rows",
        "kept_successful",
        "min_timestamp",
        "max_timestamp",
        "segments",
    }
    listed = runner.invoke(app, ["archive", "list", "--format", "json"])
    segments = json.loads(listed.stdout)
    assert [s["name"] for s in segments] == [s["name"] for s in result["segments"]]
    table = runner.invoke(app, ["archive", "list"])
    assert "rows" in table.stdout
    thawed = runner.invoke(app, ["archive", "thaw", segments[0]["name"]])
    assert thawed.exit_code == 0 and "thawed" in thawed.stdout
    missing = runner.invoke(app, ["archive", "thaw", "seg-nope"])
    assert missing.exit_code == 1 and "no archive segment" in missing.stderr


def test_cli_purge_needs_yes_without_a_terminal(seeded_dir: Path, runner: CliRunner) -> None:
    out = runner.invoke(app, ["cleanup", "30", "--purge"])
    assert out.exit_code == 2 and "--yes" in out.stderr
    with AIMemory(seeded_dir) as mem:
        assert mem.archive_segments() == []
    assert runner.invoke(app, ["cleanup", "-1"]).exit_code == 2
    assert runner.invoke(app, ["cleanup", "30", "--purge", "--yes"]).exit_code == 0


@pytest.mark.sqlite_only  # VACUUM shrinks a SQLite file
def test_gc_reports_bytes(seeded_dir: Path, runner: CliRunner) -> None:
    with AIMemory(seeded_dir) as mem:
        mem.cleanup(0)
        result = mem.gc()
        assert result["vacuumed"] is True and result["bytes_reclaimed"] > 0
    out = runner.invoke(app, ["gc", "--json"])
    assert out.exit_code == 0
    assert set(json.loads(out.stdout)) == {
        "bytes_before",
        "bytes_after",
        "bytes_reclaimed",
        "vacuumed",
        "page_count",
        "free_pages",
    }


def test_recent_include_archive(seeded_dir: Path, runner: CliRunner) -> None:
    with AIMemory(seeded_dir) as mem:
        everything = mem.recent(200)
        mem.cleanup(3)
        assert len(mem.recent(200)) < len(everything)
        assert mem.recent(200, include_archive=True) == everything
        assert mem.recent(200, 5, include_archive=True) == everything[:5]
    out = runner.invoke(app, ["recent", "200", "--include-archive", "--json"])
    assert out.exit_code == 0 and len(json.loads(out.stdout)) == len(everything)
