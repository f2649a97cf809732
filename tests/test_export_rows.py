"""The chunked export (aimem.store.export_rows) writes exactly the bytes of the
per-row definition (``write_records`` over ``Store.iter_rows``: a dict per row),
whatever the stored values are, legacy junk included."""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimem import AIMemory
from aimem.ops import transfer
from aimem.records import EXPORT_COLUMNS, STORED_COLUMNS
from aimem.store import export_rows, json_lines
from aimem.timeutil import output_timestamp
from tests.conftest import sql

_CHARS = st.characters(blacklist_categories=("Cs",))
_TEXT = st.text(_CHARS, max_size=30) | st.sampled_from(['"', "\\", "\n", "\x00\x1f\x7f", "é☃𝄞"])
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
# What a JSON column may hold: aimem's own text, another writer's (spaces, \u
# escapes, exponents), text that is not JSON, NULL, or not text at all.
_STORED_JSON = (
    _JSON.map(lambda v: orjson.dumps(v).decode())
    | _JSON.map(lambda v: json.dumps(v, ensure_ascii=True))
    | st.sampled_from(["ollama pull x", "[1, 2.50, 1e5]", '{"a" : -0.0}', "[", "", "null"])
    | st.none()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
)
# Decimals of up to 6 places are what SQLite prints itself (aimem.store.json_lines);
# the edges of that range, and values just past them, are the Python path's.
_DECIMAL = st.integers(-(10**16), 10**16).flatmap(
    lambda k: st.sampled_from([k / 10, k / 1000, k / 10**6, k / 10**7, k / 3])
) | st.sampled_from(
    [1e9, 999999999.999999, 1e-4, 0.0001000001, 9.9999e-05, 1e-05, 0.1 + 0.2, 1e16, 0.0]
)
_NUMBER = (
    st.none()
    | _DECIMAL
    | st.floats(allow_nan=False)
    | st.integers(-(2**63), 2**63 - 1)
    | st.sampled_from(["12.5", ""])
)
_FLAG = st.sampled_from([0, 1, 2, -1, 0.0, 0.5, "0", "", "yes", None])
_ROW = st.fixed_dictionaries(
    {
        "timestamp": st.sampled_from(["2025-01-02 03:04:05.000000Z", "2025-06-01T00:00:00"]),
        "model_name": _TEXT | st.integers(-(2**63), 2**63 - 1),
        "issue_type": _TEXT,
        "issue_signature": _TEXT,
        "description": _TEXT,
        "fixer_type": _TEXT,
        "claude_analysis": _TEXT | st.none(),
        "fix_commands": _STORED_JSON,
        "fix_success": _FLAG,
        "verification_success": _FLAG,
        "execution_time_seconds": _NUMBER,
        "system_info": _STORED_JSON,
        "notes": _TEXT | st.none(),
        "uid": st.uuids().map(lambda u: u.hex) | st.none(),
        "fingerprint": _TEXT | st.none(),
        "tokens_in": _NUMBER,
        "tokens_out": st.none() | st.integers(0, 10**9),
        "cost_usd": _NUMBER,
        "fixer_model": _TEXT | st.none(),
    }
)


def _store_rows(root: Path, rows: list[dict[str, Any]]) -> None:
    with AIMemory(root):
        pass
    conn = sqlite3.connect(root / "ai_memory.db")
    required = {r[1] for r in conn.execute("PRAGMA table_info(fix_history)") if r[3]}
    marks = ", ".join("?" * len(STORED_COLUMNS))
    for row in rows:
        conn.execute(
            f"INSERT INTO fix_history({', '.join(STORED_COLUMNS)}) VALUES ({marks})",
            [row[c] if row[c] is not None or c not in required else "" for c in STORED_COLUMNS],
        )
    conn.commit()
    conn.close()


