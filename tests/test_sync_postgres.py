"""push and pull between SQLite and PostgreSQL, both directions: every record once,
the learned state equal to the sender's, a password never stored."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.commands import app
from aimem.ops.demo import demo_attempts
from aimem.ops.setup import init_repository
from tests.archive_helpers import learned


@functools.cache
def _items(count: int, seed: int) -> list[dict[str, Any]]:
    return list(demo_attempts(count=count, days=60, seed=seed))


def _uids(memory: AIMemory) -> list[str]:
    return sorted(r["uid"] for r in memory.store.iter_rows())


def _learned(memory: AIMemory) -> dict[str, Any]:
    state = learned(memory)
    state["stats"].pop("memory_directory")
    return state


def test_push_to_postgresql_and_pull_back(pg_url: str, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet" / "AIMemory"
    init_repository(directory=fleet, db=pg_url)
    with AIMemory(tmp_path / "laptop" / "AIMemory") as laptop:
        laptop.record_many(_items(250, seed=1))
        laptop.add_remote("fleet", pg_url)
        first = laptop.push("fleet")
        assert (first["records"], first["sent"], first["skipped"]) == (250, 250, 0)
        assert first["url"] == pg_url
        again = laptop.push("fleet")
        assert (again["sent"], again["skipped"]) == (0, 250)
        with AIMemory(fleet, create=False) as remote:
            assert _uids(remote) == _uids(laptop)
            assert _learned(remote) == _learned(laptop)
            remote.record_many(_items(80, seed=2))
        pulled = laptop.pull("fleet")
        assert (pulled["records"], pulled["sent"], pulled["skipped"]) == (330, 80, 250)
        with AIMemory(fleet, create=False) as remote:
            assert _uids(remote) == _uids(laptop)
            assert _learned(remote) == _learned(laptop)


def test_pull_from_postgresql_into_a_new_repository(pg_url: str, tmp_path: Path) -> None:
    init_repository(directory=tmp_path / "fleet" / "AIMemory", db=pg_url)
    with AIMemory(db=pg_url, create=False) as fleet:
        fleet.record_many(_items(200, seed=3))
        expected = _learned(fleet)
        uids = _uids(fleet)
    runner = CliRunner()
    local = tmp_path / "here" / "AIMemory"
    assert runner.invoke(app, ["init", str(local)]).exit_code == 0
    added = runner.invoke(app, ["--dir", str(local), "remote", "add", "origin", pg_url])
    assert added.exit_code == 0, added.stderr
    result = runner.invoke(app, ["--dir", str(local), "pull", "--json"])
    assert result.exit_code == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert (summary["direction"], summary["sent"], summary["skipped"]) == ("pull", 200, 0)
    with AIMemory(local, create=False) as here:
        assert _uids(here) == uids
        assert _learned(here) == expected


def test_a_password_in_the_url_is_not_stored(pg_url: str, memory: AIMemory) -> None:
    with_password = pg_url.replace("://", "://aimem:hunter2-secret@", 1)
    user_part = pg_url.split("://", 1)[1].split("@", 1)
    if len(user_part) == 2:  # the fixture's URL names a user already
        scheme = pg_url.split("://", 1)[0]
        user, host = user_part
        with_password = f"{scheme}://{user}:hunter2-secret@{host}"
    added = memory.add_remote("fleet", with_password)
    assert "hunter2-secret" not in added["url"]
    assert all("hunter2-secret" not in r["url"] for r in memory.remotes())


def test_archived_records_on_postgresql_are_pulled(pg_url: str, tmp_path: Path) -> None:
    with AIMemory(db=pg_url) as fleet:
        fleet.record_many(_items(300, seed=4))
        assert fleet.cleanup(20)["segments"]  # segments kept in the database
        archived = sum(s["row_count"] for s in fleet.archive_segments())
        assert 0 < archived < 300
        expected = _learned(fleet)
    with AIMemory(tmp_path / "here" / "AIMemory") as here:
        here.add_remote("fleet", pg_url)
        summary = here.pull()
        assert (summary["records"], summary["sent"]) == (300, 300)
        assert here.store.count_rows() == 300
        assert _learned(here) == expected


def test_an_empty_database_is_not_a_repository(pg_url: str, tmp_path: Path) -> None:
    import pytest

    from aimem import NotARepositoryError
    from aimem.store import open_store

    with AIMemory(tmp_path / "here" / "AIMemory") as memory:
        memory.add_remote("fleet", pg_url)
        with pytest.raises(NotARepositoryError, match="the database has no aimem schema"):
            memory.push("fleet")
    store = open_store(pg_url, readonly=True)
    try:
        assert store.schema_version() == 0  # left as it was
    finally:
        store.close()


def test_a_remote_database_on_a_newer_schema_is_refused(pg_url: str, tmp_path: Path) -> None:
    import psycopg
    import pytest

    from aimem.errors import SchemaTooNewError

    init_repository(directory=tmp_path / "fleet" / "AIMemory", db=pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE aimem_meta SET value = '999' WHERE key = 'schema_version'")
    with AIMemory(tmp_path / "here" / "AIMemory") as here:
        here.record_fix_attempt(
            {"model": "qwen2.5:7b", "issue_type": "TIMEOUT", "description": "slow"},
            {"fix_commands": ["ollama pull qwen2.5:7b"]},
            True,
            True,
            1.0,
        )
        here.add_remote("fleet", pg_url)
        for direction in (here.push, here.pull):
            with pytest.raises(SchemaTooNewError, match=r"remote 'fleet'.*newer than this aimem"):
                direction("fleet")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM fix_history").fetchone() == (0,)


def test_a_push_to_an_empty_database_says_how_to_create_it_from_here(
    pg_url: str, tmp_path: Path
) -> None:
    init_repository(tmp_path / "laptop")
    laptop = str(tmp_path / "laptop" / "AIMemory")
    runner = CliRunner()
    added = runner.invoke(app, ["--dir", laptop, "remote", "add", "fleet", pg_url])
    assert added.exit_code == 0, added.stderr
    pushed = runner.invoke(app, ["--dir", laptop, "push", "fleet"])
    assert pushed.exit_code == 1
    # 'aimem init --db URL' alone would refuse here (this folder holds a
    # repository): the hint names a folder of its own.
    assert f"hint: create it with 'aimem init --db {pg_url} NEW_FOLDER'" in pushed.stderr
