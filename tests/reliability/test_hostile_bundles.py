"""Hostile bundles through the CLI: each is refused by verify and restore in one line
naming the member and the reason, quickly, with the target repository unchanged."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.app import app
from tests.reliability.bundle_helpers import (
    DB_MEMBER,
    archived_repository,
    endless_line_segment,
    read_members,
    register_segment,
    rewrite_database,
    set_member,
    tree_digest,
    write_members,
    zero_bomb,
)
from tests.reliability.conftest import assert_one_line_error


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(repository with one archive segment, a bundle of it)."""
    root = tmp_path_factory.mktemp("source")
    repo = archived_repository(root / "A")
    with AIMemory(repo) as memory:
        bundle = Path(memory.backup(root)["bundle"])
    return repo, bundle


@pytest.fixture
def target(tmp_path: Path, source: tuple[Path, Path]) -> Path:
    """An existing repository that restore --force would replace."""
    repo = tmp_path / "target"
    shutil.copytree(source[0], repo)
    return repo


def _refused(runner: CliRunner, bundle: Path, target: Path, reason: str) -> str:
    """verify prints one line with ``reason``; restore (new folder, or --force over
    ``target``, or --dry-run) refuses in one line; nothing is created or changed."""
    verify = runner.invoke(app, ["verify", str(bundle)])
    assert verify.exit_code == 1, verify.output
    lines = verify.stdout.splitlines()
    assert len(lines) == 1 and reason in lines[0], lines
    before = tree_digest(target)
    fresh = target.parent / "fresh"
    for args in (
        ["--dir", str(fresh), "restore", str(bundle)],
        ["--dir", str(target), "restore", str(bundle), "--force", "--yes"],
        ["--dir", str(target), "restore", str(bundle), "--force", "--dry-run"],
    ):
        done = runner.invoke(app, args)
        assert done.exit_code == 1, done.output
        assert_one_line_error(done.stderr.encode())
        assert reason in done.stderr
    assert tree_digest(target) == before
    assert not fresh.exists()
    leftovers = [p.name for p in target.parent.iterdir() if p.name.startswith(".aimem-")]
    assert leftovers == []
    return lines[0]


def _trigger(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TRIGGER aimem_audit AFTER INSERT ON fix_history "
        "BEGIN DELETE FROM fix_history WHERE id = new.id; END"
    )


def _view(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TABLE model_characteristics")
    conn.execute(
        "CREATE VIEW model_characteristics AS WITH RECURSIVE n(i) AS "
        "(SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i AS model_name FROM n"
    )


def _extra_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE notes(x)")


def _extra_index(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE INDEX notes_idx ON fix_history(notes)")


def _changed_trigger(conn: sqlite3.Connection) -> None:
    (sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'fix_history_fts_insert'"
    ).fetchone()
    conn.execute("DROP TRIGGER fix_history_fts_insert")
    conn.execute(sql.replace("BEGIN", "BEGIN DELETE FROM aimem_meta;"))


def _missing_index(conn: sqlite3.Connection) -> None:
    conn.execute("DROP INDEX idx_fix_history_model")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_trigger, "trigger aimem_audit (on fix_history) is not part of aimem's schema"),
        (_view, "model_characteristics is a view, aimem's schema has a table"),
        (_extra_table, "table notes (on notes) is not part of aimem's schema"),
        (_extra_index, "index notes_idx (on fix_history) is not part of aimem's schema"),
        (_changed_trigger, "trigger fix_history_fts_insert differs from aimem's schema"),
        (_missing_index, "index idx_fix_history_model of aimem's schema version"),
    ],
    ids=["foreign-trigger", "view-for-table", "extra-table", "extra-index", "changed", "missing"],
)
def test_database_with_a_foreign_schema_is_refused(
    runner: CliRunner, source: tuple[Path, Path], target: Path, tmp_path: Path, change, reason
) -> None:
    bad = rewrite_database(source[1], tmp_path / "bad.tar", change, tmp_path)
    line = _refused(runner, bad, target, reason)
    assert line.startswith(f"foreign-schema {DB_MEMBER}: ")


def test_a_bundle_of_statistics_after_gc_is_accepted(runner: CliRunner, tmp_path: Path) -> None:
    # ANALYZE adds sqlite_stat1: SQLite's own table, not a foreign object.
    repo = archived_repository(tmp_path / "A", count=60)
    assert runner.invoke(app, ["--dir", str(repo), "gc", "--vacuum"]).exit_code == 0
    with AIMemory(repo) as memory:
        memory.store.conn.execute("ANALYZE")
        bundle = memory.backup(tmp_path)["bundle"]
    done = runner.invoke(app, ["verify", bundle])
    assert done.exit_code == 0, done.output
    restored = runner.invoke(app, ["--dir", str(tmp_path / "B"), "restore", bundle])
    assert restored.exit_code == 0, restored.output


def test_corrupt_database_is_one_line(
    runner: CliRunner, source: tuple[Path, Path], target: Path, tmp_path: Path
) -> None:
    def damage(conn: sqlite3.Connection) -> None:
        # An index whose entries no longer match its table: integrity_check
        # reports a finding per row (SQLite joins some with newlines).
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = replace(sql, '(model_name)', '(issue_type)') "
            "WHERE name = 'idx_fix_history_model'"
        )

    bad = rewrite_database(source[1], tmp_path / "bad.tar", damage, tmp_path)
    line = _refused(runner, bad, target, "corrupt-database")
    assert "\n" not in line and "and " in line  # several findings, summed up in one line


