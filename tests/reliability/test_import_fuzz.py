"""Fuzzing the import paths (NDJSON, JSON array, CSV, SQLite) through the CLI.

Inputs are valid exports mutated at random (bytes flipped, structure and
hostile snippets inserted, cut short) plus arbitrary bytes and arbitrary
values in every column of a source database. Every outcome must be a clean
success (exactly the reported rows added) or one ``aimem: error:`` line with
the repository unchanged. The limits are shrunk so that the length and depth
refusals are reached too. Bounded: a few dozen examples per path.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import aimem.input_limits as limits
from aimem import AIMemory
from aimem.cli.app import app
from aimem.records import DESIGN_COLUMNS, EXPORT_COLUMNS
from tests.reliability.conftest import row_count
from tests.reliability.input_helpers import export_rows, ndjson, snapshot

pytestmark = pytest.mark.slow
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SNIPPETS = [
    b"[" * 20,
    b"{" * 12,
    b"]",
    b"}",
    b",",
    b'"',
    b"\\",
    b"\n",
    b"\r",
    b"\x00",
    b"\xff\xfe",
    b"\xc3",
    b'"uid": "x"',
    b'{"k": ' * 10,
    b"x" * 3000,
    b"null",
    b"1e999",
    b"-0",
    b'"\\ud800"',
]


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_LINE_BYTES", 2048)
    monkeypatch.setattr(limits, "MAX_DEPTH", 8)
    monkeypatch.setattr(limits, "CHUNK", 256)


@pytest.fixture
def repo(repo_dir: Path) -> Path:
    with AIMemory(repo_dir) as memory:
        memory.import_records(io.BytesIO(ndjson(export_rows(3, seed=41))), "ndjson")
    return repo_dir


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                orjson.dumps(row[c]).decode()
                if isinstance(row[c], (list, dict, bool))
                else ""
                if row[c] is None
                else row[c]
                for c in EXPORT_COLUMNS
            ]
        )
    return out.getvalue().encode()


def _valid(fmt: str, seed: int, count: int) -> bytes:
    rows = export_rows(count, seed=seed)
    if fmt == "ndjson":
        return ndjson(rows)
    if fmt == "json":
        return orjson.dumps(rows)
    if fmt == "json-lines":
        return b"[\n" + b",\n".join(orjson.dumps(r) for r in rows) + b"\n]\n"
    return _csv(rows)


mutation = st.tuples(
    st.sampled_from(("insert", "flip", "cut", "delete")),
    st.floats(min_value=0, max_value=1),
    st.sampled_from(SNIPPETS),
    st.integers(min_value=0, max_value=255),
)


def _mutate(data: bytes, mutations: list[tuple[str, float, bytes, int]]) -> bytes:
    for kind, where, snippet, byte in mutations:
        at = int(where * len(data))
        if kind == "insert":
            data = data[:at] + snippet + data[at:]
        elif kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([byte]) + data[at + 1 :]
        elif kind == "cut":
            data = data[:at]
        else:
            data = data[:at] + data[at + 3 :]
    return data


def _outcome(repo: Path, source: Path, fmt: str) -> None:
    before = snapshot(repo)
    rows = row_count(repo)
    result = CliRunner().invoke(app, ["import", str(source), "--format", fmt, "--json"])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    if result.exit_code == 0:
        summary = orjson.loads(result.stdout)
        assert row_count(repo) == rows + summary["added"]
        return
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) in (1, 2) and lines[0].startswith("aimem: error: "), result.stderr
    assert len(lines) == 1 or lines[1].startswith("hint: "), result.stderr
    assert snapshot(repo) == before, "a refused import changed the repository"


@SETTINGS
@given(
    fmt=st.sampled_from(("ndjson", "json", "json-lines", "csv")),
    seed=st.integers(min_value=0, max_value=10**6),
    count=st.integers(min_value=1, max_value=4),
    mutations=st.lists(mutation, max_size=4),
)
def test_mutated_exports(
    repo: Path, tmp_path: Path, fmt: str, seed: int, count: int, mutations: Any
) -> None:
    source = tmp_path / "input"
    source.write_bytes(_mutate(_valid(fmt, seed, count), mutations))
    _outcome(repo, source, "json" if fmt == "json-lines" else fmt)


@SETTINGS
@given(fmt=st.sampled_from(("ndjson", "json", "csv")), data=st.binary(max_size=400))
def test_arbitrary_bytes(repo: Path, tmp_path: Path, fmt: str, data: bytes) -> None:
    source = tmp_path / "input"
    source.write_bytes(data)
    _outcome(repo, source, fmt)


sql_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=40),
    st.binary(max_size=20),
    st.sampled_from(["true", "FALSE", "[]", "{}", '["ok"]', "[" * 40 + "]" * 40, "not json"]),
)


@SETTINGS
@given(
    base=st.integers(min_value=0, max_value=10**6),
    changes=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2), st.sampled_from(DESIGN_COLUMNS), sql_values
        ),
        max_size=4,
    ),
)
def test_sqlite_sources(repo: Path, tmp_path: Path, base: int, changes: Any) -> None:
    source = tmp_path / f"source-{base}.db"
    source.unlink(missing_ok=True)
    conn = sqlite3.connect(source)
    # Untyped columns: any value can sit in any of the design's columns.
    conn.execute(f"CREATE TABLE fix_history ({', '.join(DESIGN_COLUMNS)})")
    for n, row in enumerate(export_rows(3, seed=base)):
        values = [row[c] for c in DESIGN_COLUMNS]
        values[0] = n + 1
        values = [orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v for v in values]
        conn.execute(f"INSERT INTO fix_history VALUES ({', '.join('?' * len(values))})", values)
    for index, column, value in changes:
        if isinstance(value, float) and value != value:
            value = None  # SQLite stores NaN as NULL anyway
        conn.execute(f"UPDATE fix_history SET {column} = ? WHERE rowid = ?", (value, index + 1))
    conn.commit()
    conn.close()
    _outcome(repo, source, "sqlite")