def _per_row(memory: AIMemory, fmt: str, since: str | None = None) -> bytes:
    sink = io.BytesIO()
    transfer.write_records(sink, memory.store.iter_rows(since), fmt)
    return sink.getvalue()


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(_ROW, min_size=0, max_size=7),
    chunk=st.integers(1, 4),
    memo=st.integers(1, 3),
)
def test_chunked_export_equals_the_per_row_definition(
    rows: list[dict[str, Any]], chunk: int, memo: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(export_rows, "CHUNK", chunk)
        patch.setattr(json_lines, "MEMO_LIMIT", memo)
        root = Path(tmp) / "A"
        _store_rows(root, rows)
        with AIMemory(root) as memory:
            for fmt in ("ndjson", "json", "csv"):
                sink = io.BytesIO()
                summary = memory.export_records(sink, fmt)
                assert summary["records"] == len(rows)
                assert sink.getvalue() == _per_row(memory, fmt), fmt


def test_chunked_export_of_a_real_history_matches_and_filters(tmp_path: Path) -> None:
    from aimem.ops.setup import init_repository

    root = tmp_path / "A"
    init_repository(directory=root, demo=True)
    with AIMemory(root) as memory:
        stamps = sorted(r["timestamp"] for r in memory.store.iter_rows())
        cut = stamps[len(stamps) // 3]
        for fmt in ("ndjson", "json", "csv"):
            sink = io.BytesIO()
            summary = memory.export_records(sink, fmt, since=cut)
            assert summary["records"] == sum(s >= cut for s in stamps)
            assert sink.getvalue() == _per_row(memory, fmt, cut)
        # a file target gets the same bytes
        memory.export_records(tmp_path / "all.ndjson")
        assert (tmp_path / "all.ndjson").read_bytes() == _per_row(memory, "ndjson")


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_ROW, min_size=1, max_size=7), purge=st.booleans())
def test_archived_rows_hold_the_values_of_the_hot_rows(
    rows: list[dict[str, Any]], purge: bool
) -> None:
    """Segment lines built by SQLite and by Python parse to the same values as
    the hot rows they replace (``cleanup`` of every row; REALs may print
    differently, their values may not)."""
    from aimem.ops import archive

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "A"
        _store_rows(root, rows)
        with AIMemory(root) as memory:
            before = [orjson.loads(orjson.dumps(r)) for r in memory.store.iter_rows()]
            memory.cleanup(0, purge=purge, dry_run=False)
            assert memory.store.conn.execute("SELECT count(*) FROM fix_history").fetchone()[0] == 0
            fields = archive.fields_for(archive.KIND_FACTS if purge else archive.KIND_ROWS)
            archived = []
            for segment in memory.store.segments():
                path = root / "archive" / segment["name"]
                archived += list(archive.iter_segment_rows(path, segment["sha256"]))
        expected = [{f: row[f] for f in fields} for row in before]
        assert sorted(map(repr, archived)) == sorted(map(repr, expected))
        assert all(list(row) == list(fields) for row in archived)


def test_a_legacy_table_with_other_column_types_exports_as_the_per_row_path(
    tmp_path: Path,
) -> None:
    """Text flags in a TEXT column ('0' is true to Python), values in untyped
    columns (a REAL -0.0 keeps its sign there) and a REAL at the int64 limit in
    an INTEGER column: SQLite must leave each such row to Python."""
    from tests.legacy import DESIGN_DDL

    root = tmp_path / "A"
    root.mkdir()
    ddl = (
        DESIGN_DDL.replace("fix_success BOOLEAN", "fix_success TEXT")
        .replace("verification_success BOOLEAN", "verification_success")
        .replace("execution_time_seconds REAL", "execution_time_seconds")
    )
    conn = sqlite3.connect(root / "ai_memory.db")
    conn.executescript(ddl)
    values = [
        ("0", 0, 1.5),
        ("-0", "0", -0.0),
        ("0.0", 1.0, 0.0),
        ("", 0.5, 2.25),
        (1, "yes", 12.5),
        (0, 1, 7),
    ]
    for n, (fixed, verified, seconds) in enumerate(values):
        conn.execute(
            "INSERT INTO fix_history (timestamp, model_name, issue_type, issue_signature,"
            " description, fixer_type, claude_analysis, fix_commands, fix_success,"
            " verification_success, execution_time_seconds, system_info, notes)"
            " VALUES (?, 'm', 'TIMEOUT', 'sig', 'd', 'claude', 'a', '[]', ?, ?, ?, '{}', NULL)",
            (f"2025-01-0{n + 1} 00:00:00", fixed, verified, seconds),
        )
    conn.commit()
    conn.close()
    with AIMemory(root) as memory:
        memory.store.conn.execute(
            "UPDATE fix_history SET tokens_in = ? WHERE id = 1", (-(2.0**63),)
        )
        assert memory.store.conn.execute(
            "SELECT typeof(tokens_in) FROM fix_history WHERE id = 1"
        ).fetchone() == ("real",)
        for fmt in ("ndjson", "json"):
            sink = io.BytesIO()
            memory.export_records(sink, fmt)
            assert sink.getvalue() == _per_row(memory, fmt), fmt
        exported = [orjson.loads(line) for line in _per_row(memory, "ndjson").splitlines()]
    # a TEXT column stores 0 as the text "0": true to Python, as it always was
    assert [r["fix_success"] for r in exported] == [True, True, True, False, True, True]
    assert [r["verification_success"] for r in exported] == [False, True, True, True, True, True]
    assert str(exported[1]["execution_time_seconds"]) == "-0.0"


