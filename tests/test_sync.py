"""Remotes, push and pull between two SQLite repositories: idempotence, both
directions, a pull learns as a local record would, archived records, resumption,
refusals that change nothing."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AimemError, AIMemory, InvalidInputError, NotARepositoryError
from aimem.cli.commands import app
from aimem.errors import NotFoundError, SchemaTooNewError
from aimem.ops import sync as sync_module
from aimem.ops import transfer
from aimem.ops.demo import demo_attempts
from tests.archive_helpers import learned
from tests.conftest import issue, response
from tests.transfer_helpers import db_digest, learned_state, rows_without_id

KEYS = ["direction", "remote", "url", "records", "sent", "skipped", "seconds", "dry_run"]


@functools.cache
def _items(count: int, seed: int) -> list[dict[str, Any]]:
    """The same attempts, timestamps included, every time they are asked for."""
    return list(demo_attempts(count=count, days=60, seed=seed))


def _same_learning(one: AIMemory, other: AIMemory, search: bool = True) -> None:
    """Everything learned is equal; local ids, uids and folders aside."""
    first, second = learned(one), learned(other)
    for state in (first, second):
        state["stats"].pop("memory_directory")
    assert first == second
    if search:  # search ranks ties by local id: compare what was found
        assert _found(one) == _found(other)


def _found(memory: AIMemory) -> list[tuple[str, str]]:
    return sorted((r["timestamp"], r["description"]) for r in memory.search("timeout", limit=500))


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[AIMemory, AIMemory]]:
    """A laptop repository with 300 records and remote ``origin``, and an empty fleet one."""
    with (
        AIMemory(tmp_path / "laptop" / "AIMemory") as laptop,
        AIMemory(tmp_path / "fleet" / "AIMemory") as fleet,
    ):
        laptop.record_many(_items(300, seed=1))
        laptop.add_remote("origin", tmp_path / "fleet")
        yield laptop, fleet


def _cli(runner: CliRunner, repo: Path, *args: str) -> Any:
    return runner.invoke(app, ["--dir", str(repo), *args])


def _digests(*repos: Path) -> list[str]:
    return [db_digest(r / "ai_memory.db") for r in repos]


# ---- remotes ------------------------------------------------------------------


def test_remotes_add_list_rename_remove(memory: AIMemory, tmp_path: Path) -> None:
    assert memory.remotes() == []
    assert memory.add_remote("origin", "other") == {
        "name": "origin",
        "url": str(tmp_path / "other"),
    }
    memory.add_remote("fleet", "postgres://aimem@db.example:5432/aimem")
    assert [r["name"] for r in memory.remotes()] == ["fleet", "origin"]
    assert memory.rename_remote("origin", "laptop")["name"] == "laptop"
    assert memory.remove_remote("fleet") == {
        "name": "fleet",
        "url": "postgres://aimem@db.example:5432/aimem",
    }
    assert memory.remotes() == [{"name": "laptop", "url": str(tmp_path / "other")}]
    with pytest.raises(NotFoundError, match="no such remote: 'fleet'"):
        memory.remove_remote("fleet")
    with pytest.raises(AimemError, match="already exists"):
        memory.add_remote("laptop", "elsewhere")
    with pytest.raises(InvalidInputError, match="not a valid remote name"):
        memory.add_remote("-x", "elsewhere")
    with pytest.raises(InvalidInputError, match="https:// is not supported"):
        memory.add_remote("web", "https://example.com/aimem")


def test_a_password_is_never_stored(memory: AIMemory, repo_dir: Path, runner: CliRunner) -> None:
    added = memory.add_remote(
        "fleet", "postgresql://ci:s3cret-pw@db.example:5432/aimem?sslmode=require"
    )
    assert added["url"] == "postgresql://ci@db.example:5432/aimem?sslmode=require"
    memory.close()
    for path in repo_dir.iterdir():
        if path.is_file():
            assert b"s3cret-pw" not in path.read_bytes(), path.name
    shown = _cli(runner, repo_dir, "remote", "-v")
    assert shown.exit_code == 0
    assert shown.stdout == "fleet\tpostgresql://ci@db.example:5432/aimem?sslmode=require\n"


def test_remote_cli_list_formats(runner: CliRunner, memory: AIMemory, repo_dir: Path) -> None:
    memory.add_remote("origin", "/srv/aimem")
    memory.add_remote("backup", "/mnt/aimem")
    assert _cli(runner, repo_dir, "remote").stdout == "backup\norigin\n"
    assert _cli(runner, repo_dir, "remote", "list", "-v").stdout == (
        "backup\t/mnt/aimem\norigin\t/srv/aimem\n"
    )
    listed = orjson.loads(_cli(runner, repo_dir, "remote", "list", "--json").stdout)
    assert listed == [
        {"name": "backup", "url": "/mnt/aimem"},
        {"name": "origin", "url": "/srv/aimem"},
    ]
    renamed = _cli(runner, repo_dir, "remote", "rename", "backup", "cold", "--json")
    assert orjson.loads(renamed.stdout) == {"name": "cold", "url": "/mnt/aimem"}
    removed = _cli(runner, repo_dir, "remote", "remove", "cold")
    assert removed.exit_code == 0
    assert "removed remote cold" in removed.stderr
    assert _cli(runner, repo_dir, "remote").stdout == "origin\n"


def test_a_password_in_a_remotes_url_is_dropped_with_a_warning(
    runner: CliRunner, memory: AIMemory, repo_dir: Path
) -> None:
    memory.close()
    added = _cli(runner, repo_dir, "remote", "add", "fleet", "postgresql://ci:s3cret@db:5432/aimem")
    assert added.exit_code == 0
    assert "s3cret" not in added.stdout + added.stderr
    assert "aimem: warning: the password in the URL is not stored" in added.stderr
    assert "added remote fleet: postgresql://ci@db:5432/aimem" in added.stderr
    plain = _cli(runner, repo_dir, "remote", "add", "other", "postgresql://ci@db:5432/other")
    assert "warning" not in plain.stderr


# ---- transfer -------------------------------------------------------------------


def test_push_sends_everything_and_twice_is_once(pair: tuple[AIMemory, AIMemory]) -> None:
    laptop, fleet = pair
    first = laptop.push()
    assert list(first) == KEYS
    assert (first["records"], first["sent"], first["skipped"]) == (300, 300, 0)
    assert first["direction"] == "push" and first["remote"] == "origin"
    assert rows_without_id(fleet) == rows_without_id(laptop)
    assert learned_state(fleet) == learned_state(laptop)
    if fleet.knowledge_file.path is not None:  # the pushed-to knowledge base file follows
        assert fleet.knowledge_file.state() == "current"
    state = learned_state(fleet)
    again = laptop.push("origin")
    assert (again["records"], again["sent"], again["skipped"]) == (300, 0, 300)
    assert learned_state(fleet) == state


def test_both_directions_meet_in_the_same_state(pair: tuple[AIMemory, AIMemory]) -> None:
    laptop, fleet = pair
    fleet.record_many(_items(120, seed=2))
    laptop.record_fix_attempt(issue(), response("ollama pull qwen2.5:7b"), True, True, 2.0)
    pushed = laptop.push()
    assert (pushed["records"], pushed["sent"]) == (301, 301)
    pulled = laptop.pull()
    assert pulled["direction"] == "pull"
    assert (pulled["records"], pulled["sent"], pulled["skipped"]) == (421, 120, 301)
    assert rows_without_id(laptop) == rows_without_id(fleet)
    _same_learning(laptop, fleet)


def test_a_pull_learns_as_recording_locally_would(
    pair: tuple[AIMemory, AIMemory], tmp_path: Path, runner: CliRunner
) -> None:
    fleet = pair[1]
    fleet.record_many(_items(200, seed=3))
    fleet.add_remote("laptop", tmp_path / "laptop")
    local = tmp_path / "local" / "AIMemory"
    with AIMemory(local) as direct:
        direct.record_many(_items(300, seed=1))
        direct.record_many(_items(200, seed=3))
        fleet.pull("laptop")
        _same_learning(fleet, direct)
        fleet_dir = fleet.memory_dir
    fleet.close()
    for args in (
        (
            "suggest",
            "-m",
            "qwen2.5:7b",
            "-t",
            "TIMEOUT",
            "-d",
            "No response within 30s",
            "--seed",
            "7",
            "--json",
        ),
        ("suggest", "-m", "llama3.1:8b", "-t", "ERROR", "--json"),
        ("patterns", "--json"),
        ("successful", "--json"),
        ("models", "--json"),
        ("stats", "--json"),
    ):
        pulled = _cli(runner, fleet_dir, *args)
        recorded = _cli(runner, local, *args)
        assert pulled.exit_code == 0, pulled.stderr
        got, want = orjson.loads(pulled.stdout), orjson.loads(recorded.stdout)
        if args[0] == "stats":
            for key in ("memory_directory", "knowledge_base_size"):
                got.pop(key), want.pop(key)
        assert got == want, args


def test_archived_records_are_sent_and_purged_ones_are_not(
    pair: tuple[AIMemory, AIMemory],
) -> None:
    laptop, fleet = pair
    moved = laptop.cleanup(20)
    assert moved["segments"]
    archived = sum(s["row_count"] for s in laptop.archive_segments())
    hot = laptop.store.count_rows()
    assert archived > 0 and hot + archived == 300
    summary = laptop.push()
    assert (summary["records"], summary["sent"]) == (300, 300)
    assert fleet.store.count_rows() == 300  # stored hot on the receiving side
    _same_learning(fleet, laptop, search=False)  # archived rows are not searched
    # Purged records are gone: the next push has nothing of them to send.
    laptop.cleanup(5, purge=True)
    remaining = laptop.store.count_rows() + sum(
        s["row_count"] for s in laptop.archive_segments() if s["kind"] == "rows"
    )
    again = laptop.push()
    assert (again["records"], again["sent"]) == (remaining, 0)


def test_the_receiver_redacts_as_a_local_record(tmp_path: Path) -> None:
    secret = "sk-ant-api03-" + "A1b2C3d4" * 8
    with AIMemory(tmp_path / "a" / "AIMemory", redact_secrets=False) as plain:
        plain.record_fix_attempt(
            issue(description=f"auth failed with key {secret}"),
            response(f"export ANTHROPIC_API_KEY={secret}"),
            True,
            True,
            1.0,
        )
        plain.add_remote("origin", tmp_path / "b")
        with AIMemory(tmp_path / "b" / "AIMemory") as careful:
            assert plain.push()["sent"] == 1
            (row,) = careful.store.iter_rows()
    assert secret not in orjson.dumps(row).decode()


def test_dry_run_counts_and_changes_nothing(
    pair: tuple[AIMemory, AIMemory], tmp_path: Path, runner: CliRunner
) -> None:
    laptop, fleet = pair
    laptop_dir, fleet_dir = laptop.memory_dir, fleet.memory_dir
    laptop.close()
    fleet.close()
    before = _digests(laptop_dir, fleet_dir)
    result = _cli(runner, laptop_dir, "push", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert list(summary) == KEYS
    assert (summary["sent"], summary["skipped"], summary["dry_run"]) == (300, 0, True)
    assert _digests(laptop_dir, fleet_dir) == before


def test_push_and_pull_text_output(pair: tuple[AIMemory, AIMemory], runner: CliRunner) -> None:
    laptop = pair[0]
    laptop_dir = laptop.memory_dir
    laptop.close()
    pushed = _cli(runner, laptop_dir, "push")
    assert pushed.exit_code == 0, pushed.stderr
    assert "sent: 300\nalready there: 0\nrecords compared: 300\n" in pushed.stdout
    assert pushed.stderr == ""  # no progress bar off a terminal
    pulled = _cli(runner, laptop_dir, "pull")
    assert pulled.exit_code == 0, pulled.stderr
    assert "received: 0\nalready there: 300\nrecords compared: 300\n" in pulled.stdout
    assert "would receive: 0\n" in _cli(runner, laptop_dir, "pull", "-n").stdout
    pulled = _cli(runner, laptop_dir, "pull", "-q")
    assert (pulled.exit_code, pulled.stdout) == (0, "")


def test_an_interrupted_push_resumes_without_doubles(
    pair: tuple[AIMemory, AIMemory], monkeypatch: pytest.MonkeyPatch
) -> None:
    laptop, fleet = pair
    monkeypatch.setattr(sync_module, "BATCH", 50)
    real = transfer.import_rows
    calls = []

    def failing(*args: Any, **kwargs: Any) -> tuple[int, int]:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("connection lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(sync_module, "import_rows", failing)
    with pytest.raises(OSError):
        laptop.push()
    assert fleet.store.count_rows() == 100  # two whole batches
    monkeypatch.setattr(sync_module, "import_rows", real)
    resumed = laptop.push()
    assert (resumed["sent"], resumed["skipped"]) == (200, 100)
    assert rows_without_id(fleet) == rows_without_id(laptop)
    _same_learning(fleet, laptop)


def test_default_remote(memory: AIMemory, tmp_path: Path) -> None:
    with AIMemory(tmp_path / "one" / "AIMemory") as one:
        one.record_fix_attempt(issue(), response("a"), True, True, 1.0)
    with pytest.raises(AimemError, match="has no remotes yet"):
        memory.pull()
    memory.add_remote("one", tmp_path / "one")
    assert memory.pull()["remote"] == "one"  # the only remote
    memory.add_remote("two", tmp_path / "one")
    with pytest.raises(AimemError, match="none of the 2 remotes is 'origin'"):
        memory.pull()
    memory.add_remote("origin", tmp_path / "one")
    assert memory.pull()["remote"] == "origin"


# ---- refusals: one line, exit 1, nothing changed ---------------------------------


def _refused(runner: CliRunner, repo: Path, args: list[str], message: str) -> None:
    result = _cli(runner, repo, *args)
    assert result.exit_code == 1, result.output
    first, *rest = result.stderr.splitlines()
    assert first.startswith("aimem: error: "), first
    assert message in first
    assert all(line.startswith("hint: ") for line in rest)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["push", "pull"])
def test_refusals_change_nothing(
    pair: tuple[AIMemory, AIMemory], tmp_path: Path, runner: CliRunner, command: str
) -> None:
    laptop, fleet = pair
    laptop.add_remote("gone", tmp_path / "nowhere")
    laptop.add_remote("plain", tmp_path)  # a folder without a repository
    laptop.add_remote("self", laptop.memory_dir)
    laptop_dir, fleet_dir = laptop.memory_dir, fleet.memory_dir
    laptop.close()
    fleet.close()
    newer = tmp_path / "newer" / "AIMemory"
    AIMemory(newer).close()
    with sqlite3.connect(newer / "ai_memory.db") as conn:
        conn.execute("PRAGMA user_version = 999")
    _cli(runner, laptop_dir, "remote", "add", "newer", str(newer))
    before = _digests(laptop_dir, fleet_dir, newer)
    _refused(runner, laptop_dir, [command, "nope"], "no such remote: 'nope'")
    _refused(runner, laptop_dir, [command, "gone"], "remote 'gone': not an aimem repository")
    _refused(runner, laptop_dir, [command, "plain"], "remote 'plain': not an aimem repository")
    _refused(runner, laptop_dir, [command, "self"], "remote 'self'")
    _refused(runner, laptop_dir, [command, "newer"], "newer than this aimem knows")
    assert _digests(laptop_dir, fleet_dir, newer) == before
    assert not (tmp_path / "nowhere").exists()


def test_remote_errors_in_the_api(memory: AIMemory, tmp_path: Path) -> None:
    memory.add_remote("gone", tmp_path / "nowhere")
    with pytest.raises(NotARepositoryError, match="remote 'gone'"):
        memory.push("gone")
    newer = tmp_path / "newer"
    AIMemory(newer).close()
    with sqlite3.connect(newer / "ai_memory.db") as conn:
        conn.execute("PRAGMA user_version = 999")
    memory.add_remote("newer", newer)
    with pytest.raises(SchemaTooNewError, match="remote 'newer'"):
        memory.pull("newer")


def test_remote_add_refusals_are_one_line(
    runner: CliRunner, memory: AIMemory, repo_dir: Path
) -> None:
    memory.add_remote("origin", "/srv/aimem")
    memory.close()

    def state() -> Any:
        with AIMemory(repo_dir, create=False) as mem:
            return mem.remotes(), mem.store.generation(), mem.get_memory_stats()

    before = state()
    _refused(runner, repo_dir, ["remote", "add", "origin", "/elsewhere"], "already exists")
    _refused(runner, repo_dir, ["remote", "add", "a b", "/elsewhere"], "not a valid remote name")
    _refused(runner, repo_dir, ["remote", "remove", "nope"], "no such remote: 'nope'")
    _refused(runner, repo_dir, ["remote", "rename", "nope", "x"], "no such remote: 'nope'")
    assert state() == before
