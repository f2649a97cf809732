"""Hostile input to ``aimem record --input``: a clean error and an unchanged repository,
or a correct insert. Driven by Hypothesis through the real command (CliRunner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.commands import app
from tests.reliability.conftest import items, row_count

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SQL_META = (
    "'; DROP TABLE fix_history; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM issue_patterns; --",
    "%_\\",
    "\x00",
    "NEAR(a b) OR * ^",
    "$(touch pwned) `id`",
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
hostile_text = st.one_of(
    st.text(max_size=200),
    st.sampled_from(SQL_META),
    st.text(alphabet=st.sampled_from("\x00\ud7ff\ue000\U0010ffff'\";-%"), max_size=20),
    st.builds(lambda n: "x" * n, st.integers(min_value=0, max_value=300_000)),
)


@pytest.fixture
def repo(repo_dir: Path) -> Path:
    with AIMemory(repo_dir) as memory:
        memory.record_many(items(5, seed=31))
    return repo_dir


def _state(repo: Path) -> tuple[int, bytes]:
    return row_count(repo), (repo / "knowledge_base.json").read_bytes()


def _record(data: bytes) -> Any:
    return CliRunner().invoke(app, ["record", "--print-json", "--input", "-"], input=data)


def _clean_failure(result: Any) -> None:
    assert result.exit_code in (1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("aimem: error: "), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@SETTINGS
@given(value=json_values)
def test_arbitrary_json(repo: Path, value: Any) -> None:
    before = _state(repo)
    result = _record(orjson.dumps(value))
    if result.exit_code == 0:  # only a valid attempt object can get through
        assert row_count(repo) == before[0] + 1
    else:
        _clean_failure(result)
        assert _state(repo) == before


@pytest.mark.slow
@SETTINGS
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes(repo: Path, data: bytes) -> None:
    before = _state(repo)
    result = _record(data)
    assert result.exit_code != 0
    _clean_failure(result)
    assert _state(repo) == before


@SETTINGS
@given(
    field=st.sampled_from(
        [
            "model",
            "issue_type",
            "description",
            "analysis",
            "command",
            "notes",
            "fixer_type",
            "test_prompt",
            "system_info",
        ]
    ),
    text=hostile_text,
    good_lines=st.integers(min_value=0, max_value=3),
)
@pytest.mark.slow
def test_hostile_text_in_every_field(repo: Path, field: str, text: str, good_lines: int) -> None:
    item = items(1, seed=32)[0]
    if field in ("model", "issue_type", "description", "test_prompt"):
        item["issue_data"][field] = text
    elif field == "system_info":
        item["issue_data"]["system_info"] = {text: text}
    elif field == "analysis":
        item["ai_response"]["analysis"] = text
    elif field == "command":
        item["ai_response"]["fix_commands"] = [text, "echo ok"]
    else:
        item[field] = text
    lines = [*items(good_lines, seed=33), item]  # the hostile line comes last
    before = _state(repo)
    result = _record(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    if result.exit_code != 0:
        _clean_failure(result)
        assert _state(repo) == before, "a rejected batch changed the repository"
        return
    ids = orjson.loads(result.stdout)["ids"]
    assert len(ids) == len(lines)
    with AIMemory(repo, create=False, redact_secrets=False) as memory:
        row = memory.store.get_row(ids[-1])
        assert row is not None
        if field == "description":
            assert row["description"] == text
        elif field == "command":
            assert row["fix_commands"] == [text, "echo ok"]
        elif field == "analysis":
            assert row["claude_analysis"] == text
        assert memory.store.count_rows() == before[0] + len(lines)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"issue_data": {"model": "m:1", "issue_type": "ERROR", "description": "\xff\xfe"}}',
        b'{"issue_data": {"model": "m:1", "issue_type": "ERROR", "description": "ok"}, '
        b'"fix_success": true, "verification_success": true}\n\xc3\x28\n',
        b'{"issue_data": {"model": "m:1", "issue_type": "ERROR", "description": "\\ud800"}, '
        b'"fix_success": false, "verification_success": false}',
        b'{"issue_data": {"model": "m\\u0000:1", "issue_type": "ERROR", "description": "x"}, '
        b'"fix_success": false, "verification_success": false}',
        b"[" * 100_000,
        b'{"issue_data": ' * 2000,
    ],
)
def test_invalid_utf8_nul_and_deep_nesting(repo: Path, raw: bytes) -> None:
    before = _state(repo)
    result = _record(raw)
    _clean_failure(result)
    assert _state(repo) == before


def test_huge_string_is_refused_cleanly(repo: Path) -> None:
    item = items(1, seed=34)[0]
    item["issue_data"]["description"] = "y" * 5_000_000
    before = _state(repo)
    result = _record(orjson.dumps(item))
    _clean_failure(result)
    assert "description" in result.stderr
    assert _state(repo) == before
