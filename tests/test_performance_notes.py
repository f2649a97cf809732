"""model_characteristics.performance_notes written from the API and the CLI."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.app import app
from aimem.errors import InvalidInputError
from tests.conftest import issue, response, sql


def test_add_and_set_notes_through_the_api(memory: AIMemory) -> None:
    memory.record_fix_attempt(issue(), response("x"), True, True, 1.0)
    insights = memory.add_performance_note("qwen2.5:7b", "needs 12 GB VRAM at 8k context")
    assert insights["performance_notes"] == "needs 12 GB VRAM at 8k context"
    memory.add_performance_note("qwen2.5:7b", "slow after the 0.5 update")
    expected = "needs 12 GB VRAM at 8k context\nslow after the 0.5 update"
    assert memory.get_model_insights("qwen2.5:7b")["performance_notes"] == expected
    stored = sql(
        memory.store.path,
        "SELECT performance_notes FROM model_characteristics WHERE model_name = 'qwen2.5:7b'",
    )
    assert stored == [(expected,)]
    assert memory.set_performance_notes("qwen2.5:7b", "one line")["performance_notes"] == (
        "one line"
    )
    assert memory.set_performance_notes("qwen2.5:7b", None)["performance_notes"] is None


def test_notes_survive_new_attempts_and_a_repair(memory: AIMemory) -> None:
    memory.add_performance_note("qwen2.5:7b", "kept")
    assert memory.get_model_insights("qwen2.5:7b", strict=True)["total_tests"] == 0
    memory.record_fix_attempt(issue(), response("x"), True, True, 1.0)
    memory.record_fix_attempt(issue(), response("y"), False, False, 1.0)
    insights = memory.get_model_insights("qwen2.5:7b")
    assert (insights["total_tests"], insights["performance_notes"]) == (2, "kept")
    report = memory.check(repair=True)
    assert [f for f in report.findings if f.severity == "error"] == []
    assert memory.get_model_insights("qwen2.5:7b")["performance_notes"] == "kept"


def test_bad_notes_are_refused(memory: AIMemory) -> None:
    with pytest.raises(InvalidInputError, match="notes"):
        memory.add_performance_note("qwen2.5:7b", "")
    with pytest.raises(InvalidInputError, match="model_name"):
        memory.add_performance_note("", "x")
    with pytest.raises(InvalidInputError, match="notes"):
        memory.set_performance_notes("m", 5)  # type: ignore[arg-type]


def test_cli_note_then_show(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    added = runner.invoke(
        app, ["model", "llama3.1:8b", "--note", "fast on CPU"], catch_exceptions=False
    )
    assert added.exit_code == 0, added.output
    assert orjson.loads(added.stdout)["performance_notes"] == "fast on CPU"
    runner.invoke(app, ["model", "llama3.1:8b", "--note", "OOM above 16k"])
    shown = runner.invoke(app, ["model", "llama3.1:8b"], catch_exceptions=False)
    assert orjson.loads(shown.stdout)["performance_notes"] == "fast on CPU\nOOM above 16k"
    cleared = runner.invoke(app, ["model", "llama3.1:8b", "--set-notes", ""])
    assert orjson.loads(cleared.stdout)["performance_notes"] is None


def test_cli_note_and_set_notes_together_is_a_usage_error(runner: CliRunner) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    before = (Path("AIMemory") / "ai_memory.db").read_bytes()
    result = runner.invoke(app, ["model", "m:1", "--note", "a", "--set-notes", "b"])
    assert result.exit_code == 2
    assert result.stderr.startswith("aimem: error: ")
    assert (Path("AIMemory") / "ai_memory.db").read_bytes() == before
