"""record for scripts: contradictory flags refused, fixer names in one spelling."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.cli.conftest import fails, ok, ok_json

BASE = ["record", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "-d", "timeout after 30s"]


def _rows() -> list[dict[str, object]]:
    return [orjson.loads(line) for line in ok("recent", "1", "-f", "ndjson").stdout.splitlines()]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--success", "--failure"], "--success and --failure contradict each other"),
        (["--failure", "--success", "--verified"], "--success and --failure contradict"),
        (["--success", "--verified", "--unverified"], "--verified and --unverified contradict"),
    ],
)
def test_contradictory_flags_are_refused(empty: Path, flags: list[str], message: str) -> None:
    result = fails(2, *BASE, *flags)
    assert message in result.stderr.splitlines()[0]
    assert _rows() == []


def test_outcome_flags_still_work_alone(empty: Path) -> None:
    ok(*BASE, "--success", "--verified")
    ok(*BASE, "--success", "--unverified")
    ok(*BASE, "--failure")
    outcomes = {(row["fix_success"], row["verification_success"]) for row in _rows()}
    assert outcomes == {(True, True), (True, False), (False, False)}


def test_fixer_names_are_one_fixer_whatever_the_case(empty: Path, tmp_path: Path) -> None:
    ok(*BASE, "--failure", "--fixer", "Claude")
    ok(*BASE, "--failure", "--fixer", "claude")
    ok(*BASE, "--failure", "--fixer", " CLAUDE ")
    line = {
        "issue_data": {"model": "qwen2.5:7b", "issue_type": "TIMEOUT", "description": "x"},
        "ai_response": {"fix_commands": ["ollama pull qwen2.5:7b"]},
        "fix_success": False,
        "verification_success": False,
        "fixer_type": "Qwen",
    }
    ok("record", "--input", "-", input=orjson.dumps(line))
    assert sorted(row["fixer_type"] for row in _rows()) == ["claude", "claude", "claude", "qwen"]
    fixers = ok_json("analytics", "--json")["fixer_comparison"]
    assert {f["fixer_type"]: f["total_attempts"] for f in fixers} == {"claude": 3, "qwen": 1}

    # an import of rows spelled otherwise stores them in the one spelling too
    ok("export", str(tmp_path / "h.ndjson"))
    exported = [orjson.loads(x) for x in (tmp_path / "h.ndjson").read_bytes().splitlines()]
    for row in exported:
        row["fixer_type"] = row["fixer_type"].upper()
        row["uid"] = row["uid"][::-1]  # new records, not the ones already here
    (tmp_path / "upper.ndjson").write_bytes(b"\n".join(orjson.dumps(r) for r in exported))
    ok("import", str(tmp_path / "upper.ndjson"))
    assert sorted(row["fixer_type"] for row in _rows()) == [*["claude"] * 6, "qwen", "qwen"]
    fixers = ok_json("analytics", "--json")["fixer_comparison"]
    assert {f["fixer_type"]: f["total_attempts"] for f in fixers} == {"claude": 6, "qwen": 2}


def test_a_bad_fixer_name_names_the_flag(empty: Path) -> None:
    result = fails(2, *BASE, "--failure", "--fixer", "two words")
    assert result.stderr.startswith("aimem: error: Invalid value for '--fixer': ")
    assert _rows() == []


def test_a_flat_document_gets_an_example_of_the_shape(empty: Path) -> None:
    flat = {"model": "qwen2.5:7b", "issue_type": "TIMEOUT", "description": "x"}
    result = fails(1, "record", "--input", "-", input=orjson.dumps(flat))
    first, hint = result.stderr.splitlines()
    assert first == "aimem: error: <stdin>:1: description: is not an argument of record_fix_attempt"
    example = orjson.loads(hint[hint.index("{") :])
    assert set(example) == {"issue_data", "ai_response", "fix_success", "verification_success"}
    ok("record", "--input", "-", input=orjson.dumps(example))  # the example itself is valid
