"""A repository on PostgreSQL: init --db, --db and AIMEM_DB, connection hygiene, no
driver cost on SQLite. The behaviour of every command on both backends is
covered by the parametrized fixtures (tests/conftest.py ``backend``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest

from aimem import AIMemory
from aimem.store import migrations as sqlite_migrations
from tests.conftest import issue, response, run_aimem, sql

RECORD = (
    "record",
    "-m",
    "qwen2.5:7b",
    "-t",
    "TIMEOUT",
    "-d",
    "timeout after 30s",
    "-c",
    "ollama pull qwen2.5:7b",
    "--success",
    "--verified",
)


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_init_db_writes_the_config_without_the_password(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = os.environ["PGPASSWORD"]
    monkeypatch.delenv("PGPASSWORD")
    url = with_password(pg_url, password) + "?sslmode=disable&application_name=ci"
    done = run_aimem("init", "--db", url, str(tmp_path / "project"))
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "project" / "AIMemory"
    config = json.loads((folder / "config.json").read_text())
    assert config == {"database": pg_url + "?sslmode=disable&application_name=ci"}
    assert password.encode() not in done.stdout + done.stderr
    assert b"(database postgresql://" in done.stdout
    assert b"aimem: warning: the password in the URL is not stored" in done.stderr
    assert not (folder / "ai_memory.db").exists()
    assert oct((folder / "config.json").stat().st_mode & 0o777) == "0o600"
    # the folder is found as any repository is; the password comes from PGPASSWORD
    monkeypatch.setenv("PGPASSWORD", password)
    monkeypatch.delenv("AIMEM_DIR")
    recorded = run_aimem(*RECORD, cwd=tmp_path / "project")
    assert recorded.returncode == 0, recorded.stderr
    stats = run_aimem("stats", "--json", cwd=tmp_path / "project")
    assert orjson.loads(stats.stdout)["total_fixes_attempted"] == 1
    assert orjson.loads(stats.stdout)["memory_directory"] == str(folder)


def test_the_schema_keeps_the_seed_names_and_records_every_migration(
    pg_url: str, tmp_path: Path
) -> None:
    with AIMemory(db=pg_url) as memory:
        memory.record_fix_attempt(issue(), response("ollama pull qwen2.5:7b"), True, True, 1.5)
        assert memory.store.schema_version() == len(sqlite_migrations.MIGRATIONS)
    with AIMemory(tmp_path / "lite") as lite:
        lite_db = lite.store.path
    for table in ("fix_history", "issue_patterns", "model_characteristics"):
        on_sqlite = [r[1] for r in sql(lite_db, f"PRAGMA table_info({table})")]
        on_postgres = [
            r[0]
            for r in sql(
                pg_url,
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND column_name != 'aimem_search' ORDER BY ordinal_position",
                (table,),
            )
        ]
        assert on_postgres == on_sqlite, table
    recorded = dict(sql(pg_url, "SELECT key, value FROM aimem_meta WHERE key LIKE 'migration:%'"))
    names = [recorded[f"migration:{n:03d}"].split()[0] for n in range(1, len(recorded) + 1)]
    assert names == [step.__name__ for step in sqlite_migrations.MIGRATIONS]
    version = sql(pg_url, "SELECT value FROM aimem_meta WHERE key = 'schema_version'")
    assert version == [(str(len(sqlite_migrations.MIGRATIONS)),)]


def test_db_and_aimem_db_override_the_folder_and_need_none(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_aimem("init").returncode == 0  # a SQLite repository at $AIMEM_DIR
    assert run_aimem(*RECORD).returncode == 0
    on_db = run_aimem("--db", pg_url, "stats", "--json")
    assert on_db.returncode == 0, on_db.stderr
    assert orjson.loads(on_db.stdout)["total_fixes_attempted"] == 0
    # AIMEM_DB, in a folder with no repository anywhere
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"AIMEM_DB": pg_url, "AIMEM_DIR": str(elsewhere / "none")}
    assert run_aimem(*RECORD, cwd=elsewhere, env=env).returncode == 0
    assert run_aimem(*RECORD, cwd=elsewhere, env=env).returncode == 0
    stats = orjson.loads(run_aimem("stats", "--json", cwd=elsewhere, env=env).stdout)
    assert stats["total_fixes_attempted"] == 2
    assert stats["memory_directory"] == pg_url
    assert not (elsewhere / "AIMemory").exists()
    # the SQLite repository kept its one attempt
    mine = orjson.loads(run_aimem("stats", "--json").stdout)
    assert mine["total_fixes_attempted"] == 1
    # --db beats AIMEM_DB and config.json alike
    monkeypatch.setenv("AIMEM_DB", "postgresql://nobody@127.0.0.1:1/nothing")
    again = run_aimem("--db", pg_url, "stats", "--json")
    assert orjson.loads(again.stdout)["total_fixes_attempted"] == 2


def test_the_python_api_opens_a_database_without_a_folder(pg_url: str, tmp_path: Path) -> None:
    with AIMemory(db=pg_url) as memory:
        first = memory.record_fix_attempt(issue(), response("a"), True, True, 2.0)
        second = memory.record_fix_attempt(issue(), response("b"), False, False, None)
        assert second > first
        stats = memory.get_memory_stats()
        assert stats["total_fixes_attempted"] == 2
        assert stats["memory_directory"] == pg_url
        assert [r["id"] for r in memory.recent(days=1)] == [second, first]
    assert list(tmp_path.iterdir()) == []


def test_a_bad_url_is_refused_before_anything(tmp_path: Path) -> None:
    done = run_aimem("--db", "mysql://x@y/z", "stats")
    assert done.returncode == 2
    assert b"--db" in done.stderr and b"postgresql://" in done.stderr


def test_a_server_that_is_down_is_one_line_naming_host_and_database(tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql://aimem:hunter2-secret@127.0.0.1:{port}/fleet"
    for args in (("--db", url, "stats"), ("init", "--db", url)):
        done = run_aimem(*args)
        assert done.returncode == 1
        lines = done.stderr.decode().splitlines()
        assert lines[0].startswith("aimem: error: cannot connect to PostgreSQL")
        assert f"host 127.0.0.1:{port}, database fleet" in lines[0]
        assert all(line.startswith(("aimem: error:", "hint:")) for line in lines)
        assert b"hunter2-secret" not in done.stdout + done.stderr
        assert b"Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # init wrote nothing


def test_a_database_url_over_a_sqlite_folder_says_the_folder_is_left_unread(
    tmp_path: Path,
) -> None:
    # AIMEM_DB exported for a fleet, then a command run inside a laptop's SQLite
    # repository: the URL wins, as documented, and the user is told so.
    assert run_aimem("init", str(tmp_path)).returncode == 0
    folder = tmp_path / "AIMemory"
    before = (folder / "ai_memory.db").read_bytes()
    port = closed_port()
    url = f"postgresql://aimem:hunter2-secret@127.0.0.1:{port}/fleet"
    done = run_aimem("--dir", str(folder), "stats", env={"AIMEM_DB": url})
    lines = done.stderr.decode().splitlines()
    assert lines[0] == (
        f"aimem: warning: postgresql://aimem@127.0.0.1:{port}/fleet is used, not the SQLite "
        f"history in {folder} (that database comes from --db or $AIMEM_DB)"
    )
    assert lines[1].startswith("aimem: error: cannot connect to PostgreSQL")
    assert done.returncode == 1
    assert b"hunter2-secret" not in done.stdout + done.stderr
    assert (folder / "ai_memory.db").read_bytes() == before
    # without the URL, the folder's own history, and no warning
    plain = run_aimem("--dir", str(folder), "stats")
    assert plain.returncode == 0 and b"warning" not in plain.stderr


def test_a_missing_database_or_password_gets_a_hint_of_its_own(pg_url: str) -> None:
    missing = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    done = run_aimem("--db", missing, "stats")
    assert done.returncode == 1
    error, hint = done.stderr.decode().splitlines()
    assert error.endswith('database "no_such_database" does not exist')
    host, port = pg_url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)
    assert hint.startswith(f"hint: create it first (createdb -h {host} -p {port} no_such_database")
    done = run_aimem("--db", pg_url, "stats", env={"PGPASSWORD": "", "PGPASSFILE": "/nonexistent"})
    assert done.returncode == 1
    assert done.stderr.decode().splitlines()[1].startswith("hint: check the password")


def test_passwords_never_appear_in_any_output(pg_url: str, tmp_path: Path) -> None:
    password = os.environ["PGPASSWORD"]
    url = with_password(pg_url, password)
    assert run_aimem("init", "--db", url).returncode == 0
    outputs = []
    for args in (
        ("--db", url, *RECORD),
        ("--db", url, "stats"),
        ("--db", url, "stats", "--json"),
        ("--db", url, "recent", "--json"),
        ("--db", url, "search", "timeout"),
        ("--db", url, "patterns"),
        ("--db", url, "export", "-", "--format", "ndjson"),
        ("--db", url, "show", "999"),
        ("--db", url + "x", "stats"),  # a database that does not exist
        ("stats", "--json"),
        ("init", "--db", url),
    ):
        done = run_aimem(*args)
        outputs.append(done.stdout + done.stderr)
    assert all(password.encode() not in out for out in outputs)
    assert b"does not exist" in outputs[-3]
    files = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert password.encode() not in files


def test_without_psycopg_a_postgres_url_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from aimem.cli import main\n"
        "sys.argv = ['aimem', '--db', 'postgresql://u@127.0.0.1:1/d', 'stats']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.decode() == (
        "aimem: error: PostgreSQL support is not installed: pip install 'aimem[postgres]'\n"
    )


@pytest.mark.parametrize("args", [["--version"], ["stats"], ["stats", "--json"], ["recent"]])
def test_sqlite_never_imports_the_driver(tmp_path: Path, args: list[str]) -> None:
    assert run_aimem("init").returncode == 0
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aimem", *args],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in done.stderr.decode().splitlines()
        if line.startswith("import time:")
    }
    assert "aimem" in imported
    assert not {m for m in imported if m.split(".")[0] == "psycopg" or "postgres" in m}


def test_import_is_idempotent_and_all_or_nothing(pg_url: str, tmp_path: Path) -> None:
    good = tmp_path / "good.ndjson"
    with AIMemory(tmp_path / "lite") as lite:
        for n in range(70):  # past the bulk threshold
            lite.record_fix_attempt(
                issue(description=f"case {n}"), response("x"), n % 2 == 0, True, 1.0
            )
        lite.export_records(good, "ndjson")
    with AIMemory(db=pg_url) as memory:
        first = memory.import_records(good)
        again = memory.import_records(good)
        assert (first["added"], again["added"], again["already_present"]) == (70, 0, 70)
        bad = tmp_path / "bad.ndjson"
        bad.write_bytes(good.read_bytes() + b'{"not": "a record"}\n')
        before = memory.get_memory_stats()
        with pytest.raises(Exception, match=r"bad\.ndjson:71"):
            memory.import_records(bad)
        assert memory.get_memory_stats() == before


@pytest.mark.slow
def test_concurrent_writers_keep_every_aggregate_exact(pg_url: str, tmp_path: Path) -> None:
    assert run_aimem("init", "--db", pg_url).returncode == 0
    writers, each = 6, 15
    script = (
        "import sys\n"
        "from aimem import AIMemory\n"
        "w = int(sys.argv[1])\n"
        "with AIMemory() as m:\n"
        f"    for n in range({each}):\n"
        "        m.record_fix_attempt({'model': f'model-{n % 3}', 'issue_type': 'TIMEOUT',\n"
        "            'description': f'timeout {n % 4}'}, {'fix_commands': [f'fix {n % 2}']},\n"
        "            n % 3 == 0, n % 3 == 0, 1.0)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(w)], cwd=tmp_path)
        for w in range(writers)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0] * writers
    with AIMemory() as memory:
        stats = memory.get_memory_stats()
        assert stats["total_fixes_attempted"] == writers * each
        report = memory.check()
    assert report.errors == 0, report.findings
    counted = sql(pg_url, "SELECT sum(success_count + failure_count) FROM issue_patterns")
    assert counted == [(writers * each,)]


@pytest.mark.slow
def test_a_connection_lost_during_an_import_rolls_it_all_back(pg_url: str, tmp_path: Path) -> None:
    import time

    import psycopg

    source = tmp_path / "many.ndjson"
    with AIMemory(tmp_path / "lite") as lite:
        lite.record_many(
            {
                "issue_data": issue(description=f"timeout case {n}"),
                "ai_response": response(f"fix {n % 7}"),
                "fix_success": n % 3 == 0,
                "verification_success": n % 3 == 0,
                "execution_time": 1.0,
            }
            for n in range(30_000)
        )
        lite.export_records(source, "ndjson")
    with AIMemory(db=pg_url) as memory:
        memory.record_fix_attempt(issue(), response("kept"), True, True, 1.0)
    importer = subprocess.Popen(
        [sys.executable, "-m", "aimem", "--db", pg_url, "import", str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    killed = False
    with psycopg.connect(pg_url, autocommit=True) as watcher, psycopg.connect(pg_url) as blocker:
        # The import bumps the generation counter after merging its rows; holding
        # that row stops it there, inside its transaction, for as long as needed.
        blocker.execute("SELECT value FROM aimem_meta WHERE key = 'generation' FOR UPDATE")
        deadline = time.monotonic() + 120
        while importer.poll() is None and time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                "WHERE a.wait_event_type = 'Lock' AND a.pid != pg_backend_pid() "
                "AND l.relation = 'fix_history'::regclass AND l.mode = 'RowExclusiveLock' "
                "AND l.granted LIMIT 1"
            ).fetchone()
            if row is not None:  # blocked after writing into fix_history
                killed = bool(
                    watcher.execute("SELECT pg_terminate_backend(%s)", (row[0],)).fetchone()[0]
                )
                break
            time.sleep(0.01)
        blocker.rollback()
    out, err = importer.communicate(timeout=120)
    assert killed, "the import was never seen blocked inside its transaction"
    assert importer.returncode == 1, (out, err)
    lines = err.decode().splitlines()
    assert lines[0].startswith("aimem: error: ") and "PostgreSQL" in lines[0], lines
    assert b"Traceback" not in err
    with AIMemory(db=pg_url) as memory:
        stats = memory.get_memory_stats()
        assert stats["total_fixes_attempted"] == 1
    assert sql(pg_url, "SELECT count(*) FROM fix_history") == [(1,)]


def test_a_runner_role_needs_only_the_documented_grants(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    import psycopg

    database = urlsplit(pg_url).path.lstrip("/")
    owner, runner = (f"r_{uuid.uuid4().hex[:10]}" for _ in range(2))
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for role in (owner, runner):
            admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'role-pw'")  # type: ignore[arg-type]
            admin.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role}')  # type: ignore[arg-type]
        admin.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}")  # type: ignore[arg-type]
        admin.execute(f"GRANT USAGE ON SCHEMA public TO {runner}")  # type: ignore[arg-type]
    try:
        monkeypatch.setenv("PGPASSWORD", "role-pw")
        host = urlsplit(pg_url).netloc.rpartition("@")[2]
        # postgres:// is accepted as well as postgresql://
        as_owner = f"postgres://{owner}@{host}/{database}"
        assert run_aimem("init", "--db", as_owner).returncode == 0
        with psycopg.connect(pg_url, password=_superuser_password(), autocommit=True) as admin:
            admin.execute(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {runner}"  # type: ignore[arg-type]
            )
        as_runner = f"postgresql://{runner}@{host}/{database}"
        for args in (RECORD, RECORD, ("stats", "--json"), ("search", "timeout"), ("check",)):
            done = run_aimem("--db", as_runner, *args)
            assert done.returncode == 0, (args, done.stderr)
        stats = orjson.loads(run_aimem("--db", as_runner, "stats", "--json").stdout)
        assert stats["total_fixes_attempted"] == 2
    finally:
        monkeypatch.setenv("PGPASSWORD", _superuser_password())
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {owner}, {runner} CASCADE")  # type: ignore[arg-type]
            admin.execute(f"DROP ROLE {owner}")  # type: ignore[arg-type]
            admin.execute(f"DROP ROLE {runner}")  # type: ignore[arg-type]


def _superuser_password() -> str:
    from tests.conftest import _password

    return _password()
