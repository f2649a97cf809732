"""The export report holds every pattern of every kind, streamed, in valid JSON."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.app import app
from aimem.learn.learning import PATTERN_KINDS
from aimem.timeutil import output_timestamps

REPORT_KEYS = [
    "generated_at",
    "statistics",
    "model_insights",
    "knowledge_base",
    "historical_trends",
    "patterns",
    "pattern_counts",
]


def _patterns_by_listing(memory: AIMemory) -> list[dict[str, object]]:
    # What 'aimem patterns --kind K' lists, kind by kind, no limit.
    found: list[dict[str, object]] = []
    for kind in PATTERN_KINDS:
        found += memory.patterns(kind=kind)
    return found


def test_report_holds_every_pattern_of_every_kind(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with AIMemory(demo_dir) as memory:
        memory.export_insights(out)
        expected = _patterns_by_listing(memory)
    data = out.read_bytes()
    report = orjson.loads(data)
    assert list(report) == REPORT_KEYS
    assert len(expected) > 200  # more than the old cap

    def by_name(found: list[dict[str, object]]) -> list[dict[str, object]]:
        return sorted(found, key=lambda p: (str(p["kind"]), str(p["name"])))

    # the report is machine output: timestamps with ISO 8601's T
    assert by_name(report["patterns"]) == by_name(output_timestamps(expected))
    # Kind by kind in PATTERN_KINDS order, most attempts first within a kind.
    order = [(PATTERN_KINDS.index(p["kind"]), -p["attempts"]) for p in report["patterns"]]
    assert order == sorted(order)
    counts = {kind: sum(p["kind"] == kind for p in expected) for kind in PATTERN_KINDS}
    assert report["pattern_counts"] == counts
    assert all(counts[kind] > 0 for kind in PATTERN_KINDS)
    # Streamed pieces make exactly the document orjson would write at once.
    assert data == orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"


def test_report_of_an_empty_repository(memory: AIMemory, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    memory.export_insights(out)
    data = out.read_bytes()
    report = orjson.loads(data)
    assert report["patterns"] == []
    assert report["model_insights"] == {}
    assert report["pattern_counts"] == dict.fromkeys(PATTERN_KINDS, 0)
    assert data == orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"


def test_insights_report_is_the_exported_document(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with AIMemory(demo_dir) as memory:
        memory.export_insights(out)
        in_memory = memory.insights_report()
    written = orjson.loads(out.read_bytes())
    for key in ("generated_at", "statistics"):
        written.pop(key)
        in_memory.pop(key)
    assert written == in_memory


def test_cli_export_report_through_the_console_entry(
    runner: CliRunner, demo_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "insights.json"
    result = runner.invoke(app, ["export", str(target)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = orjson.loads(target.read_bytes())
    assert list(report) == REPORT_KEYS
    assert sum(report["pattern_counts"].values()) == len(report["patterns"]) > 200
    to_stdout = runner.invoke(app, ["export", "-", "--format", "report"], catch_exceptions=False)
    assert orjson.loads(to_stdout.stdout)["pattern_counts"] == report["pattern_counts"]


@pytest.mark.slow
def test_report_at_thousands_of_patterns_lists_them_all(tmp_path: Path) -> None:
    items = [
        {
            "issue_data": {
                "model": f"m{n % 7}:1b",
                "issue_type": ("TIMEOUT", "ERROR", "NO_OUTPUT")[n % 3],
                "description": f"failure {n % 997}",
                "test_prompt": f"prompt {n}",
            },
            "ai_response": {"fix_commands": [f"fix {n % 11}"]},
            "fix_success": n % 2 == 0,
            "verification_success": n % 4 == 0,
        }
        for n in range(6000)
    ]
    out = tmp_path / "report.json"
    with AIMemory(tmp_path / "AIMemory") as memory:
        memory.record_many(items)
        memory.export_insights(out)
        fingerprints = len(memory.patterns(kind="fingerprint"))
    report = orjson.loads(out.read_bytes())
    assert report["pattern_counts"]["exact"] == 6000
    assert report["pattern_counts"]["fingerprint"] == fingerprints > 0
    assert len(report["patterns"]) == sum(report["pattern_counts"].values())
