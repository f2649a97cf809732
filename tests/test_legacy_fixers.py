"""Legacy rows keep any fixer text the design's schema allowed, in the one spelling
(lower case): imported and adopted."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.app import app
from aimem.errors import InvalidInputError
from tests.conftest import issue, response, sql
from tests.legacy import build_legacy_database

FIXERS = {1: "Claude 3.5 Sonnet", 2: "gpt-4o (via API)", 3: "", 4: "Qwen 2.5 Coder 7B — local"}
STORED = {1: "claude 3.5 sonnet", 2: "gpt-4o (via api)", 3: "", 4: "qwen 2.5 coder 7b — local"}


def _legacy(path: Path) -> Path:
    build_legacy_database(path)
    conn = sqlite3.connect(path)
    for row_id, fixer in FIXERS.items():
        conn.execute("UPDATE fix_history SET fixer_type = ? WHERE id = ?", (fixer, row_id))
    conn.commit()
    conn.close()
    return path


def _fixers(db: Path) -> dict[int, str]:
    return dict(sql(db, "SELECT id, fixer_type FROM fix_history WHERE id <= 4"))


def test_cli_import_of_a_design_database_with_free_fixer_text(
    runner: CliRunner, tmp_path: Path
) -> None:
    legacy = _legacy(tmp_path / "legacy.db")
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["import", str(legacy), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["added"] == 5
    stored = sorted(_fixers(tmp_path / "AIMemory" / "ai_memory.db").values())
    assert stored == sorted(STORED.values())
    again = runner.invoke(app, ["import", str(legacy), "--json"])
    assert orjson.loads(again.stdout)["added"] == 0
    analytics = runner.invoke(app, ["analytics", "--json"], catch_exceptions=False)
    fixers = {f["fixer_type"] for f in orjson.loads(analytics.stdout)["fixer_comparison"]}
    assert set(STORED.values()) <= fixers


def test_adopting_a_design_database_with_free_fixer_text(tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    folder.mkdir()
    _legacy(folder / "ai_memory.db")
    export = tmp_path / "all.ndjson"
    with AIMemory(folder) as memory:
        assert _fixers(memory.store.path) == STORED
        assert memory.get_memory_stats()["total_fixes_attempted"] == 5
        report = memory.check()
        assert [f for f in report.findings if f.severity == "error"] == []
        memory.export_records(export)
    # The adopted rows travel: export, then import into another repository.
    with AIMemory(tmp_path / "other") as other:
        assert other.import_records(export)["added"] == 5
        assert sorted(_fixers(other.store.path).values()) == sorted(STORED.values())


def test_import_and_in_place_adoption_agree(tmp_path: Path) -> None:
    legacy = _legacy(tmp_path / "legacy.db")
    adopted = tmp_path / "adopted"
    adopted.mkdir()
    shutil.copy(legacy, adopted / "ai_memory.db")
    with AIMemory(adopted) as memory:
        uids = {r["uid"] for r in memory.iter_export_rows()}
    with AIMemory(tmp_path / "imported") as memory:
        memory.import_records(legacy)
        assert {r["uid"] for r in memory.iter_export_rows()} == uids


def test_new_attempts_name_their_fixer_plainly_and_rows_need_one(memory: AIMemory) -> None:
    with pytest.raises(InvalidInputError, match="fixer_type"):
        memory.record_fix_attempt(issue(), response("x"), True, True, 1.0, None, "Claude 3.5")
    with pytest.raises(InvalidInputError, match="fixer_type"):
        memory.import_records(_row_file(memory, None))


def _row_file(memory: AIMemory, fixer: object) -> Path:
    memory.record_fix_attempt(issue(), response("x"), True, True, 1.0)
    row = next(memory.iter_export_rows())
    row.update(fixer_type=fixer, uid="1" * 32)
    path = memory.memory_dir.parent / "rows.ndjson"
    path.write_bytes(orjson.dumps(row) + b"\n")
    return path
