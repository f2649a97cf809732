"""``aimem stats`` answered without typer says exactly what the typer command says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimem.cli.commands import app
from tests.conftest import run_aimem


@pytest.mark.slow
@pytest.mark.parametrize("args", [["stats"], ["stats", "--json"]])
def test_fast_stats_equals_typer_stats(demo_dir: Path, runner: CliRunner, args: list[str]) -> None:
    typer_path = runner.invoke(app, ["--dir", str(demo_dir), *args])
    for prefix in (["--dir", str(demo_dir)], ["-C", str(demo_dir)], [f"--dir={demo_dir}"]):
        fast = run_aimem(*prefix, *args)
        assert fast.returncode == typer_path.exit_code == 0
        assert fast.stdout.decode() == typer_path.stdout


def test_fast_stats_errors_like_typer(tmp_path: Path, runner: CliRunner) -> None:
    missing = tmp_path / "nowhere"
    typer_path = runner.invoke(app, ["--dir", str(missing), "stats", "--json"])
    fast = run_aimem("--dir", str(missing), "stats", "--json")
    assert fast.returncode == typer_path.exit_code == 1
    assert fast.stderr.decode() == typer_path.stderr
    assert fast.stderr.decode().startswith("aimem: error: not an aimem repository")
    assert fast.stdout == b""


def test_fast_stats_imports_no_typer(demo_dir: Path) -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "aimem",
            "--dir",
            str(demo_dir),
            "stats",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    imported = {line.split("|")[-1].strip() for line in probe.stderr.splitlines() if "|" in line}
    assert "typer" not in imported
    assert not any(name.startswith(("typer.", "tabulate", "zstandard")) for name in imported)


def test_other_options_take_the_typer_path(demo_dir: Path) -> None:
    result = run_aimem("--dir", str(demo_dir), "stats", "--format", "json")
    assert result.returncode == 2
    assert b"aimem: error:" in result.stderr
