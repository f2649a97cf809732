"""Every listing command's CSV: one fixed header, on an empty and on a full repository,
holding every key of the command's JSON rows; booleans true/false; CRLF rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from tests.cli.conftest import invoke, ok

SIMILAR = ["similar", "-m", "qwen2.5:7b", "-t", "TIMEOUT"]
# Every command that takes --format csv (export has its own test below).
LISTINGS = [
    ["models"],
    ["recent", "36500"],
    ["recent", "36500", "--include-archive"],
    ["successful"],
    ["patterns"],
    ["search", "ollama"],
    ["search", "ollama", "--include-archive"],
    SIMILAR,
    ["archive", "list"],
    ["alerts", "--now", "2030-01-01T00:00:00Z", "--days", "3650", "--drift-days", "3650"],
    ["alerts"],
]


def _csv(*args: str) -> list[list[str]]:
    result = invoke(*args, "--format", "csv")
    assert result.exit_code in (0, 3), (result.stdout, result.stderr)  # alerts: 3 = found
    assert "Traceback" not in result.stderr
    return list(csv.reader(io.StringIO(result.stdout, newline="")))


def _json_rows(*args: str) -> list[dict[str, object]]:
    result = invoke(*args, "--format", "ndjson")
    assert result.exit_code in (0, 3), result.stderr
    return [orjson.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def full(demo: Path) -> Path:
    """The demo history with its oldest rows archived (a segment for archive list)."""
    ok("cleanup", "30", "--yes")
    return demo


def test_headers_are_the_same_on_an_empty_and_a_full_repository(tmp_path: Path, full: Path) -> None:
    on_full = {" ".join(args): _csv(*args) for args in LISTINGS}
    for args in LISTINGS:
        rows = _json_rows(*args)
        table = on_full[" ".join(args)]
        assert len(table) == len(rows) + 1, args
        if args[0] == "alerts" and len(args) == 1:
            continue  # the demo is weeks old: no alert now, checked empty below
        assert rows, f"{args} found nothing on the full repository"
        # the header holds every JSON key, in the JSON order, and nothing else
        assert table[0] == list(rows[0]), args

    empty = tmp_path / "empty"
    assert invoke("--dir", str(empty / "AIMemory"), "init").exit_code == 0
    for args in LISTINGS:
        header_only = invoke("--dir", str(empty / "AIMemory"), *args, "--format", "csv")
        assert header_only.exit_code in (0, 3), header_only.stderr
        lines = list(csv.reader(io.StringIO(header_only.stdout, newline="")))
        assert lines == [on_full[" ".join(args)][0]], args


def test_export_csv_header_is_fixed(tmp_path: Path, demo: Path) -> None:
    ok("export", str(tmp_path / "full.csv"))
    assert invoke("--dir", str(tmp_path / "e" / "AIMemory"), "init").exit_code == 0
    ok("--dir", str(tmp_path / "e" / "AIMemory"), "export", str(tmp_path / "empty.csv"))
    full = (tmp_path / "full.csv").read_bytes()
    empty = (tmp_path / "empty.csv").read_bytes()
    assert empty == full.split(b"\r\n", 1)[0] + b"\r\n"


def test_booleans_are_true_false_and_rows_end_in_crlf(demo: Path) -> None:
    seen: set[str] = set()
    for args in (["recent", "36500"], ["search", "ollama"], SIMILAR):
        result = invoke(*args, "--format", "csv")
        table = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
        for column in ("fix_success", "verification_success"):
            values = {row[column] for row in table}
            assert values <= {"true", "false"}, args
            seen |= values
        if args[0] == "search":
            assert {row["archived"] for row in table} == {"false"}
    assert seen == {"true", "false"}
    raw = invoke("models", "--format", "csv").stdout_bytes
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\r\n") == raw.count(b"\n")


def test_docs_list_every_header(tmp_path: Path, empty: Path) -> None:
    """docs/output.md's table of headers is what the commands write."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "output.md").read_text()
    documented = {}
    for line in docs.splitlines():
        if line.startswith("| `") and line.count("`") == 4 and "," in line:
            command, header = (part.strip().strip("`") for part in line.strip("|").split("|"))
            documented[command] = header
    ok("export", str(tmp_path / "e.csv"))
    written = {"export": (tmp_path / "e.csv").read_text().splitlines()[0]}
    for args in (["models"], ["recent"], ["successful"], ["patterns"], ["search", "x"], SIMILAR):
        written[args[0]] = ok(*args, "--format", "csv").stdout.splitlines()[0]
    written["archive list"] = ok("archive", "list", "--format", "csv").stdout.splitlines()[0]
    written["alerts"] = invoke("alerts", "--format", "csv").stdout.splitlines()[0]
    assert documented == written
