"""CSV that cannot run in a spreadsheet and still gives back every value exactly.

Hostile text (formula starts, quotes, bare CR, CRLF, escape sequences, a
leading ') goes through ``aimem export --format csv`` and ``aimem import`` and
comes back byte for byte; no written cell starts like a formula; no value
splits a row in ``export``, ``recent`` or ``search``.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimem import AIMemory
from tests.cli.conftest import invoke, ok

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = (
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\tindented",
    "\rcarriage",
    "'quoted",
    "''twice",
    "'=already guarded",
    "a\rb",
    "a\r\nb\nc",
    'say "hi", then go',
    "\x1b]0;owned\x07\x1b[2J",
    "plain",
)
characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.builds(
        lambda start, rest: start + rest,
        st.sampled_from([*FORMULA_STARTS, "'", "", "\r\n", '"']),
        st.text(alphabet=characters, max_size=40),
    ),
)
filled = hostile_text.filter(lambda text: text.strip() != "")


def _item(
    description: str,
    analysis: str,
    commands: list[str],
    notes: str | None,
    model: str = "qwen2.5:7b",
) -> dict[str, Any]:
    return {
        "issue_data": {
            "model": model,
            "issue_type": "TIMEOUT",
            "description": description,
            "system_info": {"shell": analysis},
        },
        "ai_response": {"analysis": analysis, "fix_commands": commands, "fixer_model": notes},
        "fix_success": True,
        "verification_success": False,
        "execution_time": 1.5,
        "notes": notes,
        "fixer_type": "claude",
    }


def _records(repo: Path) -> list[dict[str, Any]]:
    """Every record of ``repo`` as exported (NDJSON), without the local id."""
    out = repo.parent / f"{repo.parent.name}-check.ndjson"
    ok("--dir", str(repo), "export", str(out))
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    out.unlink()
    return sorted(({k: v for k, v in row.items() if k != "id"} for row in rows), key=repr)


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
attempts = st.lists(
    st.tuples(filled, hostile_text, st.lists(hostile_text, max_size=3), st.none() | filled, filled),
    min_size=1,
    max_size=6,
)


@pytest.mark.slow
@SETTINGS
@given(drawn=attempts)
def test_export_import_round_trip_is_exact(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    drawn: list[tuple[str, str, list[str], str | None, str]],
) -> None:
    # Redaction is another test's subject: here every value must come back as stored.
    monkeypatch.setenv("AIMEM_REDACT", "0")
    root = tmp_path_factory.mktemp("csv")
    source, target = root / "a" / "AIMemory", root / "b" / "AIMemory"
    with AIMemory(source) as memory:
        memory.record_many([_item(*fields) for fields in drawn])
    ok("--dir", str(source), "export", str(root / "h.csv"))
    table = _cells((root / "h.csv").read_bytes())
    assert len(table) == len(drawn) + 1  # no value split a row
    assert not any(cell.startswith(FORMULA_STARTS) for cell in itertools.chain(*table))
    ok("--dir", str(target), "import", str(root / "h.csv"))
    assert _records(target) == _records(source)


def test_hostile_values_are_guarded_in_every_csv(repo_dir: Path, tmp_path: Path) -> None:
    with AIMemory(repo_dir) as memory:
        memory.record_many(
            [
                _item(f"ollama {text}", text, [text], text if text.strip() else None)
                for text in HOSTILE
            ]
        )
    ok("export", str(tmp_path / "h.csv"))
    outputs = {
        "export": (tmp_path / "h.csv").read_bytes(),
        "recent": ok("recent", "1", "--format", "csv").stdout_bytes,
        "search": ok("search", "ollama", "-n", "100", "--format", "csv").stdout_bytes,
        "similar": ok(
            "similar", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "-n", "100", "--format", "csv"
        ).stdout_bytes,
    }
    for command, data in outputs.items():
        table = _cells(data)
        if command != "similar":  # similar lists a row once per kind of match
            assert len(table) == len(HOSTILE) + 1, command  # no value split a row
        assert all(len(row) == len(table[0]) for row in table), command
        cells = list(itertools.chain(*table))
        assert not any(cell.startswith(FORMULA_STARTS) for cell in cells), command
        descriptions = {row[table[0].index("description")] for row in table[1:]}
        assert descriptions == {f"ollama {text}" for text in HOSTILE}, command
        analyses = {row[table[0].index("claude_analysis")] for row in table[1:]}
        assert analyses == {
            "'" + text if text.startswith((*FORMULA_STARTS, "'")) else text for text in HOSTILE
        }, command
        assert "a\rb" in analyses, command  # a bare CR stays inside its (quoted) cell


def test_foreign_csv_cells_lose_exactly_one_guard(tmp_path: Path, repo_dir: Path) -> None:
    with AIMemory(tmp_path / "src" / "AIMemory") as memory:
        memory.record_many([_item("placeholder", "x", [], None)])
    ok("--dir", str(tmp_path / "src" / "AIMemory"), "export", str(tmp_path / "h.csv"))
    table = _cells((tmp_path / "h.csv").read_bytes())
    at = table[0].index("description")
    table[1][at] = "''=1+1"
    handle = io.StringIO(newline="")
    csv.writer(handle).writerows(table)
    (tmp_path / "edited.csv").write_text(handle.getvalue(), newline="")
    result = invoke("import", str(tmp_path / "edited.csv"))  # creates the repository
    assert result.exit_code == 0, result.stderr
    rows = [
        orjson.loads(line) for line in ok("recent", "1", "--format", "ndjson").stdout.splitlines()
    ]
    assert [row["description"] for row in rows] == ["'=1+1"]
