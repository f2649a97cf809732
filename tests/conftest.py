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


# --- PostgreSQL -------------------------------------------------------------
# A server for the tests that need one: the one AIMEM_TEST_PG_URL names (CI
# starts it), else a private cluster this pytest process starts in its temp
# folder. Without server binaries or psycopg those tests are skipped with the
# reason, unless AIMEM_REQUIRE_POSTGRES=1 (set by .ci/run), which turns the
# skip into a failure.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under AIMEM_REQUIRE_POSTGRES=1 a skip that names PostgreSQL or psycopg is a
    failure, whichever way the test skipped (importorskip, skipif, a fixture)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and os.environ.get("AIMEM_REQUIRE_POSTGRES") == "1"
    ):
        # longrepr is (path, line, message); only the message says why.
        longrepr = report.longrepr
        reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
        if "postgres" in reason.lower() or "psycopg" in reason.lower():
            report.outcome = "failed"
            report.longrepr = (
                f"PostgreSQL required (AIMEM_REQUIRE_POSTGRES=1), but skipped: {reason}"
            )


def _postgres_missing(reason: str) -> None:
    if os.environ.get("AIMEM_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required (AIMEM_REQUIRE_POSTGRES=1): {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL (no password; PGPASSWORD carries it) of a server for this session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _postgres_missing("psycopg is not installed (pip install -e '.[test]')")
    given = os.environ.get("AIMEM_TEST_PG_URL")
    if given:
        yield given
        return
    from tests import pg_cluster

    try:
        cluster = pg_cluster.start()
    except pg_cluster.ClusterUnavailable as exc:
        _postgres_missing(str(exc))
    os.environ.setdefault("AIMEM_TEST_PG_PASSWORD", pg_cluster.PASSWORD)
    try:
        yield cluster.url
    finally:
        cluster.stop(remove=True)


def _password() -> str:
    from tests import pg_cluster

    return os.environ.get("AIMEM_TEST_PG_PASSWORD", pg_cluster.PASSWORD)


@pytest.fixture
def pg_url(pg_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty database of its own for one test; dropped afterwards.

    The password is in PGPASSWORD (as libpq reads it), never in the URL."""
    import uuid

    import psycopg

    monkeypatch.setenv("PGPASSWORD", _password())
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = pg_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