def test_a_utf16_database_exports_and_archives_as_the_per_row_path(tmp_path: Path) -> None:
    """SQLite's line is the text's stored bytes: in a UTF-16 database every row
    is built in Python instead, with the same result as a UTF-8 one."""
    from tests.legacy import DESIGN_DDL

    root = tmp_path / "A"
    root.mkdir()
    conn = sqlite3.connect(root / "ai_memory.db")
    conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.executescript(DESIGN_DDL)
    for n, text in enumerate(["plain", "é☃𝄞", 'quote " and \\ and \n']):
        conn.execute(
            "INSERT INTO fix_history (timestamp, model_name, issue_type, issue_signature,"
            " description, fixer_type, claude_analysis, fix_commands, fix_success,"
            " verification_success, execution_time_seconds, system_info, notes)"
            " VALUES (?, 'm', 'TIMEOUT', 'sig', ?, 'claude', 'a', '[\"ollama ps\"]', 1, 0,"
            ' 2.5, \'{"os":"Linux"}\', ?)',
            (f"2025-01-0{n + 1} 00:00:00", text, text),
        )
    conn.commit()
    conn.close()
    with AIMemory(root) as memory:
        assert memory.store.conn.execute("PRAGMA encoding").fetchone() == ("UTF-16le",)
        for fmt in ("ndjson", "json"):
            sink = io.BytesIO()
            memory.export_records(sink, fmt)
            assert sink.getvalue() == _per_row(memory, fmt), fmt
        hot = _per_row(memory, "ndjson")
        assert [orjson.loads(line)["description"] for line in hot.splitlines()][1] == "é☃𝄞"
        memory.cleanup(0)
        assert memory.store.conn.execute("SELECT count(*) FROM fix_history").fetchone() == (0,)
        archived = list(memory.iter_export_rows(None, True))
    hot_rows = [orjson.loads(line) for line in hot.splitlines()]
    # a segment's keys are reordered; it keeps the stored timestamps, export writes them with T
    assert [
        {**row, "timestamp": output_timestamp(row["timestamp"])}
        for row in sorted(archived, key=itemgetter("id"))
    ] == hot_rows
    assert all(" " in row["timestamp"] for row in archived)


@pytest.mark.slow
# PostgreSQL's text columns refuse such values when they are written.
@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("CAST(X'41FF42' AS TEXT)", "holds text that is not valid UTF-8"),
        ("X'00FF'", "holds a BLOB (binary value)"),
    ],
)
def test_a_value_json_cannot_hold_stops_export_and_cleanup_naming_it(
    demo_dir: Path, value: str, problem: str
) -> None:
    """Another program's BLOB or invalid UTF-8 would reach the file as is (or as
    b'...' in CSV): each command refuses it in one line, writes no file, moves
    no row; check lists it."""
    from tests.conftest import run_aimem

    db = demo_dir / "ai_memory.db"
    sql(db, f"UPDATE fix_history SET description = {value} WHERE id = 3")
    rows = sql(db, "SELECT count(*) FROM fix_history")[0]
    expected = f"fix_history row 3, column description: {problem}"
    for fmt in ("ndjson", "json", "csv"):
        target = demo_dir.parent / f"out.{fmt}"
        done = run_aimem("export", "--format", fmt, str(target))
        assert done.returncode == 1, done.stderr
        assert (
            done.stderr.decode().splitlines()[0]
            == f"aimem: error: {expected}; it cannot be written as JSON or CSV"
        )
        assert not target.exists()
    done = run_aimem("cleanup", "0")
    assert done.returncode == 1 and expected.encode() in done.stderr, done.stderr
    assert sql(db, "SELECT count(*) FROM fix_history")[0] == rows
    assert sql(db, "SELECT count(*) FROM aimem_segments")[0] == (0,)
    assert not [p for p in (demo_dir / "archive").glob("*") if p.is_file()]
    done = run_aimem("check", "--json")
    assert done.returncode == 1
    finding, skipped = orjson.loads(done.stdout)["findings"]
    assert (finding["kind"], finding["subject"]) == ("unwritable-value", "fix_history/3")
    # the recomputation would read that row: said, not attempted
    assert (skipped["kind"], skipped["severity"]) == ("aggregates-skipped", "hint")
    repaired = run_aimem("check", "--repair", "--yes")  # rebuilds nothing from those rows
    assert repaired.returncode == 1
    assert b"rebuilt the aggregates" not in repaired.stdout + repaired.stderr
    assert finding["detail"].startswith(f"column description {problem}")
    assert run_aimem("check", "--quick").returncode == 0  # the value scan is the full check's
    for fmt in ("csv", "json"):  # listing commands too: one line, no b'...' in CSV
        done = run_aimem("recent", "3650", "--format", fmt)
        assert done.returncode == 1, done.stdout[-300:]
        assert done.stderr.decode().startswith("aimem: error: "), done.stderr
        assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr


