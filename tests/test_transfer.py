"""Export and import through the public API: round trips, idempotence, legacy databases,
all-or-nothing rejection, dry runs."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimem import AIMemory, InvalidInputError
from aimem.ops.setup import init_repository
from aimem.records import EXPORT_COLUMNS, STANDARD_ISSUE_TYPES
from aimem.timeutil import output_timestamp
from tests.conftest import issue, make_repository, response, sql
from tests.transfer_helpers import DESIGN_SQL, db_digest, learned_state, rows_without_id


@pytest.fixture
def demo(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Path:
    return make_repository(request, backend, tmp_path / "A", demo=True)


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_round_trip_gives_same_rows_and_learning(demo: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"history.{fmt}"
    with AIMemory(demo) as source:
        summary = source.export_records(out, fmt)
        assert summary == {"file": str(out), "format": fmt, "records": 480}
        expected_rows = rows_without_id(source)
        expected_state = learned_state(source)
    with AIMemory(tmp_path / "B") as target:
        result = target.import_records(out)
        assert result == {
            "source": str(out),
            "format": fmt,
            "records": 480,
            "added": 480,
            "already_present": 0,
            "dry_run": False,
        }
        assert rows_without_id(target) == _as_csv_reads(expected_rows, fmt)
        assert learned_state(target) == expected_state


def _as_csv_reads(rows: list[dict[str, Any]], fmt: str) -> list[dict[str, Any]]:
    """CSV cannot tell an empty cell from no value: empty notes/fixer_model read back as null."""
    if fmt != "csv":
        return rows
    return [
        {k: (None if k in ("notes", "fixer_model") and v == "" else v) for k, v in row.items()}
        for row in rows
    ]


def test_export_formats_by_suffix_and_report(demo: Path, tmp_path: Path) -> None:
    with AIMemory(demo) as memory:
        assert memory.export_records(tmp_path / "r.json")["format"] == "report"
        assert memory.export_records(tmp_path / "r.csv")["format"] == "csv"
        assert memory.export_records(tmp_path / "r.txt")["format"] == "ndjson"
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert {"statistics", "model_insights", "knowledge_base", "historical_trends"} <= set(report)
    header = (tmp_path / "r.csv").read_text().splitlines()[0]
    assert header.split(",") == list(EXPORT_COLUMNS)
    first = orjson.loads((tmp_path / "r.txt").read_bytes().splitlines()[0])
    assert list(first) == list(EXPORT_COLUMNS)
    assert (tmp_path / "r.txt").stat().st_mode & 0o777 == 0o600
    # A report holds no records: importing it says so.
    with AIMemory(tmp_path / "B") as target, pytest.raises(InvalidInputError, match="report"):
        target.import_records(tmp_path / "r.json")


def test_export_since_and_stream(demo: Path, tmp_path: Path) -> None:
    with AIMemory(demo) as memory:
        rows = list(memory.store.iter_rows())
        cut = sorted(r["timestamp"] for r in rows)[400]
        sink = io.BytesIO()
        summary = memory.export_records(sink, "ndjson", since=cut)
        lines = sink.getvalue().splitlines()
        assert summary["records"] == len(lines) == sum(r["timestamp"] >= cut for r in rows)
        assert all(orjson.loads(line)["timestamp"] >= cut for line in lines)
        with pytest.raises(InvalidInputError, match="since"):
            memory.export_records(tmp_path / "x.ndjson", since="last tuesday")
        assert not (tmp_path / "x.ndjson").exists()
        assert memory.export_records(io.BytesIO(), "ndjson", since="3650d")["records"] == 480


def test_double_and_overlapping_imports_add_each_record_once(tmp_path: Path) -> None:
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with AIMemory(tmp_path / "A") as source:
        for n in range(30):
            source.record_fix_attempt(
                issue(description=f"timeout {n % 4}"),
                response(f"fix {n % 3}"),
                n % 2 == 0,
                n % 3 != 0,
                float(n),
                timestamp=(start + timedelta(hours=n)).isoformat(),
            )
        source.export_records(tmp_path / "first.ndjson")
        for n in range(30, 50):
            source.record_fix_attempt(
                issue(model="llama3:8b", issue_type="ERROR", description=f"error {n % 5}"),
                response(f"fix {n % 2}"),
                True,
                n % 4 != 0,
                1.5,
                timestamp=(start + timedelta(hours=n)).isoformat(),
            )
        source.export_records(tmp_path / "all.json", "json")
        expected_rows = rows_without_id(source)
        expected_state = learned_state(source)
    with AIMemory(tmp_path / "B") as target:
        schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
        before = target.store.conn.execute(schema).fetchall()
        assert target.import_records(tmp_path / "first.ndjson")["added"] == 30
        # The bulk path drops and re-creates the FTS trigger: the schema is unchanged.
        assert target.store.conn.execute(schema).fetchall() == before
        again = target.import_records(tmp_path / "first.ndjson")
        assert (again["added"], again["already_present"]) == (0, 30)
        overlap = target.import_records(tmp_path / "all.json")
        assert (overlap["added"], overlap["already_present"]) == (20, 30)
        assert rows_without_id(target) == expected_rows
        # Aggregates, search index and knowledge base: as if recorded one by one.
        assert learned_state(target) == expected_state


def test_repeated_uid_within_one_file_counts_once(demo: Path, tmp_path: Path) -> None:
    with AIMemory(demo) as memory:
        memory.export_records(tmp_path / "h.ndjson")
    data = (tmp_path / "h.ndjson").read_bytes()
    (tmp_path / "twice.ndjson").write_bytes(data + data)
    with AIMemory(tmp_path / "B") as target:
        summary = target.import_records(tmp_path / "twice.ndjson")
    assert (summary["records"], summary["added"], summary["already_present"]) == (960, 480, 480)


def _legacy_db(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    conn.executescript(DESIGN_SQL)
    base = datetime(2025, 1, 15, 9, 30)
    rows = []
    for n in range(12):
        rows.append(
            (
                (base + timedelta(minutes=7 * n)).isoformat(),  # naive local time
                "qwen2.5:7b" if n % 2 else "llama3.1:8b",
                "TIMEOUT" if n % 3 else "MODEL_NOT_AVAILABLE",
                f"{n % 4:016x}",
                f"Model response timeout after {30 + n % 3} seconds",
                "claude" if n % 2 else "qwen",
                "Model needs more time due to complex prompt",
                orjson.dumps([f"# Increase timeout to {60 + n % 2} seconds"]).decode(),
                n % 2 == 0,
                n % 4 != 1,
                45.2 + n,
                '{"os": "Linux", "ram_gb": 16}',
                None if n % 3 else "Timeout increased successfully",
            )
        )
    rows.append(rows[0])  # a byte-identical duplicate: a second, distinct record
    conn.executemany(
        "INSERT INTO fix_history(timestamp, model_name, issue_type, issue_signature, description,"
        " fixer_type, claude_analysis, fix_commands, fix_success, verification_success,"
        " execution_time_seconds, system_info, notes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.commit()
    conn.close()
    return rows


def test_legacy_database_import_agrees_with_in_place_migration(tmp_path: Path) -> None:
    legacy = tmp_path / "old" / "ai_memory.db"
    legacy.parent.mkdir()
    _legacy_db(legacy)
    before = legacy.read_bytes()
    with AIMemory(tmp_path / "B") as imported:
        summary = imported.import_records(legacy)
        assert summary["format"] == "sqlite"
        assert (summary["records"], summary["added"]) == (13, 13)
        imported_rows = rows_without_id(imported)
        stamps = sorted(r["timestamp"] for r in imported_rows)
        expected_first = (
            datetime(2025, 1, 15, 9, 30).astimezone().astimezone(timezone.utc).replace(tzinfo=None)
        )
        assert stamps[0] == expected_first.strftime("%Y-%m-%d %H:%M:%S.%fZ")
        assert imported.import_records(legacy)["added"] == 0
    assert legacy.read_bytes() == before  # opened read-only, never migrated
    # The same database migrated in place derives the same uids (m004).
    migrated_root = tmp_path / "C"
    migrated_root.mkdir()
    shutil.copy(legacy, migrated_root / "ai_memory.db")
    with AIMemory(migrated_root) as migrated:
        assert rows_without_id(migrated) == imported_rows
        assert migrated.import_records(legacy)["added"] == 0


@pytest.mark.sqlite_only  # imports the source repository's database file
def test_aimem_database_import(demo: Path, tmp_path: Path) -> None:
    with AIMemory(tmp_path / "B") as target:
        summary = target.import_records(demo / "ai_memory.db", "sqlite")
        assert (summary["records"], summary["added"]) == (480, 480)
        with AIMemory(demo) as source:
            assert rows_without_id(target) == rows_without_id(source)


def _good_lines(demo: Path, tmp_path: Path, count: int = 5) -> list[bytes]:
    with AIMemory(demo) as memory:
        memory.export_records(tmp_path / "h.ndjson")
    return (tmp_path / "h.ndjson").read_bytes().splitlines()[:count]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        (b'{"uid": ', "invalid JSON"),
        (b"[1, 2]", "a record must be a JSON object"),
        (None, "fix_success: must be true or false"),
        (b'{"unknown_column": 1}', "unknown_column: is not a column"),
    ],
)
def test_malformed_line_rejects_whole_file_unchanged(
    demo: Path, tmp_path: Path, bad_line: bytes | None, message: str
) -> None:
    lines = _good_lines(demo, tmp_path)
    if bad_line is None:
        row = orjson.loads(lines[2])
        row["fix_success"] = "yes"
        row["uid"] = "f" * 32
        bad_line = orjson.dumps(row)
    lines.insert(3, bad_line)  # line 4
    source = tmp_path / "bad.ndjson"
    source.write_bytes(b"\n".join(lines) + b"\n")
    target = tmp_path / "B"
    init_repository(directory=target, demo=True)
    before = db_digest(target / "ai_memory.db")
    with AIMemory(target) as memory, pytest.raises(InvalidInputError) as caught:
        memory.import_records(source)
    assert str(caught.value).startswith(f"{source}:4: ")
    assert message in str(caught.value)
    assert db_digest(target / "ai_memory.db") == before


def test_csv_wrong_type_names_line(demo: Path, tmp_path: Path) -> None:
    with AIMemory(demo) as memory:
        memory.export_records(tmp_path / "h.csv")
    with (tmp_path / "h.csv").open(newline="") as handle:
        table = list(csv.reader(handle))
    table[3][EXPORT_COLUMNS.index("fix_success")] = "maybe"  # the third record: line 4
    with (tmp_path / "bad.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(table)
    with AIMemory(tmp_path / "B") as target:
        with pytest.raises(InvalidInputError, match=r"bad\.csv:4: fix_success: must be true"):
            target.import_records(tmp_path / "bad.csv")
        assert target.store.count_rows() == 0


def test_dry_run_reports_and_changes_nothing(demo: Path, tmp_path: Path) -> None:
    lines = _good_lines(demo, tmp_path, 480)
    (tmp_path / "part.ndjson").write_bytes(b"\n".join(lines[:100]) + b"\n")
    (tmp_path / "all.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    target = tmp_path / "B"
    with AIMemory(target) as memory:
        memory.import_records(tmp_path / "part.ndjson")
    before = db_digest(target / "ai_memory.db")
    with AIMemory(target) as memory:
        dry = memory.import_records(tmp_path / "all.ndjson", dry_run=True)
        assert (dry["added"], dry["already_present"], dry["dry_run"]) == (380, 100, True)
    assert db_digest(target / "ai_memory.db") == before
    with AIMemory(target) as memory:
        real = memory.import_records(tmp_path / "all.ndjson")
        assert (real["added"], real["already_present"]) == (380, 100)


def test_import_from_a_stream(demo: Path, tmp_path: Path) -> None:
    lines = _good_lines(demo, tmp_path, 10)
    with AIMemory(tmp_path / "B") as memory:
        summary = memory.import_records(io.BytesIO(b"\n".join(lines)))
        assert (summary["format"], summary["added"]) == ("ndjson", 10)


def test_knowledge_base_import_merges_design_style_file(tmp_path: Path) -> None:
    external = {"issue_types": {"TIMEOUT": {"notes": ["raise the timeout first"]}}, "tips": [1]}
    (tmp_path / "kb.json").write_bytes(orjson.dumps(external))
    (tmp_path / "more.json").write_bytes(orjson.dumps({"tips": [2], "owner": "ci"}))
    with AIMemory(tmp_path / "B") as memory:
        memory.import_knowledge_base(tmp_path / "kb.json")
        memory.import_knowledge_base(tmp_path / "kb.json")  # idempotent
        memory.import_knowledge_base(tmp_path / "more.json")
        imported = memory.knowledge_base["imported"]
        assert imported == {
            "issue_types": {"TIMEOUT": {"notes": ["raise the timeout first"]}},
            "tips": [2],
            "owner": "ci",
        }
        (tmp_path / "broken.json").write_text('{"a":\n  oops}')
        with pytest.raises(InvalidInputError, match=r"broken\.json:2: invalid JSON"):
            memory.import_knowledge_base(tmp_path / "broken.json")


# ---- property: export then import is the identity ---------------------------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
_ATTEMPT = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["qwen2.5:7b", "llama3.1:8b", "claude-3-5", "m:x"]),
        "issue_type": st.sampled_from(STANDARD_ISSUE_TYPES),
        "description": _TEXT.filter(lambda s: s.strip() != ""),
        "analysis": _TEXT,
        "commands": st.lists(_TEXT, max_size=3),
        "fixed": st.booleans(),
        "verified": st.booleans(),
        "seconds": st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
        "notes": st.none() | _TEXT.filter(lambda s: s != ""),
        "fixer": st.sampled_from(["claude", "qwen", "gpt"]),
        "system_info": st.dictionaries(
            st.text(max_size=5),
            st.integers(-(2**63), 2**63 - 1)
            | st.floats(allow_nan=False, allow_infinity=False)
            | _TEXT,
            max_size=2,
        ),
        "minutes": st.integers(min_value=0, max_value=10**6),
        "tokens": st.none() | st.integers(min_value=0, max_value=10**9),
    }
)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=st.lists(_ATTEMPT, min_size=1, max_size=8),
    fmt=st.sampled_from(["ndjson", "json", "csv"]),
)
def test_export_then_import_is_identity(
    tmp_path_factory: pytest.TempPathFactory, history: list[dict[str, Any]], fmt: str
) -> None:
    work = tmp_path_factory.mktemp("prop")
    start = datetime(2024, 6, 1, tzinfo=timezone.utc)
    with AIMemory(work / "A", redact_secrets=False) as source:
        for item in history:
            info = item["system_info"] or {"os": "Linux"}
            source.record_fix_attempt(
                {
                    "model": item["model"],
                    "issue_type": item["issue_type"],
                    "description": item["description"],
                    "system_info": info,
                },
                {
                    "analysis": item["analysis"],
                    "fix_commands": item["commands"],
                    "tokens_in": item["tokens"],
                },
                item["fixed"],
                item["verified"],
                item["seconds"],
                item["notes"],
                item["fixer"],
                timestamp=(start + timedelta(minutes=item["minutes"])).isoformat(),
            )
        source.export_records(work / f"out.{fmt}", fmt)
        expected_rows = rows_without_id(source)
        expected_state = learned_state(source)
    with AIMemory(work / "B", redact_secrets=False) as target:
        assert target.import_records(work / f"out.{fmt}")["added"] == len(history)
        assert rows_without_id(target) == expected_rows
        assert learned_state(target) == expected_state


def test_sql_built_lines_equal_the_export_rows(demo: Path) -> None:
    with AIMemory(demo) as memory:
        sink = io.BytesIO()
        memory.export_records(sink, "ndjson")
        lines = sink.getvalue().splitlines()
        rows = list(memory.store.iter_rows())
    parsed = [orjson.loads(line) for line in lines]
    # export writes the stored timestamps with ISO 8601's T
    assert parsed == [{**row, "timestamp": output_timestamp(row["timestamp"])} for row in rows]
    assert all(
        "T" in p["timestamp"] and " " in r["timestamp"] for p, r in zip(parsed, rows, strict=True)
    )
    assert all(list(p) == list(EXPORT_COLUMNS) for p in parsed)


def test_export_of_legacy_rows_with_non_json_text(tmp_path: Path) -> None:
    root = tmp_path / "L"
    root.mkdir()
    _legacy_db(root / "ai_memory.db")
    sql(root / "ai_memory.db", "UPDATE fix_history SET fix_commands = 'ollama pull x' WHERE id = 1")
    with AIMemory(root) as memory:
        sink = io.BytesIO()
        assert memory.export_records(sink, "ndjson")["records"] == 13
    first = orjson.loads(sink.getvalue().splitlines()[0])
    assert first["fix_commands"] == "ollama pull x"  # kept as the legacy text, valid JSON


def test_export_into_a_missing_folder_is_a_clean_error(demo_dir: Path, tmp_path: Path) -> None:
    from tests.conftest import run_aimem

    target = tmp_path / "no" / "such" / "x.ndjson"
    done = run_aimem("--dir", str(demo_dir), "export", str(target))
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        f"aimem: error: {target}: cannot write: No such file or directory"
    ]
    assert not (tmp_path / "no").exists()


@given(st.floats(min_value=1e-4, max_value=1e16, exclude_max=True) | st.floats(-1e16, -1e-4))
def test_orjson_prints_reals_in_export_range_as_repr(value: float) -> None:
    # the export writes these REALs through orjson and every other one as repr
    # (aimem.records.export_form): both must be Python's repr
    assert orjson.dumps(value) == repr(value).encode()


@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_plain_and_sql_built_exports_agree_on_odd_reals(tmp_path: Path, fmt: str) -> None:
    values = [4e-05, 1e16, 2.5e17, -3e-7, 0.0, -0.0, 0.1 + 0.2, 1234.5]
    with AIMemory(tmp_path / "R") as memory:
        for n, value in enumerate(values):
            memory.record_fix_attempt(
                issue(description=f"odd real {n}"), response(), True, True, 1.0
            )
            memory.store.conn.execute(
                "UPDATE fix_history SET execution_time_seconds = ?, cost_usd = ? WHERE id = ?",
                (value, value, n + 1),
            )
        sql_built, plain = io.BytesIO(), io.BytesIO()
        memory.export_records(sql_built, fmt)
        memory.export_records(plain, fmt, include_archive=True)
    assert sql_built.getvalue() == plain.getvalue()
    text = sql_built.getvalue().decode()
    # SQLite stores -0.0 as 0.0
    assert all(f'"cost_usd":{value or 0.0!r}' in text for value in values)
