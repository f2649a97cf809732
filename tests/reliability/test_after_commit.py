"""Once records are committed the command reports success, whatever fails after.

Writing ``knowledge_base.json`` comes after the commit. When it fails (a full
disk), the command still prints the ids and exits 0, with one warning line;
the file stays as it was (never half-written) and is brought up to date by the
next write or by ``check --repair``. A caller that retried on exit 1 used to
store the attempt twice.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

import aimem.learn.knowledge
from aimem import AIMemory, KnowledgeFileWarning
from aimem.cli.app import app
from aimem.fsutil import translate_os_error
from tests.reliability.conftest import (
    assert_consistent,
    items,
    ndjson,
    row_count,
    run_aimem_in,
)
from tests.reliability.input_helpers import export_rows, snapshot
from tests.reliability.input_helpers import ndjson as rows_ndjson

RECORD = ["record", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "-d", "slow", "--failure"]


@pytest.fixture
def disk_full_for_kb(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Writing the knowledge base file fails as on a full disk while ``full``; other
    files are written."""
    real = aimem.learn.knowledge.atomic_write
    disk = {"full": True}

    def full(target: Path, data: bytes, *args: Any, **kwargs: Any) -> None:
        if disk["full"] and target.name == "knowledge_base.json":
            raise translate_os_error(OSError(errno.ENOSPC, "No space left on device"), target)
        real(target, data, *args, **kwargs)

    monkeypatch.setattr(aimem.learn.knowledge, "atomic_write", full)
    return disk


def _kb(repo: Path) -> bytes:
    return (repo / "knowledge_base.json").read_bytes()


def test_record_succeeds_when_the_knowledge_base_cannot_be_written(
    seeded: Path, disk_full_for_kb: dict[str, bool]
) -> None:
    rows, kb = row_count(seeded), _kb(seeded)
    result = CliRunner().invoke(app, RECORD)
    assert result.exit_code == 0, result.output
    ids = [int(line) for line in result.stdout.split()]
    assert len(ids) == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("aimem: warning: "), result.stderr
    assert "knowledge_base.json" in lines[0] and "check --repair" in lines[0]
    assert row_count(seeded) == rows + 1  # stored exactly once, as reported
    assert _kb(seeded) == kb  # the old file, whole
    with AIMemory(seeded, create=False) as memory:
        assert memory.knowledge_file.state() == "stale"


def test_the_next_write_brings_the_file_up_to_date(
    seeded: Path, disk_full_for_kb: dict[str, bool]
) -> None:
    assert CliRunner().invoke(app, RECORD).exit_code == 0
    disk_full_for_kb["full"] = False  # the disk has room again
    assert CliRunner().invoke(app, RECORD).exit_code == 0
    with AIMemory(seeded, create=False) as memory:
        assert memory.knowledge_file.state() == "current"
        assert orjson.loads(_kb(seeded))["generation"] == memory.store.generation()


def test_check_reports_and_repairs_a_stale_file(
    seeded: Path, disk_full_for_kb: dict[str, bool]
) -> None:
    assert CliRunner().invoke(app, RECORD).exit_code == 0
    disk_full_for_kb["full"] = False
    check = CliRunner().invoke(app, ["check"])
    assert check.exit_code == 0  # a hint, not an error: nothing is lost
    assert "stale-knowledge-base knowledge_base.json" in check.stdout
    repaired = CliRunner().invoke(app, ["check", "--repair", "--yes"])
    assert repaired.exit_code == 0, repaired.output
    with AIMemory(seeded, create=False) as memory:
        assert memory.knowledge_file.state() == "current"
    assert "stale-knowledge-base" not in CliRunner().invoke(app, ["check"]).stdout


def test_the_library_warns_instead_of_raising(
    seeded: Path, disk_full_for_kb: dict[str, bool]
) -> None:
    memory = AIMemory(seeded, create=False)
    record_id = memory.record_fix_attempt(
        {"model": "m:1", "issue_type": "ERROR", "description": "x"}, {}, False, False, None
    )
    with pytest.warns(KnowledgeFileWarning, match="knowledge_base.json"):
        memory.close()
    with AIMemory(seeded, create=False) as again:
        assert again.store.get_row(record_id) is not None


def test_import_succeeds_when_the_knowledge_base_cannot_be_written(
    seeded: Path, tmp_path: Path, disk_full_for_kb: dict[str, bool]
) -> None:
    source = tmp_path / "rows.ndjson"
    source.write_bytes(rows_ndjson(export_rows(20, seed=5)))
    result = CliRunner().invoke(app, ["import", str(source), "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["added"] == 20
    assert result.stderr.startswith("aimem: warning: ")


# ---- a full disk before the commit: one line, nothing changed ------------------


def test_import_that_cannot_stage_is_one_line_and_changes_nothing(
    seeded: Path, tmp_path: Path
) -> None:
    rows = export_rows(400, seed=6)
    for row in rows:
        row["claude_analysis"] = "a long analysis " * 200
    source = tmp_path / "rows.ndjson"
    source.write_bytes(rows_ndjson(rows))
    before = snapshot(seeded)
    largest = max(p.stat().st_size for p in seeded.iterdir() if p.is_file())
    result = run_aimem_in(seeded, "import", str(source), limit_bytes=largest + 64 * 1024)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aimem: error: cannot stage the import"), lines
    assert snapshot(seeded) == before
    assert_consistent(seeded)


def test_record_that_cannot_commit_is_one_line_and_changes_nothing(seeded: Path) -> None:
    big = items(60, seed=11, tag="big")
    for item in big:
        item["ai_response"]["analysis"] = "a long analysis " * 1500
    before = snapshot(seeded)
    largest = max(p.stat().st_size for p in seeded.iterdir() if p.is_file())
    result = run_aimem_in(
        seeded, "record", "--input", "-", limit_bytes=largest + 64 * 1024, stdin=ndjson(big)
    )
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert lines[0].startswith("aimem: error: ") and "Traceback" not in result.stderr.decode()
    assert row_count(seeded) == 40
    assert snapshot(seeded)["knowledge_base.json"] == before["knowledge_base.json"]
