"""``aimem export`` answered without typer says and writes exactly what the typer command does.

Each case runs twice in the same folder: once through the typer app (CliRunner
on ``aimem.cli.commands.app``, which never sees the fast path) and once as a real
``python -m aimem`` process (which takes the fast path for the forms it
knows). Paths in messages are therefore identical, and the files each run
writes are compared byte for byte.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.commands import app
from aimem.setup import init_repository

# A date (midnight UTC), not "20d": both runs must select the same records.
SINCE = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%d")
# The report's only moving part.
GENERATED_AT = re.compile(rb'"generated_at": "[^"]*"')


@pytest.fixture
def archived(repo_dir: Path) -> Path:
    """The demo history (42 days) with everything older than 20 days in the archive."""
    init_repository(directory=repo_dir, demo=True)
    with AIMemory(repo_dir) as memory:
        assert memory.cleanup(20)["segments"]
    return repo_dir


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


Outcome = tuple[int, bytes, str, dict[str, bytes]]


def steady(data: bytes) -> bytes:
    return GENERATED_AT.sub(b'"generated_at": "T"', data)


def take_files(folder: Path) -> dict[str, bytes]:
    """What a run wrote in ``folder`` (then removed, for the other run)."""
    files = {}
    for path in sorted(folder.iterdir()):
        files[path.name] = steady(path.read_bytes())
        path.unlink()
    return files


def without_importtime(stderr: bytes) -> str:
    lines = stderr.decode().splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("import time:"))


def both_ways(
    runner: CliRunner, work: Path, args: list[str], importtime: bool = False
) -> tuple[Outcome, Outcome, str]:
    """(exit code, stdout bytes, stderr, files written) of typer's run and of the process's,
    and the process's raw stderr."""
    typer_run = runner.invoke(app, args)
    typer_files = take_files(work)
    probe = ["-X", "importtime"] if importtime else []
    process = subprocess.run(
        [sys.executable, *probe, "-m", "aimem", *args],
        capture_output=True,
        cwd=work,
        timeout=120,
    )
    process_files = take_files(work)
    # Bytes, not CliRunner's .stdout: that one turns csv's \r\n into \n.
    return (
        (
            typer_run.exit_code,
            steady(typer_run.stdout_bytes),
            typer_run.stderr_bytes.decode(),
            typer_files,
        ),
        (
            process.returncode,
            steady(process.stdout),
            without_importtime(process.stderr),
            process_files,
        ),
        process.stderr.decode(),
    )


