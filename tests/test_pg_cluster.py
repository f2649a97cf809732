"""The test PostgreSQL server works: a fresh database per test, password from PGPASSWORD."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_each_test_gets_an_empty_database_of_its_own(pg_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    assert "PGPASSWORD" in os.environ
    assert os.environ["PGPASSWORD"] not in pg_url
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


SKIPS = """
import pytest

def test_skips_for_postgres():
    pytest.skip("PostgreSQL unavailable: no server here")

def test_skips_for_psycopg():
    pytest.importorskip("psycopg_not_installed_here")

def test_skips_for_something_else():
    pytest.skip("needs a terminal")
"""


@pytest.mark.slow
@pytest.mark.parametrize("required", [True, False])
def test_a_postgres_skip_fails_when_postgres_is_required(tmp_path: Path, required: bool) -> None:
    test_file = tmp_path / "test_skips.py"
    test_file.write_text(SKIPS)
    env = {k: v for k, v in os.environ.items() if k != "AIMEM_REQUIRE_POSTGRES"}
    if required:
        env["AIMEM_REQUIRE_POSTGRES"] = "1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-rs",
            "-p",
            "no:cacheprovider",
            str(test_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if required:
        assert done.returncode == 1, done.stdout
        assert "2 failed, 1 skipped" in done.stdout
        assert "PostgreSQL required (AIMEM_REQUIRE_POSTGRES=1), but skipped" in done.stdout
    else:
        assert done.returncode == 0, done.stdout
        assert "3 skipped" in done.stdout
