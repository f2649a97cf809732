"""Importing another database (``aimem import legacy.db``): values by the design's
meaning, every refusal one line naming the source file, the repository unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.app import app
from tests.legacy import DESIGN_DDL, build_legacy_database
from tests.reliability.input_helpers import export_rows, ndjson, snapshot


@pytest.fixture
def repo(repo_dir: Path, tmp_path: Path) -> Path:
    seed = tmp_path / "seed.ndjson"
    seed.write_bytes(ndjson(export_rows(5, seed=21)))
    with AIMemory(repo_dir) as memory:
        memory.import_records(seed)
    return repo_dir


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    path = tmp_path / "old" / "legacy.db"
    path.parent.mkdir()
    build_legacy_database(path)
    return path


def _sql(db: Path, statement: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.executescript(statement)
    finally:
        conn.close()


def _refused(repo: Path, source: Path) -> str:
    before = snapshot(repo)
    result = CliRunner().invoke(app, ["import", str(source)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"aimem: error: {source}"), result.stderr
    assert "internal error" not in lines[0]
    assert snapshot(repo) == before
    return lines[0]


def _flags(repo: Path) -> list[tuple[str, bool, bool]]:
    with AIMemory(repo, create=False) as memory:
        return sorted(
            (r["description"], r["fix_success"], r["verification_success"])
            for r in memory.iter_export_rows()
            if r["description"].startswith("flag ")
        )


@pytest.mark.parametrize(
    ("stored", "meaning"),
    [
        ("0", False),
        ("1", True),
        ("'false'", False),
        ("'FALSE'", False),
        ("'False'", False),
        ("'true'", True),
        ("'TRUE'", True),
    ],
)
def test_flags_keep_their_meaning(repo: Path, legacy: Path, stored: str, meaning: bool) -> None:
    _sql(
        legacy,
        f"UPDATE fix_history SET fix_success = {stored}, verification_success = {stored}, "
        "description = 'flag ' || id WHERE id = 1; DELETE FROM fix_history WHERE id > 1;",
    )
    result = CliRunner().invoke(app, ["import", str(legacy), "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["added"] == 1
    assert _flags(repo) == [("flag 1", meaning, meaning)]


@pytest.mark.parametrize("stored", ["'yes'", "2", "-1", "0.5", "'t'", "X'01'", "''"])
def test_other_flag_values_are_refused_naming_the_row(
    repo: Path, legacy: Path, stored: str
) -> None:
    _sql(legacy, f"UPDATE fix_history SET verification_success = {stored} WHERE id = 3")
    message = _refused(repo, legacy)
    assert message.startswith(f"aimem: error: {legacy}: fix_history row id 3: ")
    assert "verification_success must be 0, 1, true or false" in message


def test_a_text_id_is_refused_naming_the_row(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "text-id.db"
    # A foreign schema that declares id as text: the design's columns, any types.
    ddl = (
        DESIGN_DDL.split(");", 1)[0].replace(
            "id INTEGER PRIMARY KEY AUTOINCREMENT", "id TEXT PRIMARY KEY"
        )
        + ");"
    )
    _sql(source, ddl)
    _sql(
        source,
        "INSERT INTO fix_history VALUES ('abc', '2025-01-15T10:00:00Z', 'qwen2.5:7b', 'TIMEOUT', "
        "'0123456789abcdef', 'slow', 'claude', '', '[]', 1, 1, 2.0, '{}', NULL);",
    )
    message = _refused(repo, source)
    assert message == (
        f"aimem: error: {source}: fix_history row number 1 (id 'abc'): id must be a whole number"
    )


def test_unknown_virtual_table_module_blames_the_source(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "virtual.db"
    conn = sqlite3.connect(source)
    conn.execute("CREATE VIRTUAL TABLE fix_history USING fts5(description)")
    conn.close()
    # Rename the module in the schema: SQLite cannot open a table whose module it lacks.
    conn = sqlite3.connect(source)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'fts5', 'nosuchmodule') "
        "WHERE name = 'fix_history'"
    )
    conn.commit()
    conn.close()
    message = _refused(repo, source)
    assert "nosuchmodule" in message
    assert str(repo / "ai_memory.db") not in message


def test_text_not_utf8_in_the_source_names_the_source(repo: Path, legacy: Path) -> None:
    _sql(legacy, "UPDATE fix_history SET description = CAST(X'C328' AS TEXT) WHERE id = 2")
    message = _refused(repo, legacy)
    assert str(repo) not in message.replace(str(legacy), "")


def test_a_bad_value_names_the_source_file(repo: Path, legacy: Path) -> None:
    _sql(legacy, "UPDATE fix_history SET execution_time_seconds = 'slow' WHERE id = 2")
    message = _refused(repo, legacy)
    assert "execution_time_seconds" in message


def test_deep_json_text_in_a_column_is_refused(repo: Path, legacy: Path) -> None:
    deep = "[" * 200 + "]" * 200
    _sql(legacy, f"UPDATE fix_history SET system_info = '{{\"k\": {deep}}}' WHERE id = 2")
    message = _refused(repo, legacy)
    assert "fix_history row id 2" in message and "nested deeper than" in message