@pytest.mark.sqlite_only
def test_check_lists_twenty_rows_and_counts_the_rest(demo_dir: Path) -> None:
    # two bad cells in each of 25 rows: counted by row
    sql(
        demo_dir / "ai_memory.db",
        "UPDATE fix_history SET description = X'01', notes = X'02' WHERE id <= 25",
    )
    with AIMemory(demo_dir) as memory:
        report = memory.check()
    found = [f for f in report.findings if f.kind == "unwritable-value"]
    assert [f.subject for f in found[:20]] == [f"fix_history/{n}" for n in range(1, 21)]
    assert [(f.subject, f.detail) for f in found[20:]] == [
        ("fix_history", "5 more rows like these")
    ]
    assert not report.ok


@pytest.mark.sqlite_only
def test_a_blob_holding_json_in_a_json_column_exports_as_its_value(demo_dir: Path) -> None:
    """Another writer's bytes of JSON text (sqlite3 stores Python bytes as a BLOB):
    exported as the JSON value, as it always was, and not reported."""
    db = demo_dir / "ai_memory.db"
    sql(db, "UPDATE fix_history SET fix_commands = CAST(fix_commands AS BLOB) WHERE id = 3")
    stored = sql(db, "SELECT fix_commands FROM fix_history WHERE id = 3")[0][0]
    assert isinstance(stored, bytes)
    with AIMemory(demo_dir) as memory:
        for fmt in ("ndjson", "json", "csv"):
            sink = io.BytesIO()
            memory.export_records(sink, fmt)
            assert sink.getvalue() == _per_row(memory, fmt), fmt
        row = next(r for r in memory.store.iter_rows() if r["id"] == 3)
        assert row["fix_commands"] == orjson.loads(stored)
        assert memory.check().ok


@pytest.fixture(scope="module")
def demo_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aimem.ops.setup import init_repository

    root = tmp_path_factory.mktemp("demo-once") / "AIMemory"
    init_repository(directory=root, demo=True)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("column", [c for c in EXPORT_COLUMNS if c != "id"])
@pytest.mark.parametrize("value", ["CAST(X'41FF42' AS TEXT)", "X'01'"], ids=["not-utf8", "blob"])
def test_every_column_with_a_value_json_cannot_hold(
    demo_once: Path, tmp_path: Path, column: str, value: str
) -> None:
    """Check lists the row without failing; export and cleanup refuse it by row
    and column, or (a flag's BLOB is written as bool(), as ever) take it."""
    import shutil

    from aimem.errors import UnwritableValueError

    root = tmp_path / "AIMemory"
    shutil.copytree(demo_once, root)
    db = root / "ai_memory.db"
    sql(db, f"UPDATE fix_history SET {column} = {value} WHERE id = 3")
    value_of_row_3 = f"SELECT CAST({column} AS BLOB) FROM fix_history WHERE id = 3"
    stored = sql(db, value_of_row_3)[0]
    rows = sql(db, "SELECT count(*) FROM fix_history")[0][0]
    writable = column in ("fix_success", "verification_success") and value == "X'01'"
    problem = "a BLOB (binary value)" if value == "X'01'" else "text that is not valid UTF-8"
    named = f"fix_history row 3, column {column}: holds {problem}"
    with AIMemory(root) as memory:
        findings = [f for f in memory.check().findings if f.kind == "unwritable-value"]
        if writable:
            assert findings == []
        else:
            assert [(f.subject, f.detail.split(":")[0]) for f in findings] == [
                ("fix_history/3", f"column {column} holds {problem}")
            ]
        for fmt in ("ndjson", "csv"):
            if writable:
                memory.export_records(io.BytesIO(), fmt)
                continue
            with pytest.raises(UnwritableValueError) as refused:
                memory.export_records(io.BytesIO(), fmt)
            assert refused.value.message.startswith(named), (fmt, refused.value.message)
        try:
            memory.cleanup(0)
        except UnwritableValueError as refused:
            assert not writable
            assert str(refused).startswith(named), str(refused)
            moved = False
        else:
            moved = True
    left = next(iter(sql(db, value_of_row_3)), None)
    total = sql(db, "SELECT count(*) FROM fix_history")[0][0]
    if not moved:  # refused: nothing moved
        assert (left, total) == (stored, rows)
    elif writable:  # archived with the rest
        assert (left, total) == (None, 0)
    else:  # SQLite sorts a BLOB or 'A...' after every date: not older than the cutoff
        assert column == "timestamp" and (left, total) == (stored, 1)