@pytest.mark.slow
def test_segment_with_an_endless_row_is_refused_quickly(
    runner: CliRunner, source: tuple[Path, Path], target: Path, tmp_path: Path
) -> None:
    name, data, raw_bytes = endless_line_segment(96 << 20)

    def plant(conn: sqlite3.Connection) -> None:
        register_segment(conn, name, data, 1, raw_bytes)

    bad = rewrite_database(source[1], tmp_path / "bad.tar", plant, tmp_path)
    members = read_members(bad)
    manifest = orjson.loads(members[0][1])
    counts = manifest["counts"]
    counts["aimem_segments"] += 1
    counts["archived_records"] += 1
    members[0] = ("manifest.json", orjson.dumps(manifest))
    set_member(members, f"archive/{name}", data)
    write_members(bad, members)
    started = time.monotonic()
    line = _refused(runner, bad, target, "a row is longer than 67108864 bytes")
    assert line.startswith(f"corrupt-segment archive/{name}: ")
    assert time.monotonic() - started < 20  # verify + 3 restores: each stops at the cap


def test_check_stops_at_an_endless_row(runner: CliRunner, tmp_path: Path) -> None:
    repo = archived_repository(tmp_path / "A", count=60)
    name, data, raw_bytes = endless_line_segment(200 << 20)
    (repo / "archive" / name).write_bytes(data)
    conn = sqlite3.connect(repo / "ai_memory.db", isolation_level=None)
    try:
        register_segment(conn, name, data, 1, raw_bytes)
    finally:
        conn.close()
    started = time.monotonic()
    done = runner.invoke(app, ["--dir", str(repo), "check"])
    assert time.monotonic() - started < 10
    assert done.exit_code == 1
    assert f"unreadable-segment {name}: a row is longer than 67108864 bytes" in done.stdout


def test_archive_member_that_is_not_a_segment_is_refused(
    runner: CliRunner, source: tuple[Path, Path], target: Path, tmp_path: Path
) -> None:
    members = read_members(source[1])
    set_member(members, "archive/notes.txt", b"hello\n")
    bad = write_members(tmp_path / "bad.tar", members)
    _refused(runner, bad, target, "unknown-member archive/notes.txt: not an archive segment")


def test_unindexed_segment_is_refused_without_inflating_it(
    runner: CliRunner, source: tuple[Path, Path], target: Path, tmp_path: Path
) -> None:
    # 16 frames of 128 MiB of zeros: 2 GiB of work if anything inflated it.
    bomb = zero_bomb(16)
    name = "seg-20200101T000000Z-20200101T000000Z-0123456789abcdef.ndjson.zst"
    members = read_members(source[1])
    set_member(members, f"archive/{name}", bomb)
    bad = write_members(tmp_path / "bad.tar", members)
    started = time.monotonic()
    _refused(runner, bad, target, "not in the bundle's segment index")
    assert time.monotonic() - started < 10


def test_indexed_segment_that_is_a_bomb_is_refused_quickly(
    runner: CliRunner, source: tuple[Path, Path], target: Path, tmp_path: Path
) -> None:
    bomb = zero_bomb(16)
    name = "seg-20200101T000000Z-20200101T000000Z-0123456789abcdef.ndjson.zst"

    def plant(conn: sqlite3.Connection) -> None:
        register_segment(conn, name, bomb, 1, 16 * (128 << 20))

    bad = rewrite_database(source[1], tmp_path / "bad.tar", plant, tmp_path)
    members = read_members(bad)
    manifest = orjson.loads(members[0][1])
    manifest["counts"]["aimem_segments"] += 1
    manifest["counts"]["archived_records"] += 1
    members[0] = ("manifest.json", orjson.dumps(manifest))
    set_member(members, f"archive/{name}", bomb)
    write_members(bad, members)
    started = time.monotonic()
    _refused(runner, bad, target, f"corrupt-segment archive/{name}: no aimem segment header")
    assert time.monotonic() - started < 10


def test_database_bomb_beyond_free_space_is_refused_before_writing(
    runner: CliRunner,
    source: tuple[Path, Path],
    target: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    members = read_members(source[1])
    manifest = orjson.loads(members[0][1])
    entry = next(e for e in manifest["members"] if e["name"] == DB_MEMBER)
    entry["size"] = 1 << 50  # a pebibyte: no disk here has it free
    members[0] = ("manifest.json", orjson.dumps(manifest))
    bad = write_members(tmp_path / "bad.tar", members)
    started = time.monotonic()
    line = _refused(runner, bad, target, "no-space")
    assert "needs 1125899906842624 bytes" in line
    assert time.monotonic() - started < 5
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
def test_database_that_is_not_sqlite_is_refused_on_its_first_block(
    runner: CliRunner, source: tuple[Path, Path], target: Path, tmp_path: Path
) -> None:
    import hashlib

    members = read_members(source[1])
    bomb = zero_bomb(4)  # 512 MiB of zeros, sha256 and size declared honestly
    zeros = hashlib.sha256()
    block = b"\0" * (128 << 20)
    for _ in range(4):
        zeros.update(block)
    set_member(members, DB_MEMBER, bomb, b"", "zstd")
    manifest = orjson.loads(members[0][1])
    entry = next(e for e in manifest["members"] if e["name"] == DB_MEMBER)
    entry.update(size=4 * len(block), sha256=zeros.hexdigest())
    members[0] = ("manifest.json", orjson.dumps(manifest))
    bad = write_members(tmp_path / "bad.tar", members)
    started = time.monotonic()
    _refused(runner, bad, target, f"corrupt-member {DB_MEMBER}: not a SQLite database")
    assert time.monotonic() - started < 5