def imported_modules(stderr: str) -> set[str]:
    return {
        line.split("|")[-1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:")
    }


FAST_FORMS = [
    ["export", "h.ndjson"],
    ["export", "h.json"],
    ["export", "h.csv"],
    ["export", "h.out", "--format", "json"],
    ["export", "h.out", "-f", "csv", "--json"],
    ["export", "h.out", "--format=report"],
    ["export", "h.json", "--json", "--format", "ndjson"],
    ["export", "h.ndjson", "--since", SINCE],
    ["export", "h.csv", f"--since={SINCE}", "--json", "-f", "csv"],
    ["export", "h.ndjson", "--include-archive", "--json"],
    ["export", "h.json", "--since", SINCE, "--include-archive", "--format=json", "--json"],
    ["export", "-"],
    ["export", "-", "--format", "csv"],
    ["export", "-", "-f", "json", "--since", SINCE, "--include-archive"],
    ["export", "-", "--format=report"],
    ["export", "--format", "csv", "h.csv"],  # options before FILE, as click allows
    ["export", "--since", SINCE, "--json", "h.ndjson"],
    ["export", "-f", "json", "-"],
]


@pytest.mark.slow
@pytest.mark.parametrize("args", FAST_FORMS, ids=" ".join)
def test_fast_export_equals_typer_export(
    archived: Path, work: Path, runner: CliRunner, args: list[str]
) -> None:
    typer_run, process, _ = both_ways(runner, work, ["--dir", str(archived), *args])
    assert typer_run[0] == 0, typer_run[2]
    assert process == typer_run
    written = process[3] or {"-": process[1]}
    assert any(len(data) > 100 for data in written.values())


@pytest.mark.slow
def test_fast_export_counts_and_filters_like_the_library(
    archived: Path, work: Path, runner: CliRunner
) -> None:
    # AIMEM_DIR (set by the autouse fixture) instead of --dir; the counts are real.
    with AIMemory(archived) as memory:
        hot = memory.store.count_rows()
    _, process, raw = both_ways(runner, work, ["export", "h.ndjson", "--json"], importtime=True)
    assert f'"records": {hot}'.encode() in process[1]
    assert process[3]["h.ndjson"].count(b"\n") == hot
    assert "typer" not in imported_modules(raw)
    _, everything, _ = both_ways(runner, work, ["export", "-", "--include-archive"])
    assert everything[1].count(b"\n") == 480 > hot


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--dir", "nowhere", "export", "h.ndjson"], 1),
        (["--dir", "nowhere", "export", "-", "--format", "csv"], 1),
        # a bad flag value is a usage error, on either path
        (["export", "h.ndjson", "--since", "yesterday-ish"], 2),
        (["export", "-", "--since=2025-13-45"], 2),
        (["export", "h.ndjson", "--since", "99999999999999d"], 2),
        (["export", "."], 2),  # a folder
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_fast_export_errors_like_typer(
    archived: Path, work: Path, runner: CliRunner, args: list[str], expected: int
) -> None:
    typer_run, process, _ = both_ways(runner, work, args)
    assert process == typer_run
    code, stdout, stderr, files = process
    assert code == expected
    assert stdout == b""
    assert stderr.startswith("aimem: error: ")
    assert stderr.count("\n") <= 2  # the error line and maybe a hint; no traceback
    assert files == {}


def test_fast_export_imports_no_typer(archived: Path, work: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aimem", "export", "h.ndjson", "-f", "ndjson"],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    imported = imported_modules(probe.stderr)
    assert "aimem.cli._export_run" in imported
    assert not {"typer", "click", "aimem.cli.app", "aimem.cli.transfer"} & imported
    assert not any(name.startswith(("typer.", "tabulate")) for name in imported)
    assert (work / "h.ndjson").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["export"], 2),  # no FILE
        (["export", "h.ndjson", "--bogus"], 2),
        (["export", "h.ndjson", "--format", "xml"], 2),
        (["export", "h.ndjson", "--format", "JSON"], 2),
        (["export", "h.ndjson", "--since"], 2),  # a missing value
        (["export", "h.ndjson", "-f"], 2),
        (["export", "-", "--json"], 2),  # stdout carries the export
        (["export", "h.ndjson", "extra"], 2),
        (["export", "--bogus"], 2),
        (["export", "--help"], 0),
        (["export", "h.ndjson", "--json", "--json"], 0),  # repeated: typer's rules
        (["export", "h.ndjson", "--since", "-3d"], 2),  # a value starting with '-'
        (["export", "h.csv", "-fcsv"], 0),
        (["--dir", "", "export", "h.ndjson"], 2),  # '' is an unset variable, not "here"
        (["--dir", "a-file/x", "export", "h.ndjson"], 2),  # under a file
        (["--dir", "a-file", "export", "h.ndjson"], 2),  # typer: not a directory
        (["--dir", "a-file", "stats", "--json"], 2),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
@pytest.mark.slow
def test_other_forms_take_the_typer_path(
    archived: Path, work: Path, runner: CliRunner, args: list[str], code: int
) -> None:
    (work.parent / "a-file").write_text("not a folder\n")
    args = [
        str(work.parent / "a-file") + arg[len("a-file") :] if arg.startswith("a-file") else arg
        for arg in args
    ]
    typer_run, process, raw = both_ways(runner, work, args, importtime=True)
    assert "typer" in imported_modules(raw)
    assert process == typer_run
    assert process[0] == code
    if code == 2:
        assert process[2].startswith("aimem: error: ")
        assert "hint: see 'aimem" in process[2]
