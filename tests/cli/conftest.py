"""CLI fixtures: a demo repository built once per worker and copied into each test."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from aimem.cli.commands import app
from tests.conftest import make_repository


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aimem.ops.setup import init_repository

    root = tmp_path_factory.mktemp("demo-template") / "AIMemory"
    init_repository(directory=root, demo=True)
    return root


@pytest.fixture
def demo(request: pytest.FixtureRequest, backend: str, demo_template: Path, repo_dir: Path) -> Path:
    """A copy of the demo repository at $AIMEM_DIR (tmp/AIMemory)."""
    if backend == "postgres":
        return make_repository(request, backend, repo_dir, demo=True)
    shutil.copytree(demo_template, repo_dir)
    return repo_dir


@pytest.fixture
def empty(request: pytest.FixtureRequest, backend: str, repo_dir: Path) -> Path:
    """An initialized repository without history at $AIMEM_DIR."""
    if backend == "postgres":
        result = invoke("init", "--db", request.getfixturevalue("pg_url"))
    else:
        result = invoke("init")
    assert result.exit_code == 0, result.stderr
    return repo_dir


def invoke(*args: str, input: str | bytes | None = None, **env: str) -> Result:
    """Run the typer app as the console script does (errors translated by AimemGroup)."""
    return CliRunner().invoke(app, list(args), input=input, env=env or None)


def ok(*args: str, input: str | bytes | None = None) -> Result:
    result = invoke(*args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def ok_json(*args: str) -> Any:
    return orjson.loads(ok(*args).stdout)


def fails(code: int, *args: str, input: str | bytes | None = None) -> Result:
    """Run a failing command: exit ``code``, one ``aimem: error:`` line first, no traceback."""
    result = invoke(*args, input=input)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("aimem: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return result
