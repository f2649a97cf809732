"""aimem record: from flags, from a JSON file, from NDJSON on stdin; all or nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.cli.conftest import fails, invoke, ok, ok_json
from tests.conftest import run_aimem

FLAGS = [
    "record",
    "--model",
    "qwen2.5:7b",
    "--issue-type",
    "TIMEOUT",
    "--description",
    "Model response timeout after 30 seconds",
    "--fixer",
    "qwen",
    "--analysis",
    "Model needs more time due to complex prompt",
    "--command",
    "# Increase timeout to 60 seconds",
    "-c",
    "systemctl restart ollama",
    "--success",
    "--verified",
    "--time",
    "45.2",
    "--notes",
    "Timeout increased successfully",
    "--prompt",
    "Write a haiku",
    "--response",
    "",
]


def attempt(n: int = 0, **overrides: object) -> dict[str, object]:
    item: dict[str, object] = {
        "issue_data": {
            "model": "llama3.1:8b",
            "issue_type": "NO_OUTPUT",
            "description": f"empty response {n}",
        },
        "ai_response": {"analysis": "context too long", "fix_commands": ["# shorten prompt"]},
        "fix_success": True,
        "verification_success": n % 2 == 0,
        "execution_time": 3.5,
        "notes": None,
        "fixer_type": "claude",
    }
    item.update(overrides)
    return item


def count() -> int:
    return int(ok_json("stats", "--json")["total_fixes_attempted"])


def test_record_from_flags(empty: Path) -> None:
    result = ok(*FLAGS)
    assert result.stdout == "1\n"
    assert result.stderr == ""
    row = ok_json("recent", "--json")[0]
    assert row["id"] == 1
    assert row["model_name"] == "qwen2.5:7b"
    assert row["fixer_type"] == "qwen"
    assert row["fix_commands"] == ["# Increase timeout to 60 seconds", "systemctl restart ollama"]
    assert row["fix_success"] is True and row["verification_success"] is True
    assert row["execution_time_seconds"] == 45.2
    assert row["claude_analysis"] == "Model needs more time due to complex prompt"
    assert row["notes"] == "Timeout increased successfully"
    assert ok(*FLAGS[:7], "--failure", "--print-json").stdout == '{"ids":[2]}\n'
    failed = ok_json("recent", "--json")[0]
    assert failed["fix_success"] is False and failed["verification_success"] is False
    assert failed["fixer_type"] == "claude"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["record", "-t", "TIMEOUT", "-d", "x", "--failure"], "--model is required"),
        (["record", "-m", "m", "-d", "x", "--failure"], "--issue-type is required"),
        (["record", "-m", "m", "-t", "T", "--failure"], "--description is required"),
        (["record", "-m", "m", "-t", "T", "-d", "x"], "--success or --failure"),
        (["record", "-m", "m", "-t", "T", "-d", "x", "--success"], "--verified or --unverified"),
        (["record", "--input", "-", "-m", "m"], "cannot be combined"),
        (["record", "-m", "m", "-t", "T", "-d", "x", "--failure", "--time", "-1"], "--time"),
    ],
)
def test_record_usage_errors_write_nothing(empty: Path, args: list[str], message: str) -> None:
    result = fails(2, *args, input="")
    assert message in result.stderr.splitlines()[0]
    assert count() == 0


def test_record_invalid_values_write_nothing(empty: Path) -> None:
    result = fails(2, "record", "-m", "", "-t", "TIMEOUT", "-d", "x", "--failure")
    assert result.stderr.startswith("aimem: error: Invalid value for '--model': ")
    assert count() == 0


def test_record_from_a_json_file(empty: Path, tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_bytes(orjson.dumps(attempt(), option=orjson.OPT_INDENT_2))
    assert ok("record", "--input", str(single)).stdout == "1\n"
    many = tmp_path / "many.ndjson"
    many.write_bytes(b"\n".join(orjson.dumps(attempt(n)) for n in range(1, 4)) + b"\n")
    assert ok("record", "--input", str(many)).stdout == "2\n3\n4\n"
    assert count() == 4
    assert ok_json("stats", "--json")["successful_fixes"] == 2


def test_record_ndjson_from_stdin(empty: Path) -> None:
    lines = b"\n".join(orjson.dumps(attempt(n)) for n in range(3)) + b"\n\n"
    result = ok("record", "--input", "-", input=lines)
    assert result.stdout == "1\n2\n3\n"
    assert count() == 3


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        (b"not json", "<stdin>:3: invalid JSON"),
        (b"[1, 2]", "<stdin>:3: each line must be a JSON object"),
        (orjson.dumps(attempt(fix_success="yes")), "<stdin>:3: "),
        (orjson.dumps(attempt(unknown=1)), "<stdin>:3: unknown: is not an argument"),
        (orjson.dumps({"issue_data": {}}), "<stdin>:3: "),
    ],
)
def test_record_bad_ndjson_line_writes_nothing(empty: Path, bad_line: bytes, message: str) -> None:
    good = [orjson.dumps(attempt(n)) for n in range(4)]
    data = b"\n".join([*good[:2], bad_line, *good[2:]]) + b"\n"
    result = fails(1, "record", "--input", "-", input=data)
    assert result.stderr.startswith("aimem: error: " + message), result.stderr
    assert len(result.stderr.splitlines()) <= 2
    assert result.stdout == ""
    assert count() == 0


def test_record_bad_file_is_named(empty: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(orjson.dumps(attempt()) + b"\n{oops\n")
    result = fails(1, "record", "--input", str(bad))
    assert result.stderr.startswith(f"aimem: error: {bad}:2: invalid JSON")
    missing = tmp_path / "missing.json"
    result = fails(1, "record", "--input", str(missing))
    assert result.stderr == f"aimem: error: {missing}: cannot read: No such file or directory\n"
    empty_file = tmp_path / "empty.json"
    empty_file.write_bytes(b"\n")
    assert "no attempts" in fails(1, "record", "--input", str(empty_file)).stderr
    assert count() == 0


def test_record_needs_a_repository(tmp_path: Path) -> None:
    result = invoke(*FLAGS)
    assert result.exit_code == 1
    assert "not an aimem repository" in result.stderr
    assert not (tmp_path / "AIMemory").exists()


@pytest.mark.slow
def test_record_through_the_console_script(empty: Path) -> None:
    data = b"\n".join(orjson.dumps(attempt(n)) for n in range(2)) + b"\n"
    done = run_aimem("record", "--input", "-", input=data)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"1\n2\n"
    bad = run_aimem("record", "--input", "-", input=data + b"{\n")
    assert bad.returncode == 1
    assert bad.stderr.startswith(b"aimem: error: <stdin>:3: invalid JSON")
    assert count() == 2


def test_the_old_json_spelling_still_reads_attempts_with_a_deprecation_note(
    empty: Path, tmp_path: Path
) -> None:
    single = tmp_path / "one.json"
    single.write_bytes(orjson.dumps(attempt()))
    result = ok("record", "--json", str(single))
    assert result.stdout == "1\n"
    assert result.stderr == (
        "aimem: warning: --json FILE is deprecated: use --input FILE "
        "(--json will mean JSON output)\n"
    )
    assert "not both" in fails(2, "record", "--json", str(single), "--input", str(single)).stderr
    assert count() == 1
