"""Helpers for crash tests on PostgreSQL: a repository on a test database and its invariants."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.reliability.conftest import aimem_argv, child_env


def pg_rows(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on ``url`` as another program would (a connection of its own)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return list(conn.execute(statement, params).fetchall())  # type: ignore[arg-type]


def aimem_on(repo: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """``aimem --dir REPO ARGS`` in a child process (the password from PGPASSWORD)."""
    return subprocess.run(
        aimem_argv("--dir", str(repo), *args),
        env=child_env(),
        capture_output=True,
        timeout=timeout,
    )


def init_pg_repo(url: str, repo: Path) -> Path:
    done = subprocess.run(
        aimem_argv("init", "--db", url, str(repo)),
        env=child_env(),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    return repo


def notes_counts(url: str) -> dict[str, int]:
    return {
        notes: int(count)
        for notes, count in pg_rows(url, "SELECT notes, count(*) FROM fix_history GROUP BY notes")
    }


def uid_counts(url: str) -> dict[str, int]:
    return {
        uid: int(count)
        for uid, count in pg_rows(url, "SELECT uid, count(*) FROM fix_history GROUP BY uid")
    }


def assert_pg_consistent(url: str, repo: Path) -> None:
    """One row per uid, the seed's aggregates add up to the rows, and ``aimem check`` is clean."""
    (total, uids) = pg_rows(url, "SELECT count(*), count(DISTINCT uid) FROM fix_history")[0]
    assert total == uids, "a record is stored twice"
    (patterns,) = pg_rows(
        url, "SELECT coalesce(sum(success_count + failure_count), 0) FROM issue_patterns"
    )[0]
    assert patterns == total, f"issue_patterns count {patterns} attempts, fix_history {total}"
    by_model = pg_rows(
        url,
        "SELECT f.model_name, count(*), m.total_tests FROM fix_history f "
        "LEFT JOIN model_characteristics m ON m.model_name = f.model_name "
        "GROUP BY f.model_name, m.total_tests",
    )
    for model, count, total_tests in by_model:
        assert total_tests == count, f"model_characteristics {model}: {total_tests} != {count}"
    check = aimem_on(repo, "check")
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def wait_for_backends_gone(url: str, timeout: float = 30.0) -> None:
    """Wait until no other session is connected to ``url``'s database.

    A client killed right after sending COMMIT leaves a server process that
    may still commit: what is stored is only settled once it is gone."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (others,) = pg_rows(
            url,
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )[0]
        if others == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"sessions of killed clients still open after {timeout} s")
