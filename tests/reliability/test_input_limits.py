"""Input bounds for ``import`` and ``record --input``: line length and nesting depth.

Every refusal is one line naming FILE:LINE, exit 1, and leaves the repository
byte for byte as it was. The limits are shrunk here (a few KiB) so that the
tests stay small; endless inputs prove that nothing is read whole: a reader
that waited for the end of a line would never return.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

import aimem.input_limits as limits
from aimem import AIMemory, InvalidInputError
from aimem.cli.app import app
from tests.reliability.input_helpers import export_rows, ndjson, snapshot

LINE = 4096


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_LINE_BYTES", LINE)
    monkeypatch.setattr(limits, "CHUNK", 512)  # elements and strings cross chunk ends


@pytest.fixture
def repo(repo_dir: Path) -> Path:
    with AIMemory(repo_dir) as memory:
        memory.import_records(io.BytesIO(ndjson(export_rows(5, seed=2))), "ndjson")
    return repo_dir


def _refused(args: list[str], repo: Path, where: str, *, input: bytes | None = None) -> str:
    before = snapshot(repo)
    result = CliRunner().invoke(app, args, input=input)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"aimem: error: {where}: "), lines[0]
    assert snapshot(repo) == before
    return lines[0]


def _nested(depth: int) -> Any:
    """Objects nested ``depth`` levels deep."""
    value: Any = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def _long_row(size: int) -> dict[str, Any]:
    row = export_rows(1, seed=9)[0]
    row["claude_analysis"] = "z" * size
    return row


# ---- line length -----------------------------------------------------------


def test_ndjson_line_over_the_limit(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "rows.ndjson"
    source.write_bytes(ndjson([*export_rows(2, seed=3), _long_row(LINE)]))
    message = _refused(["import", str(source)], repo, f"{source}:3")
    assert f"longer than {LINE} bytes" in message


def test_a_line_just_within_the_limit_is_read(repo: Path, tmp_path: Path) -> None:
    row = _long_row(0)
    room = LINE - len(orjson.dumps(row)) - 1  # the newline counts
    row["claude_analysis"] = "z" * room
    source = tmp_path / "rows.ndjson"
    source.write_bytes(ndjson([row]))
    result = CliRunner().invoke(app, ["import", str(source), "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["added"] == 1


def test_json_array_element_over_the_limit(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "rows.json"
    source.write_bytes(orjson.dumps([*export_rows(2, seed=3), _long_row(LINE)]))  # one line
    message = _refused(["import", str(source)], repo, f"{source}:1")
    assert f"longer than {LINE} bytes" in message


def test_json_array_on_one_line_is_streamed_and_imported(repo: Path, tmp_path: Path) -> None:
    rows = export_rows(300, seed=4)
    one_line = tmp_path / "rows.json"
    one_line.write_bytes(orjson.dumps(rows))
    assert len(one_line.read_bytes()) > 20 * LINE  # far more than one line's limit
    pretty = tmp_path / "pretty.json"
    pretty.write_bytes(orjson.dumps(rows[:50], option=orjson.OPT_INDENT_2))
    result = CliRunner().invoke(app, ["import", str(one_line), "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["added"] == 300
    again = CliRunner().invoke(app, ["import", str(pretty), "--json"])
    assert orjson.loads(again.stdout) == {
        "source": str(pretty),
        "format": "json",
        "records": 50,
        "added": 0,
        "already_present": 50,
        "dry_run": False,
    }
    with AIMemory(repo, create=False) as memory:
        stored = {r["uid"]: r for r in memory.iter_export_rows()}
    for row in rows:
        assert stored[row["uid"]]["claude_analysis"] == row["claude_analysis"]


def test_csv_record_over_the_limit(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    rows = export_rows(3, seed=5)
    rows[2]["notes"] = "line\n" * (LINE // 4)  # one quoted cell over many short lines
    with source.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow(
                [
                    orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v
                    for v in row.values()
                ]
            )
    message = _refused(["import", str(source)], repo, f"{source}:4")  # where it starts
    assert f"longer than {LINE} bytes" in message


def test_record_json_line_over_the_limit(repo: Path) -> None:
    item = {
        "issue_data": {"model": "m:1", "issue_type": "ERROR", "description": "d" * LINE},
        "fix_success": False,
        "verification_success": False,
    }
    small = dict(item, issue_data=dict(item["issue_data"], description="ok"))
    data = orjson.dumps(small) + b"\n" + orjson.dumps(item) + b"\n"
    message = _refused(["record", "--input", "-"], repo, "<stdin>:2", input=data)
    assert f"longer than {LINE} bytes" in message


class Endless(io.RawIOBase):
    """A stream that never ends: ``head`` then ``fill`` forever."""

    def __init__(self, head: bytes, fill: bytes) -> None:
        self.pending = head
        self.fill = fill
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self.pending) < len(buffer):
            self.pending += self.fill * 64
        size = len(buffer)
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.served += size
        assert self.served < 200 * LINE, "read far past the limit"
        return size


@pytest.mark.parametrize(
    ("fmt", "head", "fill"),
    [
        ("ndjson", b'{"description": "', b"x"),
        ("json", b'[{"description": "', b"x"),
        ("json", b"[" + orjson.dumps(export_rows(1, seed=1)[0]) + b', "', b"x"),
        ("csv", b"description\n", b"x"),
        ("csv", b'description\n"', b"x\n"),
    ],
)
def test_an_endless_line_is_refused_without_reading_it_whole(
    repo: Path, fmt: str, head: bytes, fill: bytes
) -> None:
    before = snapshot(repo)
    stream = Endless(head, fill)
    with AIMemory(repo, create=False) as memory, pytest.raises(InvalidInputError) as refused:
        memory.import_records(stream, fmt)
    assert f"longer than {LINE} bytes" in str(refused.value)
    assert str(refused.value).startswith("<stream>:")
    assert snapshot(repo) == before


# ---- nesting depth ------------------------------------------------------------


def _deep_json(depth: int) -> bytes:
    """Objects nested ``depth`` levels deep as JSON text (orjson writes at most 254)."""
    return b'{"k": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def _deep_row(depth: int) -> bytes:
    """An export row whose system_info makes it ``depth`` levels deep in all."""
    row = export_rows(1, seed=8)[0]
    row["system_info"] = "DEEP"
    return orjson.dumps(row).replace(b'"DEEP"', _deep_json(depth - 1))


@pytest.mark.parametrize("depth", [limits.MAX_DEPTH + 1, 900, 5000])
def test_deep_nesting_in_system_info_is_refused_per_format(
    repo: Path, tmp_path: Path, depth: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_LINE_BYTES", 1 << 20)  # depth, not length, is tested
    good, deep = orjson.dumps(export_rows(1, seed=7)[0]), _deep_row(depth)
    cases = {
        "rows.ndjson": good + b"\n" + deep + b"\n",
        "rows.json": b"[" + good + b"," + deep + b"]",
        "pretty.json": b"[\n" + good + b",\n" + deep + b"\n]\n",
    }
    for name, data in cases.items():
        source = tmp_path / name
        source.write_bytes(data)
        line = 1 if name == "rows.json" else 2 if name == "rows.ndjson" else 3
        message = _refused(["import", str(source)], repo, f"{source}:{line}")
        # orjson refuses past 1024 levels itself; either way one line, nothing stored
        assert f"nested deeper than {limits.MAX_DEPTH} levels" in message or (
            depth > 1024 and "invalid JSON" in message
        )


def test_deep_nesting_in_a_csv_cell(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    cell = _deep_json(100).decode().replace('"', '""')
    source.write_text(f'description,system_info\n"x","{cell}"\n')
    message = _refused(["import", str(source)], repo, f"{source}:2")
    assert f"nested deeper than {limits.MAX_DEPTH} levels" in message


def test_nesting_at_the_limit_is_accepted(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "rows.ndjson"
    source.write_bytes(_deep_row(limits.MAX_DEPTH) + b"\n")
    result = CliRunner().invoke(app, ["import", str(source), "--json"])
    assert result.exit_code == 0, result.output


def test_record_json_deep_system_info(repo: Path) -> None:
    item = {
        "issue_data": {
            "model": "m:1",
            "issue_type": "ERROR",
            "description": "x",
            "system_info": "DEEP",
        },
        "fix_success": False,
        "verification_success": False,
    }
    data = orjson.dumps(item).replace(b'"DEEP"', _deep_json(500))
    message = _refused(["record", "--input", "-"], repo, "<stdin>:1", input=data)
    assert "nested deeper than" in message


def test_api_deep_system_info_is_a_clean_refusal(repo: Path) -> None:
    # Deeper than Python's recursion limit: redaction used to raise RecursionError.
    before = snapshot(repo)
    with AIMemory(repo, create=False) as memory, pytest.raises(InvalidInputError) as refused:
        memory.record_fix_attempt(
            {
                "model": "m:1",
                "issue_type": "ERROR",
                "description": "x",
                "system_info": _nested(5000),
            },
            {},
            False,
            False,
            None,
        )
    assert str(refused.value) == (
        f"issue_data.system_info: is nested deeper than {limits.MAX_DEPTH} levels"
    )
    assert snapshot(repo) == before


def test_kb_import_deep_nesting_is_a_clean_refusal(repo: Path, tmp_path: Path) -> None:
    # Merging used to fail with an internal error (orjson writes at most 254 levels).
    source = tmp_path / "kb.json"
    source.write_bytes(b'{"a": ' * 300 + b"1" + b"}" * 300)
    message = _refused(["kb", "import", str(source)], repo, str(source))
    assert message.endswith(f"is nested deeper than {limits.MAX_DEPTH} levels")
