"""Advice through the command line: suggest, gate, alerts, record's cost flags and
repeat guard, analytics cost, similar and patterns --kind fingerprint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aimem.cli.commands import app
from tests.conftest import run_aimem

TIMEOUT = ["-m", "qwen2.5:7b", "-t", "TIMEOUT", "-d", "Model response timeout after 30 seconds"]


def aimem(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, list(args))


def ok(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


def record(runner: CliRunner, *extra: str, outcome: str = "--failure") -> Any:
    return aimem(runner, "record", *TIMEOUT, "-c", "systemctl restart ollama", outcome, *extra)


@pytest.fixture
def repo(runner: CliRunner) -> None:
    ok(runner, "init")


def test_record_cost_flags_feed_analytics(runner: CliRunner, repo: None) -> None:
    cost = ["--tokens-in", "1000", "--tokens-out", "200", "--fixer-model", "claude-3-5-sonnet"]
    assert record(runner, *cost, "--cost", "0.25").exit_code == 0
    assert record(runner, *cost, "--cost", "0.35").exit_code == 0
    assert record(runner, *cost, "--cost", "0.40", "--verified", outcome="--success").exit_code == 0
    data = json.loads(ok(runner, "analytics", "--json").stdout)
    assert list(data)[-1] == "cost"
    (row,) = data["cost"]["by_fixer"]
    assert (row["attempts"], row["successes"], row["failed_attempts"]) == (3, 1, 2)
    assert row["cost_per_success"] == pytest.approx(1.0)
    assert row["tokens_per_success"] == 3600
    (model,) = data["cost"]["by_fixer_model"]
    assert model["fixer_model"] == "claude-3-5-sonnet"
    table = ok(runner, "analytics").stdout
    assert "Cost per verified success" in table and "TIMEOUT" in table
    bad = aimem(runner, "record", "--input", "-", "--cost", "1")
    assert bad.exit_code == 2


@pytest.mark.slow
def test_record_repeat_guard_warns_and_strict_refuses(runner: CliRunner, repo: None) -> None:
    for _ in range(3):
        first = record(runner)
        assert first.exit_code == 0 and first.stderr == ""
    warned = record(runner)
    assert warned.exit_code == 0
    assert warned.stderr.startswith("aimem: warning: fix `systemctl restart ollama` already failed")
    refused = record(runner, "--strict")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("aimem: error: fix `systemctl restart ollama`")
    assert "nothing was recorded" in refused.stderr
    stats = json.loads(ok(runner, "stats", "--json").stdout)
    assert stats["total_fixes_attempted"] == 4
    assert record(runner, "--strict", "--max-failures", "5").exit_code == 0


SUGGEST_KEYS = [
    "model",
    "issue_type",
    "model_family",
    "issue_signature",
    "fingerprint",
    "max_failures",
    "seed",
    "history",
    "ranked_fixes",
    "explore",
    "new_fix",
    "avoid",
    "failed_for_fingerprint",
    "recommendation",
]
GATE_KEYS = [
    "decision",
    "exit_code",
    "reason",
    "message",
    "min_rate",
    "max_failures",
    "model",
    "issue_type",
    "issue_signature",
    "fingerprint",
    "best_fix",
    "best_wilson_low",
    "best_low",
    "explore",
    "avoid",
    "repeated_failures",
    "history",
]


@pytest.mark.slow
def test_suggest_and_gate_exit_codes(runner: CliRunner, repo: None) -> None:
    gate = aimem(runner, "gate", *TIMEOUT, "--min-rate", "0.5")
    assert gate.exit_code == 0 and gate.stdout.startswith("try (no-history)")
    for _ in range(3):
        record(runner)
    skip = aimem(runner, "gate", *TIMEOUT, "--json")
    assert skip.exit_code == 3, skip.stderr
    verdict = json.loads(skip.stdout)
    assert list(verdict) == GATE_KEYS
    assert (verdict["decision"], verdict["reason"]) == ("skip", "repeated-failure")
    assert aimem(runner, "gate", *TIMEOUT, "--max-failures", "4").exit_code == 0
    low = aimem(runner, "gate", *TIMEOUT, "--max-failures", "4", "--min-rate", "0.1")
    assert low.exit_code == 4 and low.stdout.startswith("skip (low-confidence)")
    for _ in range(4):
        aimem(
            runner,
            "record",
            *TIMEOUT,
            "-c",
            "# Increase timeout to 120 seconds",
            "--success",
            "--verified",
        )
    go = aimem(runner, "gate", *TIMEOUT, "--min-rate", "0.25")
    assert go.exit_code == 0 and go.stdout.startswith("try (evidence): `# Increase")
    suggestion = json.loads(ok(runner, "suggest", *TIMEOUT, "--json", "--seed", "7").stdout)
    assert list(suggestion) == SUGGEST_KEYS
    assert suggestion["seed"] == 7
    assert suggestion["ranked_fixes"][0]["fix_commands"] == ["# Increase timeout to 120 seconds"]
    assert suggestion["avoid"] == [["systemctl restart ollama"]]
    assert suggestion["failed_for_fingerprint"][0]["repeated_failure"] is True
    text = ok(runner, "suggest", *TIMEOUT, "--seed", "7").stdout
    assert text.splitlines()[0] == suggestion["recommendation"]
    assert "Tried for this failure and failed" in text
    usage = aimem(runner, "gate", *TIMEOUT, "--min-rate", "2")
    assert usage.exit_code == 2


@pytest.mark.slow
def test_gate_exit_code_in_a_real_process(tmp_path: Path) -> None:
    assert run_aimem("init").returncode == 0
    for _ in range(2):
        args = ["record", *TIMEOUT, "-c", "ollama pull qwen2.5:7b", "--failure"]
        assert run_aimem(*args).returncode == 0
    assert run_aimem("gate", *TIMEOUT, "--max-failures", "2").returncode == 3
    assert run_aimem("gate", *TIMEOUT).returncode == 0


def test_alerts_exit_codes(runner: CliRunner, repo: None) -> None:
    quiet = aimem(runner, "alerts", "--now", "2025-06-15T12:00:00Z")
    assert quiet.exit_code == 0 and quiet.stdout == "" and "no alerts" in quiet.stderr
    for when, outcome in (
        ("2025-06-10T10:00:00Z", "--success"),
        ("2025-06-15T10:00:00Z", "--failure"),
    ):
        extra = ["--verified"] if outcome == "--success" else []
        args = ["record", "--input", "-"]
        line = {
            "issue_data": {
                "model": "qwen2.5:7b",
                "issue_type": "TIMEOUT",
                "description": "Model response timeout after 30 seconds",
            },
            "ai_response": {"fix_commands": ["# raise timeout"]},
            "fix_success": outcome == "--success",
            "verification_success": bool(extra),
            "timestamp": when,
        }
        assert runner.invoke(app, args, input=json.dumps(line)).exit_code == 0
    loud = aimem(runner, "alerts", "--now", "2025-06-15T12:00:00Z")
    assert loud.exit_code == 3
    assert loud.stdout.startswith("regression ")
    data = json.loads(aimem(runner, "alerts", "--now", "2025-06-15T12:00:00Z", "--json").stdout)
    assert data["count"] == 1 and data["alerts"][0]["kind"] == "regression"
    assert list(data["alerts"][0]) == ["kind", "subject", "message", "detail"]
    rows = aimem(runner, "alerts", "--now", "2025-06-15T12:00:00Z", "--format", "ndjson")
    assert rows.exit_code == 3 and len(rows.stdout.splitlines()) == 1
    only_spikes = aimem(runner, "alerts", "--now", "2025-06-15T12:00:00Z", "--kind", "spike")
    assert only_spikes.exit_code == 0
    assert aimem(runner, "alerts", "--kind", "bogus").exit_code == 2  # a bad flag value


@pytest.mark.slow
def test_demo_repository_end_to_end(runner: CliRunner) -> None:
    ok(runner, "init", "--demo")
    suggestion = json.loads(ok(runner, "suggest", *TIMEOUT, "--json").stdout)
    assert suggestion["ranked_fixes"]
    gate = aimem(runner, "gate", *TIMEOUT, "--json")
    assert gate.exit_code in (0, 3, 4)
    assert json.loads(gate.stdout)["exit_code"] == gate.exit_code
    alerts = aimem(runner, "alerts", "--json")
    assert alerts.exit_code in (0, 3)
    assert json.loads(alerts.stdout)["exit_code"] == alerts.exit_code
    patterns = json.loads(ok(runner, "patterns", "--kind", "fingerprint", "--json").stdout)
    assert patterns and {p["kind"] for p in patterns} == {"fingerprint"}
    similar = json.loads(ok(runner, "similar", *TIMEOUT, "--json").stdout)
    assert list(similar) == [
        "exact_matches",
        "model_matches",
        "type_matches",
        "fingerprint_matches",
    ]
    assert similar["fingerprint_matches"]
    successful = json.loads(ok(runner, "successful", "-t", "TIMEOUT", "--json").stdout)
    lows = [s["wilson_low"] for s in successful]
    assert lows == sorted(lows, reverse=True)
    model = json.loads(ok(runner, "model", "qwen2.5:7b").stdout)
    assert [" && ".join(f["fix_commands"]) for f in model["effective_fix_stats"]] == model[
        "effective_fixes"
    ]
    cost = json.loads(ok(runner, "analytics", "--json").stdout)["cost"]
    assert {r["fixer_type"] for r in cost["by_fixer"]} == {"claude", "gpt", "qwen"}


@pytest.mark.slow
def test_strict_repeat_guard_holds_across_concurrent_processes(tmp_path: Path) -> None:
    # Eight processes record the same failing fix with --strict at once: the guard
    # reads inside the write transaction, so exactly --max-failures of them land.
    from concurrent.futures import ThreadPoolExecutor

    assert run_aimem("init").returncode == 0
    args = [
        *TIMEOUT,
        "-c",
        "ollama pull qwen2.5:7b",
        "--failure",
        "--strict",
        "--max-failures",
        "3",
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: run_aimem("record", *args), range(8)))
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 0, 0, 1, 1, 1, 1, 1], [r.stderr for r in results]
    refused = [r for r in results if r.returncode == 1]
    assert all(b"nothing was recorded" in r.stderr for r in refused)
    stats = run_aimem("stats", "--json")
    assert json.loads(stats.stdout)["total_fixes_attempted"] == 3


@pytest.mark.slow
def test_cleanup_keep_failures_per_fingerprint(runner: CliRunner) -> None:
    ok(runner, "init", "--demo")
    before = json.loads(ok(runner, "analytics", "--json").stdout)["cost"]
    plan = json.loads(
        ok(
            runner, "cleanup", "0", "--keep-failures-per-fingerprint", "1", "--dry-run", "--json"
        ).stdout
    )
    assert plan["dry_run"] is True and plan["rows"] == plan["retention"]["rows"] > 0
    assert plan["retention"]["learning_changed"] is False
    done = ok(runner, "cleanup", "0", "--keep-failures-per-fingerprint", "1", "--yes")
    assert f"archived {plan['rows']} rows" in done.stdout
    again = json.loads(
        ok(runner, "cleanup", "0", "--keep-failures-per-fingerprint", "1", "--json").stdout
    )
    assert again["rows"] == 0
    recent = json.loads(ok(runner, "recent", "365", "--json").stdout)
    successes = [r for r in recent if r["fix_success"] and r["verification_success"]]
    assert len(successes) == json.loads(ok(runner, "stats", "--json").stdout)["successful_fixes"]
    assert json.loads(ok(runner, "analytics", "--json").stdout)["cost"] == before
    assert ok(runner, "check").exit_code == 0


def test_a_reports_empty_sections_say_so_under_their_headings(
    runner: CliRunner, repo: None
) -> None:
    # A report's headings are on stdout: an empty section's "(none)" is too, so
    # the report reads in order in a log that takes both streams.
    result = ok(runner, "suggest", *TIMEOUT)
    assert result.stderr == ""
    assert "Ranked fixes\n(no verified fix yet)\n" in result.stdout
    assert "Avoid (known failures here)\n(none)\n" in result.stdout
    assert "Tried for this failure and failed\n(nothing failed for this fingerprint)\n" in (
        result.stdout
    )
    analytics = ok(runner, "analytics")
    assert analytics.stderr == ""
    assert "Cost per verified success (failed attempts included)\n(none)\n" in analytics.stdout
