"""The test PostgreSQL server works: a fresh database per test, password from PGPASSWORD."""

from __future__ import annotations

import os

import pytest


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
