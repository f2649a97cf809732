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


def sql(db: Path | str, statement: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run one statement on the database file ``db`` as another program would
    (a connection of its own, autocommit); return its rows. When ``db``'s
    folder is a repository on PostgreSQL, on that database (the statement in
    SQLite's spelling, rewritten as the store rewrites its own)."""
    url = db if isinstance(db, str) and db.startswith("postgres") else None
    if url is None and not Path(db).exists() and (Path(db).parent / "config.json").is_file():
        import json

        url = json.loads((Path(db).parent / "config.json").read_text())["database"]
    if url is not None:
        import psycopg

        from aimem.store.postgres.dialect import translate

        with psycopg.connect(url, autocommit=True) as pg:
            cursor = pg.execute(translate(statement), tuple(params))  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description is not None else []
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
    # A listing on a test's pty must not wait in less for a key press.
    monkeypatch.setenv("AIMEM_PAGER", "cat")
    # pytest-xdist's workers run with COLUMNS=80 and LINES=24: tables would fit
    # 80 columns in one run mode and not in the other. Tests that want a width
    # set COLUMNS themselves.
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    return tmp_path


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    return tmp_path / "AIMemory"


BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which backend the repository of this test is on; tests marked
    ``sqlite_only`` (about SQLite files themselves) run on SQLite alone."""
    return str(request.param)


_POSTGRES_FIXTURES = {"pg_url", "pg_server"}


# tryfirst: the marks added here must be in place before -m selects.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("backend") == "postgres"
        if on_postgres and item.get_closest_marker("sqlite_only") is not None:
            dropped.append(item)
            continue
        if on_postgres or _POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            # The fast loop runs SQLite alone; the full command runs both backends.
            item.add_marker(pytest.mark.postgres)
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def make_repository(
    request: pytest.FixtureRequest, backend: str, repo_dir: Path, *, demo: bool = False
) -> Path:
    """An initialized repository at ``repo_dir`` on ``backend`` (demo history with ``demo``)."""
    from aimem.ops.setup import init_repository

    if backend == "sqlite":
        init_repository(directory=repo_dir, demo=demo)
        return repo_dir
    url = request.getfixturevalue("pg_demo_url" if demo else "pg_url")
    write_config(repo_dir, url)
    return repo_dir


def write_config(repo_dir: Path, url: str) -> None:
    """``repo_dir/config.json`` naming ``url`` (its schema is made on first open)."""
    import json

    repo_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (repo_dir / "config.json").write_text(json.dumps({"database": url}))


@pytest.fixture
def memory(request: pytest.FixtureRequest, backend: str, repo_dir: Path) -> Iterator[AIMemory]:
    if backend == "postgres":
        make_repository(request, backend, repo_dir)
    with AIMemory(repo_dir) as mem:
        yield mem


@pytest.fixture
def demo_dir(request: pytest.FixtureRequest, backend: str, repo_dir: Path) -> Path:
    return make_repository(request, backend, repo_dir, demo=True)


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


def _new_database(pg_server: str, template: str | None = None) -> str:
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(pg_server, autocommit=True) as admin:
        suffix = f' TEMPLATE "{template}"' if template else ""
        admin.execute(f'CREATE DATABASE "{name}"{suffix}')  # type: ignore[arg-type]
    return name


def _drop_database(pg_server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_demo_template(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The name of a database holding the demo history, made once per session."""
    from aimem.ops.setup import init_repository

    os.environ.setdefault("PGPASSWORD", _password())
    name = _new_database(pg_server)
    base, _, _ = pg_server.rpartition("/")
    folder = tmp_path_factory.mktemp("pg-demo") / "AIMemory"
    init_repository(directory=folder, demo=True, db=f"{base}/{name}")
    try:
        yield name
    finally:
        _drop_database(pg_server, name)


@pytest.fixture
def pg_demo_url(
    pg_server: str, pg_demo_template: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A database of its own holding a copy of the demo history."""
    monkeypatch.setenv("PGPASSWORD", _password())
    name = _new_database(pg_server, pg_demo_template)
    base, _, _ = pg_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        _drop_database(pg_server, name)


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
