"""One spelling of issue types on every path: record, queries, signature, import, adoption."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.app import app
from aimem.learn.signatures import generate_issue_signature
from tests.conftest import issue, response, sql
from tests.legacy import build_legacy_database
from tests.test_signatures import design_signature

SPELLINGS = ("timeout", "Timeout", "TIMEOUT", " tImEoUt ")


def _record_lower(memory: AIMemory) -> int:
    return memory.record_fix_attempt(
        issue(issue_type="timeout", test_prompt="Write a haiku", actual_response="..."),
        response("ollama pull qwen2.5:7b"),
        True,
        True,
        3.0,
        notes="pulled again",
    )


def test_record_stores_the_one_spelling_and_the_design_signature(memory: AIMemory) -> None:
    record_id = _record_lower(memory)
    row = sql(
        memory.store.path,
        "SELECT issue_type, issue_signature FROM fix_history WHERE id = ?",
        (record_id,),
    )[0]
    asked = issue(issue_type="timeout", test_prompt="Write a haiku", actual_response="...")
    assert row[0] == "TIMEOUT"
    assert row[1] == generate_issue_signature(asked)
    assert row[1] == memory.generate_issue_signature(asked)
    assert row[1] == design_signature({**asked, "issue_type": "TIMEOUT"})


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_query_finds_the_rows_in_any_spelling(memory: AIMemory, spelling: str) -> None:
    record_id = _record_lower(memory)
    asked = issue(issue_type=spelling, test_prompt="Write a haiku", actual_response="...")
    similar = memory.query_similar_issues(asked)
    for key in ("exact_matches", "model_matches", "type_matches", "fingerprint_matches"):
        assert [r["id"] for r in similar[key]] == [record_id], key
    strategies = memory.successful_strategies(spelling)
    assert [s["issue_type"] for s in strategies] == ["TIMEOUT"]
    kinds = {p["kind"] for p in memory.patterns(issue_type=spelling)}
    assert kinds == {"exact", "model", "general"}
    advice = memory.suggest(asked)
    assert advice["issue_type"] == "TIMEOUT"
    assert advice["history"]["issue_type"]["attempts"] == 1
    assert b"ollama pull qwen2.5:7b" in orjson.dumps(advice)
    assert memory.gate(asked)["decision"] == "try"
    context = memory.build_context(asked)
    assert "ollama pull qwen2.5:7b" in context
    assert "pulled again" in context


def test_mixed_spellings_make_one_type_in_stats_and_analytics(memory: AIMemory) -> None:
    for spelling in SPELLINGS:
        memory.record_fix_attempt(issue(issue_type=spelling), response("x"), False, False, 1.0)
    assert memory.get_memory_stats()["issue_types_seen"] == 1
    trends = memory.get_issue_trend_analysis()
    assert [(t["issue_type"], t["total_attempts"]) for t in trends] == [("TIMEOUT", 4)]
    matrix = memory.get_model_performance_matrix()
    assert [(m["issue_type"], m["attempts"]) for m in matrix] == [("TIMEOUT", 4)]


def test_cli_record_lower_case_then_query_in_any_case(runner: CliRunner) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    recorded = runner.invoke(
        app,
        [
            *("record", "-m", "qwen2.5:7b", "-t", "timeout", "-d", "timeout after 30s"),
            *("-c", "ollama pull qwen2.5:7b", "--success", "--verified"),
            *("--prompt", "Write a haiku", "--response", "..."),
        ],
        catch_exceptions=False,
    )
    assert recorded.exit_code == 0, recorded.output
    for spelling in ("timeout", "Timeout", "TIMEOUT"):
        ask = ["-m", "qwen2.5:7b", "-t", spelling]
        exact = ["--prompt", "Write a haiku", "--response", "..."]
        similar = runner.invoke(app, ["similar", *ask, *exact, "--json"], catch_exceptions=False)
        found = orjson.loads(similar.stdout)
        assert len(found["type_matches"]) == len(found["exact_matches"]) == 1
        assert found["exact_matches"][0]["issue_signature"] == design_signature(
            {"issue_type": "TIMEOUT", "model": "qwen2.5:7b", "test_prompt": "Write a haiku"}
            | {"actual_response": "..."}
        )
        found = runner.invoke(app, ["successful", "-t", spelling, "--json"])
        assert [r["issue_type"] for r in orjson.loads(found.stdout)] == ["TIMEOUT"]
        patterns = runner.invoke(app, ["patterns", "-t", spelling, "--json"])
        assert {p["issue_type"] for p in orjson.loads(patterns.stdout)} == {"TIMEOUT"}
        advice = runner.invoke(app, ["suggest", *ask, "-d", "timeout after 30s", "--json"])
        assert orjson.loads(advice.stdout)["history"]["issue_type"]["attempts"] == 1
        gate = runner.invoke(app, ["gate", *ask, "-d", "timeout after 30s"])
        assert gate.exit_code == 0, gate.output
        context = runner.invoke(app, ["context", *ask, "-d", "timeout after 30s"])
        assert "ollama pull qwen2.5:7b" in context.stdout


def test_import_respells_the_issue_type(memory: AIMemory, tmp_path: Path) -> None:
    memory.record_fix_attempt(issue(), response("x"), True, True, 1.0)
    rows = list(memory.iter_export_rows())
    rows[0]["issue_type"] = "timeout"
    rows[0]["uid"] = "0" * 32
    source = tmp_path / "rows.ndjson"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    with AIMemory(tmp_path / "other") as other:
        assert other.import_records(source)["added"] == 1
        assert [r["issue_type"] for r in other.iter_export_rows()] == ["TIMEOUT"]
        assert len(other.query_similar_issues(issue(issue_type="Timeout"))["type_matches"]) == 1


def _legacy_with_spellings(path: Path) -> None:
    build_legacy_database(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE fix_history SET issue_type = 'timeout' WHERE id = 2")
    conn.commit()
    conn.close()


def test_import_of_a_design_database_respells(runner: CliRunner, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.db"
    _legacy_with_spellings(legacy)
    result = runner.invoke(app, ["import", str(legacy)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    types = sql(
        tmp_path / "AIMemory" / "ai_memory.db", "SELECT DISTINCT issue_type FROM fix_history"
    )
    assert sorted(t for (t,) in types) == ["MODEL_NOT_AVAILABLE", "NO_OUTPUT", "TIMEOUT"]


def test_adopting_a_design_database_respells_rows_and_aggregates(tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    folder.mkdir()
    _legacy_with_spellings(folder / "ai_memory.db")
    with AIMemory(folder) as memory:
        types = sql(memory.store.path, "SELECT issue_type FROM fix_history WHERE id IN (1, 2)")
        assert types == [("TIMEOUT",), ("TIMEOUT",)]
        assert memory.get_memory_stats()["issue_types_seen"] == 3
        similar = memory.query_similar_issues(issue(issue_type="timeout"))
        assert sorted(r["id"] for r in similar["model_matches"]) == [1, 2]
        # The two rows are one failure again: the fingerprint follows the spelling.
        prints = sql(memory.store.path, "SELECT fingerprint FROM fix_history WHERE id IN (1, 2)")
        assert prints[0] == prints[1]
        report = memory.check()
        assert [f for f in report.findings if f.severity == "error"] == []


def test_cli_json_record_with_lower_case_type(runner: CliRunner, tmp_path: Path) -> None:
    line = {
        "issue_data": {"model": "m:1", "issue_type": "no_output", "description": "empty"},
        "ai_response": {"fix_commands": ["ollama run m:1"]},
        "fix_success": True,
        "verification_success": True,
    }
    source = tmp_path / "a.ndjson"
    source.write_text(json.dumps(line) + "\n")
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["record", "--input", str(source)]).exit_code == 0
    found = runner.invoke(app, ["successful", "-t", "No_Output", "--json"])
    assert [r["issue_type"] for r in orjson.loads(found.stdout)] == ["NO_OUTPUT"]


def test_respelling_keeps_what_archived_rows_taught(repo_dir: Path) -> None:
    from tests.archive_helpers import learned, seeded

    seeded(repo_dir, count=300)
    with AIMemory(repo_dir) as memory:
        assert memory.cleanup(30)["segments"]
        before = learned(memory)
    db = repo_dir / "ai_memory.db"
    # Another program wrote lower-case types into an older aimem's database.
    sql(db, "UPDATE fix_history SET issue_type = lower(issue_type)")
    sql(db, "PRAGMA user_version = 13")
    generation = "SELECT value FROM aimem_meta WHERE key = 'generation'"
    old_generation = int(sql(db, generation)[0][0])
    with AIMemory(repo_dir) as memory:
        # Recomputed (archived facts included), not left as it was.
        assert int(sql(db, generation)[0][0]) > old_generation
        assert sql(
            db, "SELECT count(*) FROM fix_history WHERE issue_type != upper(issue_type)"
        ) == [(0,)]
        assert learned(memory) == before
        report = memory.check()
        assert [f for f in report.findings if f.severity == "error"] == []
