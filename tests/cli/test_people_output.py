"""What people read, checked as a newcomer would: rates as percentages everywhere,
one spelling of a multi-command fix, whole segment names in a pipe, and questions
that say what they are about (or are not asked when nothing would change)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.conftest import fails, invoke, ok, ok_json

TWO_COMMANDS = ["ollama pull qwen2.5:7b", "systemctl restart ollama"]


def _record_two_command_fix() -> None:
    for _ in range(3):
        ok(
            "record", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "-d", "timeout after 30s",
            "-c", TWO_COMMANDS[0], "-c", TWO_COMMANDS[1], "--success", "--verified",
        )  # fmt: skip


@pytest.mark.slow
def test_tables_show_rates_as_percentages_as_context_does(demo: Path) -> None:
    models = ok_json("models", "--json")
    first = models[0]
    table = ok("models").stdout.splitlines()
    row = next(line for line in table if line.startswith(first["model_name"] + " "))
    assert f"{first['success_rate']:.0%}" in row.split()
    assert f"{first['wilson_low']:.0%}" in row.split()
    for args in (["models"], ["successful"], ["patterns"], ["analytics"]):
        shown = ok(*args).stdout
        assert "%" in shown, args
        assert not re.search(r"\s0\.\d{3}\s", shown.split("Cost per")[0]), args
    context = ok("context", "-m", "qwen2.5:7b", "-t", "TIMEOUT").stdout
    assert re.search(r"verified \(\d+%", context)
    # JSON keeps the fractions (plumbing)
    assert 0 < first["success_rate"] < 1


@pytest.mark.slow
def test_a_multi_command_fix_has_one_spelling(demo: Path) -> None:
    _record_two_command_fix()
    joined = " && ".join(TWO_COMMANDS)
    recent = ok("recent", "--wide", "--limit", "1").stdout
    assert joined in recent
    context = ok("context", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "-d", "timeout after 30s")
    assert f"`{joined}`" in context.stdout
    assert "`; `" not in context.stdout
    suggest = ok("suggest", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "--wide").stdout
    assert joined in suggest
    successful = ok("successful", "-t", "TIMEOUT", "-m", "qwen2.5:7b", "--wide").stdout
    assert joined in successful
    for shown in (recent, context.stdout, suggest, successful):
        assert "; ".join(TWO_COMMANDS) not in shown


@pytest.mark.postgres_pending("archive segments in the database: the pgops branch")
def test_archive_list_keeps_segment_names_whole_in_a_pipe(demo: Path) -> None:
    ok("cleanup", "--older-than", "20d", "--yes")
    names = [s["name"] for s in ok_json("archive", "list", "--json")]
    assert names and len(names[0]) > 60
    shown = ok("archive", "list").stdout  # not a terminal, no COLUMNS
    for name in names:
        assert name in shown


def test_purge_question_names_the_count_and_the_cut_off(demo: Path) -> None:
    count = ok_json("cleanup", "--older-than", "10d", "--purge", "--dry-run", "--json")["rows"]
    assert count > 0
    refused = fails(2, "cleanup", "--older-than", "10d", "--purge")
    assert f"purge {count} rows older than " in refused.stderr
    assert re.search(r"older than \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", refused.stderr)
    assert ok_json("stats", "--json")["total_fixes_attempted"] == 480
    # nothing to purge: nothing to ask
    nothing = invoke("cleanup", "--older-than", "3650d", "--purge")
    assert nothing.exit_code == 0, nothing.stderr
    assert nothing.stdout.startswith("purged 0 rows")


@pytest.mark.slow
def test_check_repair_asks_only_when_there_is_something_to_repair(demo: Path) -> None:
    clean = invoke("check", "--repair")
    assert clean.exit_code == 0, clean.stderr
    assert "check: 0 errors" in clean.stderr and "--yes" not in clean.stderr
    (demo / "knowledge_base.json").unlink()
    refused = fails(2, "check", "--repair")
    assert "would repair 1 finding (stale-knowledge-base)" in refused.stderr
    assert "pass --yes" in refused.stderr
    assert not (demo / "knowledge_base.json").exists()
    assert invoke("check", "--repair", "--yes").exit_code == 0
    assert (demo / "knowledge_base.json").exists()


def test_gate_says_its_decision_once(demo: Path) -> None:
    ask = ["gate", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "-d", "timeout after 30s"]
    tried = invoke(*ask)
    assert tried.exit_code == 0
    assert tried.stdout.startswith("try (evidence): `") and "try `" not in tried.stdout
    skipped = invoke(*ask, "--min-rate", "0.99")
    assert skipped.exit_code == 4
    assert skipped.stdout.startswith("skip (low-confidence): the best known fix")
    # the JSON message stays as the library words it
    assert ok_json(*ask, "--json")["message"].startswith("try `")
