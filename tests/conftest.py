"""Shared fixtures: every test runs in its own temp folder with AIMEM_DIR pointing there."""

from __future__ import annotations

import importlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aimem import AIMemory

# Registers every command on aimem.cli.app.app, so a test that imports the app
# from either module runs the complete command line.
importlib.import_module("aimem.cli.commands")


def sql(db: Path, statement: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run one statement on the database file ``db`` as another program would
    (a connection of its own, autocommit); return its rows."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may see the developer's AIMemory/: chdir to tmp, AIMEM_DIR there, NO_COLOR."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIMEM_DIR", str(tmp_path / "AIMemory"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("AIMEM_DEBUG", raising=False)
    monkeypatch.delenv("AIMEM_BACKUP_DIR", raising=False)
    monkeypatch.delenv("AIMEM_REDACT", raising=False)
    # pytest-xdist's workers run with COLUMNS=80 and LINES=24: tables would fit
    # 80 columns in one run mode and not in the other. Tests that want a width
    # set COLUMNS themselves.
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    return tmp_path


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    return tmp_path / "AIMemory"


@pytest.fixture
def memory(repo_dir: Path) -> Iterator[AIMemory]:
    with AIMemory(repo_dir) as mem:
        yield mem


@pytest.fixture
def demo_dir(repo_dir: Path) -> Path:
    from aimem.setup import init_repository

    init_repository(directory=repo_dir, demo=True)
    return repo_dir


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def issue(
    model: str = "qwen2.5:7b",
    issue_type: str = "TIMEOUT",
    description: str = "Model response timeout after 30 seconds",
    **extra: Any,
) -> dict[str, Any]:
    return {"model": model, "issue_type": issue_type, "description": description, **extra}


def response(*commands: str, analysis: str = "needs more time") -> dict[str, Any]:
    return {"analysis": analysis, "fix_commands": list(commands)}


def run_aimem(
    *args: str,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the real console entry point in a subprocess."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "aimem", *args],
        capture_output=True,
        env=full_env,
        input=input,
        cwd=cwd,
        timeout=120,
    )
