"""Tables that fit the terminal, --wide/--columns/--no-headers, ASCII fallbacks,
ISO 8601 timestamps in machine output, ``aimem show`` and ``recent``'s filters."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import orjson
import pytest

from aimem import AIMemory
from tests.cli.conftest import fails, invoke, ok, ok_json
from tests.cli.terminal import run_on_terminal
from tests.conftest import run_aimem

ISO_T = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

LISTINGS_AT_80 = [
    ["models"],
    ["recent", "--since", "3650d"],
    ["successful"],
    ["patterns"],
    ["suggest", "-m", "qwen2.5:7b", "-t", "TIMEOUT"],
]


def run_in_pty(args: list[str], columns: int, env: dict[str, str]) -> str:
    """What ``aimem ARGS`` shows on a terminal ``columns`` wide (a real pty)."""
    code, shown = run_on_terminal(args, env, columns, rows=50)
    assert code == 0, shown
    return shown


@pytest.mark.parametrize("args", LISTINGS_AT_80, ids=[a[0] for a in LISTINGS_AT_80])
def test_listings_fit_an_80_column_terminal(demo: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    shown = run_in_pty(args, 80, env)
    lines = shown.splitlines()
    assert len(lines) > 3, shown
    assert max(len(line) for line in lines) <= 80, shown
    # the same command in a pipe keeps whole rows: the terminal is what fitted it
    piped = run_aimem(*args, "--wide", env=env) if args[0] != "suggest" else None
    if piped is not None:
        assert max(len(line) for line in piped.stdout.decode().splitlines()) > 80


def test_columns_environment_sets_the_width(demo: Path) -> None:
    for width in (60, 100):
        result = invoke("patterns", COLUMNS=str(width))
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= width
        assert "…" in result.stdout  # the free text was cut, with an ellipsis
    # the free-text column shrinks before anything drops; at 60 a secondary column goes
    assert "last seen" not in invoke("patterns", COLUMNS="60").stdout.splitlines()[0]


def test_wide_shows_every_column_and_whole_cells(demo: Path) -> None:
    narrow = invoke("successful", COLUMNS="60").stdout
    wide = invoke("successful", "--wide", COLUMNS="60").stdout
    assert "last success" not in narrow.splitlines()[0]
    assert "last success" in wide.splitlines()[0]
    assert "…" not in wide
    assert max(len(line) for line in wide.splitlines()) > 60


def test_columns_select_json_keys_in_every_format(demo: Path) -> None:
    rows = ok_json("models", "--columns", "model_name,attempts", "--json")
    assert rows and all(list(row) == ["model_name", "attempts"] for row in rows)
    text = ok("models", "--format", "csv", "-c", "attempts,model_name").stdout
    assert text.splitlines()[0] == "attempts,model_name"
    table = ok("models", "--columns", "model_name,last_seen").stdout.splitlines()
    assert table[0].split() == ["model", "last", "seen"]
    ndjson = ok("recent", "--since", "3650d", "-c", "id,outcome", "-f", "ndjson").stdout
    assert all(list(orjson.loads(line)) == ["id", "outcome"] for line in ndjson.splitlines())


def test_a_bad_column_is_a_usage_error_naming_the_columns(demo: Path) -> None:
    result = fails(2, "models", "--columns", "model_name,nope")
    assert "'nope'" in result.stderr and "--columns" in result.stderr
    assert "success_rate" in result.stderr


def test_no_headers_in_tables_and_csv(demo: Path) -> None:
    rows = list(csv.reader(io.StringIO(ok("models", "-f", "csv", "--no-headers").stdout)))
    assert len(rows) == len(ok_json("models", "--json"))
    assert rows[0][0] != "model_name"
    table = ok("models", "--no-headers").stdout.splitlines()
    assert len(table) == len(rows)
    assert not any(line.startswith("---") or line.startswith("model ") for line in table)


@pytest.mark.parametrize(
    "args", [["archive", "list"], ["alerts", "-f", "csv"], ["search", "ollama"], ["similar"]]
)
def test_every_listing_takes_the_listing_options(demo: Path, args: list[str]) -> None:
    if args == ["similar"]:
        args = ["similar", "-m", "qwen2.5:7b", "-t", "TIMEOUT"]
    help_text = ok(*args[:2] if args[0] == "archive" else args[:1], "--help").stdout
    assert "--columns" in help_text and "--no-headers" in help_text
    result = invoke(*args, "--no-headers", "--columns", "id" if args[0] != "archive" else "name")
    if args[0] == "alerts":
        result = invoke(*args, "--no-headers", "--columns", "kind")
    assert result.exit_code in (0, 3), result.stderr


def test_output_encodings_without_the_characters(demo: Path) -> None:
    stats = run_aimem("stats", env={"PYTHONIOENCODING": "latin-1"})
    assert stats.returncode == 0, stats.stderr
    lines = stats.stdout.decode("latin-1").splitlines()
    assert lines[0] == "Claude Memory Statistics:"
    assert re.fullmatch(r"  knowledge_base_size: \d+ bytes", lines[-2])
    models = run_aimem("models", env={"LC_ALL": "C", "PYTHONUTF8": "0", "LANG": "C"})
    assert models.returncode == 0, models.stderr
    assert b"rate >= (95%)" in models.stdout
    narrow = run_aimem(
        "recent", "--since", "3650d", env={"PYTHONIOENCODING": "ascii", "COLUMNS": "70"}
    )
    assert narrow.returncode == 0 and b"..." in narrow.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 70


def test_utf8_keeps_the_seed_title(demo: Path) -> None:
    lines = ok("stats").stdout.splitlines()
    assert lines[0] == "🧠 Claude Memory Statistics:"
    size = ok_json("stats", "--json")["knowledge_base_size"]
    assert isinstance(size, int)
    assert f"  knowledge_base_size: {size} bytes" in lines


def test_machine_output_timestamps_have_a_t(demo: Path) -> None:
    rows = ok_json("recent", "--since", "3650d", "--json")
    assert rows and all(ISO_T.match(row["timestamp"]) for row in rows)
    assert all(ISO_T.match(row["last_seen"]) for row in ok_json("models", "--json"))
    recent_csv = list(csv.DictReader(io.StringIO(ok("recent", "-f", "csv").stdout)))
    assert recent_csv and all(ISO_T.match(row["timestamp"]) for row in recent_csv)
    with AIMemory(demo) as memory:  # stored values keep their form
        stored = memory.recent(3650)
    assert all(" " in row["timestamp"] for row in stored)


def test_show_one_attempt(demo: Path) -> None:
    newest = ok_json("recent", "--since", "3650d", "-n", "1", "--json")[0]
    shown = ok_json("show", str(newest["id"]), "--json")
    assert {k: v for k, v in shown.items() if k not in ("archived",)} == newest
    assert shown["archived"] is False
    text = ok("show", str(newest["id"])).stdout
    assert "id:" in text and newest["model_name"] in text and "fix_commands:" in text
    missing = fails(1, "show", "999999")
    assert "999999" in missing.stderr
    fails(2, "show", "0")
    fails(2, "show", "x")


def test_show_reads_an_archived_attempt(demo: Path) -> None:
    oldest = ok_json("recent", "--since", "3650d", "--json")[-1]
    ok("cleanup", "--older-than", "0d", "--yes")
    shown = ok_json("show", str(oldest["id"]), "--json")
    assert shown["archived"] is True and shown["uid"] == oldest["uid"]


def test_recent_filters(demo: Path) -> None:
    everything = ok_json("recent", "--since", "3650d", "--json")
    by_model = ok_json("recent", "--since", "3650d", "--model", "phi3:mini", "--json")
    assert by_model and {r["model_name"] for r in by_model} == {"phi3:mini"}
    assert len(by_model) == sum(r["model_name"] == "phi3:mini" for r in everything)
    by_type = ok_json("recent", "--since", "3650d", "-t", "timeout", "--json")
    assert by_type and {r["issue_type"] for r in by_type} == {"TIMEOUT"}
    failed = ok_json("recent", "--since", "3650d", "--failed", "--json")
    assert failed and all(r["outcome"] == "failed" for r in failed)
    assert len(failed) == sum(r["outcome"] == "failed" for r in everything)
    fixer = everything[0]["fixer_type"]
    by_fixer = ok_json("recent", "--since", "3650d", "--fixer", fixer.upper(), "--json")
    assert by_fixer and {r["fixer_type"] for r in by_fixer} == {fixer}
    with AIMemory(demo) as memory:
        assert len(memory.recent(since="3650d", model="phi3:mini", failed=True)) == sum(
            r["model_name"] == "phi3:mini" and r["outcome"] == "failed" for r in everything
        )


def test_recent_since_spellings(demo: Path) -> None:
    week = ok_json("recent", "--json")
    assert ok_json("recent", "7", "--json") == week
    hours = ok_json("recent", "--since", "12h", "--json")
    assert len(hours) <= len(week)
    assert ok_json("recent", "--since", "1w", "--json") == week
    first = ok_json("recent", "--since", "3650d", "--json")[-1]["timestamp"]
    assert len(ok_json("recent", "--since", first[:10], "--json")) >= 1
    fails(2, "recent", "7", "--since", "7d")
    bad = fails(2, "recent", "--since", "yesterday")
    assert "--since" in bad.stderr and "12h" in bad.stderr


def test_deprecated_days_still_work(demo: Path) -> None:
    old = invoke("alerts", "--days", "3", "--json")
    new = invoke("alerts", "--since", "3d", "--json")
    assert old.exit_code == new.exit_code
    assert orjson.loads(old.stdout)["alerts"] == orjson.loads(new.stdout)["alerts"]
    assert "--days N is deprecated" in old.stderr and new.stderr == ""
    analytics_old = invoke("analytics", "--days", "10", "--json")
    assert "deprecated" in analytics_old.stderr
    assert orjson.loads(analytics_old.stdout) == ok_json("analytics", "--since", "10d", "--json")
    fails(2, "alerts", "--days", "3", "--since", "3d")


def test_cleanup_older_than_or_days(demo: Path) -> None:
    by_days = ok_json("cleanup", "300", "--dry-run", "--json")
    by_option = ok_json("cleanup", "--older-than", "300d", "--dry-run", "--json")
    assert by_days["rows"] == by_option["rows"]
    assert ok_json("cleanup", "--older-than", "1d", "--dry-run", "--json")["rows"] > 0
    fails(2, "cleanup", "--dry-run")
    fails(2, "cleanup", "30", "--older-than", "30d", "--dry-run")


def test_export_writes_t_and_import_reads_both_forms(demo: Path, tmp_path: Path) -> None:
    exported = tmp_path / "all.ndjson"
    ok("export", str(exported))
    rows = [orjson.loads(line) for line in exported.read_bytes().splitlines()]
    assert rows and all(ISO_T.match(row["timestamp"]) for row in rows)
    header, first = ok("export", "-", "--format", "csv").stdout.splitlines()[:2]
    assert ISO_T.match(first.split(",")[header.split(",").index("timestamp")])
    spaced = tmp_path / "spaced.ndjson"
    spaced.write_bytes(
        b"".join(
            orjson.dumps({**row, "timestamp": row["timestamp"].replace("T", " ")}) + b"\n"
            for row in rows[:5]
        )
    )
    with AIMemory(demo) as memory:
        stored = {row["uid"]: row["timestamp"] for row in memory.recent(36500)}
    for source in (exported, spaced):
        target = tmp_path / source.stem / "AIMemory"
        with AIMemory(target) as memory:
            memory.import_records(source)
            again = {row["uid"]: row["timestamp"] for row in memory.recent(36500)}
        assert again and all(stored[uid] == stamp for uid, stamp in again.items())


def test_archive_list_never_cuts_the_segment_name(demo: Path) -> None:
    ok("cleanup", "--older-than", "21d", "--yes")
    name = ok_json("archive", "list", "--json")[0]["name"]
    for width in ("80", "40"):
        table = invoke("archive", "list", COLUMNS=width).stdout
        assert name in table, table
    assert "ratio" in invoke("archive", "list", COLUMNS="200").stdout


def test_a_narrow_terminal_drops_columns_rather_than_cut_names_or_numbers(demo: Path) -> None:
    lines = invoke("models", COLUMNS="30").stdout.splitlines()
    assert max(len(line) for line in lines) <= 30
    header = lines[0].split()
    rows = ok_json("models", "--json")
    for line, row in zip(lines[2:], rows, strict=True):
        cells = line.split()
        assert cells[0] == row["model_name"]
        if "attempts" in header:
            assert cells[header.index("attempts")] == str(row["attempts"])


def test_machine_output_is_utf8_and_tables_escape_in_any_locale(demo: Path) -> None:
    ok(
        "record",
        "-m",
        "qwen2.5:7b",
        "-t",
        "TIMEOUT",
        "-d",
        "Zeitüberschreitung ☃ 超时",
        "--fixer",
        "claude",
        "-c",
        "echo ☃",
        "--failure",
    )
    env = {"PYTHONIOENCODING": "ascii", "COLUMNS": "50"}
    for fmt in ("csv", "ndjson"):
        out = run_aimem("recent", "-n", "1", "-f", fmt, "-c", "description", env=env)
        assert out.returncode == 0, out.stderr
        assert "Zeitüberschreitung ☃ 超时" in out.stdout.decode("utf-8")
    table = run_aimem("recent", "-n", "1", "-c", "id,description", env=env)
    assert table.returncode == 0, table.stderr
    assert b"\\u2603" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 50


def test_text_that_holds_a_timestamp_stays_exact(demo: Path) -> None:
    notes = 'seen "2026-12-06 03:56:51.181256Z" then \\"2026-12-06 03:56:51.181256Z"'
    ok("record", "-m", "m1", "-t", "TIMEOUT", "-d", "d", "--notes", notes, "--failure")
    for fmt in ("json", "ndjson"):
        out = ok("recent", "-m", "m1", "-f", fmt, "-c", "timestamp,notes").stdout
        row = orjson.loads(out)[0] if fmt == "json" else orjson.loads(out.splitlines()[0])
        assert row["notes"] == notes
        assert ISO_T.match(row["timestamp"])


def test_colour_on_a_terminal_only_and_never_under_no_color(demo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    env["TERM"] = "xterm"
    coloured = run_in_pty(["recent", "--since", "3650d", "-n", "30"], 80, env)
    assert "\x1b[1m" in coloured and "\x1b[32m" in coloured
    plain_lines = re.sub(r"\x1b\[[0-9;]*m", "", coloured).splitlines()
    assert max(len(line) for line in plain_lines) <= 80
    assert "\x1b[" not in run_in_pty(["recent", "-n", "30"], 80, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in run_in_pty(["recent", "-n", "30"], 80, {**env, "TERM": "dumb"})
    assert b"\x1b[" not in run_aimem("recent", "-n", "30", env=env).stdout


def test_similar_json_keeps_its_lists_with_the_chosen_columns(demo: Path) -> None:
    found = ok_json("similar", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "-c", "id,outcome", "--json")
    assert set(found) >= {"exact_matches", "model_matches", "type_matches"}
    rows = [row for matches in found.values() for row in matches]
    assert rows and all(list(row) == ["id", "outcome"] for row in rows)
    assert {row["outcome"] for row in rows} <= {"verified", "applied", "failed"}
    flat = ok("similar", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "-f", "csv", "-c", "match,id")
    assert flat.stdout.splitlines()[0] == "match,id"
