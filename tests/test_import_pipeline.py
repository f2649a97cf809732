"""Import through the spool and the merge: with many windows, overlaps and repeats,
the table's indexes kept row by row or built at the end; errors roll back."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

import aimem.ops.import_pipeline as pipeline
from aimem import AIMemory, InvalidInputError
from aimem.ops.setup import init_repository
from tests.oracle import assert_aggregates_match
from tests.transfer_helpers import db_digest, learned_state, rows_without_id


@pytest.fixture
def demo_lines(tmp_path: Path) -> list[bytes]:
    root = tmp_path / "A"
    init_repository(directory=root, demo=True)
    with AIMemory(root) as memory:
        memory.export_records(tmp_path / "all.ndjson")
    return (tmp_path / "all.ndjson").read_bytes().splitlines()


@pytest.fixture
def mode(monkeypatch: pytest.MonkeyPatch) -> str:
    # Small batches and windows, so that a few hundred rows cross many of both.
    monkeypatch.setattr(pipeline, "BATCH", 7)
    monkeypatch.setattr(pipeline, "WINDOW", 30)
    return "small-windows"


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.slow
def test_overlaps_and_repeats_across_windows_count_once(
    demo_lines: list[bytes], tmp_path: Path, mode: str
) -> None:
    rng = random.Random(7)
    first = demo_lines[:150]
    # Stored rows and rows repeated inside the file, scattered over the windows.
    mixed = demo_lines[100:] + rng.sample(demo_lines[:150], 40) + rng.sample(demo_lines[300:], 25)
    rng.shuffle(mixed)
    target = tmp_path / "B"
    with AIMemory(target) as memory:
        assert memory.import_records(_write(tmp_path / "first.ndjson", first))["added"] == 150
        summary = memory.import_records(_write(tmp_path / "mixed.ndjson", mixed))
        assert (summary["records"], summary["added"]) == (len(mixed), len(demo_lines) - 150)
        imported = learned_state(memory)
        imported_rows = rows_without_id(memory)
    assert_aggregates_match(target / "ai_memory.db")
    with AIMemory(target) as memory:
        report = memory.check()
        assert report.ok, [f.to_dict() for f in report.findings]
        schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        with AIMemory(tmp_path / "A") as source:
            assert memory.store.conn.execute(schema).fetchall() == (
                source.store.conn.execute(schema).fetchall()
            )
    with AIMemory(tmp_path / "A") as source:
        assert imported_rows == rows_without_id(source)
        expected = learned_state(source)
    # Shuffled rows sum execution times in another order (float rounding) and
    # get other local ids (search ties): those are compared loosely.
    loose = ("aimem_totals", "aimem_daily", "stats", "search")
    assert {k: v for k, v in imported.items() if k not in loose} == {
        k: v for k, v in expected.items() if k not in loose
    }
    assert sorted(imported["search"]) == sorted(expected["search"])
    assert imported["stats"]["total_fixes_attempted"] == expected["stats"]["total_fixes_attempted"]


def test_dry_run_counts_across_windows(demo_lines: list[bytes], tmp_path: Path, mode: str) -> None:
    target = tmp_path / "B"
    with AIMemory(target) as memory:
        memory.import_records(_write(tmp_path / "part.ndjson", demo_lines[::3]))
    before = db_digest(target / "ai_memory.db")
    with AIMemory(target) as memory:
        dry = memory.import_records(_write(tmp_path / "all.ndjson", demo_lines), dry_run=True)
    part = len(demo_lines[::3])
    assert (dry["added"], dry["already_present"]) == (len(demo_lines) - part, part)
    assert db_digest(target / "ai_memory.db") == before


def test_bad_row_late_in_the_file_rolls_everything_back(
    demo_lines: list[bytes], tmp_path: Path, mode: str
) -> None:
    lines = list(demo_lines)
    row = orjson.loads(lines[400])
    row["execution_time_seconds"] = "slow"
    lines[400] = orjson.dumps(row)
    source = _write(tmp_path / "bad.ndjson", lines)
    target = tmp_path / "B"
    with AIMemory(target) as memory:
        memory.import_records(_write(tmp_path / "part.ndjson", demo_lines[:50]))
    before = db_digest(target / "ai_memory.db")
    with AIMemory(target) as memory, pytest.raises(InvalidInputError) as caught:
        memory.import_records(source)
    assert str(caught.value) == (
        f"{source}:401: execution_time_seconds: must be a number, not a string"
    )
    assert db_digest(target / "ai_memory.db") == before
