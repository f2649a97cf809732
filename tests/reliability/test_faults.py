"""Faults from the outside: full disk, read-only repository, damaged files.

Each gives one clear ``aimem: error:`` line (no traceback), leaves no partial
state, and loses nothing that was committed before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from aimem import AIMemory
from tests.reliability.conftest import (
    assert_consistent,
    assert_one_line_error,
    child_env,
    items,
    ndjson,
    row_count,
    run_aimem_in,
)


def _snapshot(repo: Path) -> tuple[int, bytes]:
    return row_count(repo), (repo / "knowledge_base.json").read_bytes()


def _big_batch(count: int = 60) -> bytes:
    rows = items(count, seed=11, tag="big")
    for row in rows:
        row["ai_response"]["analysis"] = "a long analysis " * 1500
    return ndjson(rows)


# ---- full disk ---------------------------------------------------------------


@pytest.mark.slow
def test_file_size_limit_refuses_the_batch_cleanly(seeded: Path) -> None:
    # Python ignores SIGXFSZ, so writes past RLIMIT_FSIZE fail with EFBIG as on a full disk.
    before = _snapshot(seeded)
    size = max(p.stat().st_size for p in seeded.iterdir() if p.is_file())
    result = run_aimem_in(
        seeded, "record", "--input", "-", limit_bytes=size + 64 * 1024, stdin=_big_batch()
    )
    assert result.returncode == 1
    assert_one_line_error(result.stderr)
    assert b"space" in result.stderr or b"full" in result.stderr
    assert _snapshot(seeded) == before
    assert_consistent(seeded)
    ok = run_aimem_in(seeded, "record", "--input", "-", stdin=ndjson(items(2, seed=12)))
    assert ok.returncode == 0, ok.stderr
    assert row_count(seeded) == before[0] + 2


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_full_filesystem(tiny_disk: Path) -> None:
    repo = tiny_disk / "AIMemory"
    with AIMemory(repo) as memory:
        memory.record_many(items(10, seed=13))
    before = _snapshot(repo)
    result = run_aimem_in(repo, "record", "--input", "-", stdin=_big_batch())
    assert result.returncode == 1
    assert_one_line_error(result.stderr)
    assert _snapshot(repo) == before
    assert_consistent(repo)


# ---- read-only repository ---------------------------------------------------


@pytest.fixture
def read_only_view(seeded: Path, tmp_path: Path) -> Iterator[Path]:
    # Tests run as root, which ignores permission bits: use a read-only bind mount.
    view = tmp_path / "ro" / "AIMemory"
    view.mkdir(parents=True)
    if os.geteuid() != 0:
        os.chmod(seeded, 0o500)
        try:
            yield seeded
        finally:
            os.chmod(seeded, 0o700)
        return
    made = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(seeded), str(view)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount: {made.stderr.decode().strip()}")
    try:
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)


@pytest.mark.slow
def test_read_only_repository(seeded: Path, read_only_view: Path) -> None:
    before = _snapshot(seeded)
    result = run_aimem_in(
        read_only_view, "record", "-m", "qwen2.5:7b", "-t", "ERROR", "-d", "boom", "--failure"
    )
    assert result.returncode == 1
    assert_one_line_error(result.stderr)
    stats = run_aimem_in(read_only_view, "stats", "--json")
    if stats.returncode == 0:
        assert orjson.loads(stats.stdout)["total_fixes_attempted"] == before[0]
    else:
        assert_one_line_error(stats.stderr)
    assert _snapshot(seeded) == before


# ---- damaged files ---------------------------------------------------------------


def test_missing_knowledge_base_is_rebuilt(seeded: Path) -> None:
    (seeded / "knowledge_base.json").unlink()
    shown = run_aimem_in(seeded, "kb", "show")
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["format"] == "aimem-knowledge-base"
    recorded = run_aimem_in(seeded, "record", "--input", "-", stdin=ndjson(items(1, seed=14)))
    assert recorded.returncode == 0, recorded.stderr
    assert orjson.loads((seeded / "knowledge_base.json").read_bytes())["format"]


@pytest.mark.slow
def test_corrupt_knowledge_base_is_reported_and_kept(seeded: Path) -> None:
    damaged = b'{"format": "aimem-knowledge-base", "issue_types": {"TIMEOUT": [1, 2'
    (seeded / "knowledge_base.json").write_bytes(damaged)
    count = row_count(seeded)
    # The knowledge lives in the database; the file is only its copy, so reads go on.
    shown = run_aimem_in(seeded, "kb", "show")
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["format"] == "aimem-knowledge-base"
    # Recording still works, and aimem never overwrites a file it did not write.
    recorded = run_aimem_in(seeded, "record", "--input", "-", stdin=ndjson(items(2, seed=15)))
    assert recorded.returncode == 0, recorded.stderr
    assert row_count(seeded) == count + 2
    assert (seeded / "knowledge_base.json").read_bytes() == damaged
    assert run_aimem_in(seeded, "stats").returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("keep", [0.5, 0.1, 0.0])
def test_truncated_database(seeded: Path, keep: float) -> None:
    db = seeded / "ai_memory.db"
    size = db.stat().st_size
    with open(db, "r+b") as handle:
        handle.truncate(int(size * keep))
    files = sorted(p.name for p in seeded.iterdir())
    knowledge = (seeded / "knowledge_base.json").read_bytes()
    for args in (
        ("stats", "--json"),
        ("recent", "--json"),
        ("record", "-m", "m:1", "-t", "ERROR", "-d", "x", "--failure"),
    ):
        result = run_aimem_in(seeded, *args)
        assert result.returncode == 1, (args, result.stdout)
        assert_one_line_error(result.stderr)
    assert (seeded / "knowledge_base.json").read_bytes() == knowledge
    if keep == 0.0:
        # An empty file is a valid empty database to SQLite: aimem refuses to
        # treat it as one; 'aimem init' starts over and keeps the old knowledge base.
        assert db.stat().st_size == 0
        assert run_aimem_in(seeded, "init").returncode == 0
        assert (seeded / "knowledge_base.json.orphan").read_bytes() == knowledge
        assert (
            orjson.loads(run_aimem_in(seeded, "stats", "--json").stdout)["total_fixes_attempted"]
            == 0
        )
    if keep:
        assert sorted(
            p.name for p in seeded.iterdir() if not p.name.endswith(("-wal", "-shm"))
        ) == [f for f in files if not f.endswith(("-wal", "-shm"))]
        assert db.stat().st_size == int(size * keep)


LEAVE_WAL = """
import os, sys
from aimem import AIMemory
from tests.reliability.conftest import items
memory = AIMemory(sys.argv[1], create=False)
for item in items(6, seed=21, tag="wal"):
    memory.record_fix_attempt(**item)
os._exit(0)  # no close: the commits stay in the WAL, no checkpoint
"""


@pytest.mark.slow
def test_corrupted_wal_keeps_every_whole_transaction(seeded: Path) -> None:
    before = row_count(seeded)
    done = subprocess.run(
        [sys.executable, "-c", LEAVE_WAL, str(seeded)],
        env=child_env(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    wal = seeded / "ai_memory.db-wal"
    assert wal.stat().st_size > 0
    # Flip bytes inside the last frames: SQLite's frame checksums drop the damaged
    # commit and everything after it, but never leave half a transaction.
    data = bytearray(wal.read_bytes())
    for offset in range(len(data) - 3000, len(data) - 2000, 97):
        data[offset] ^= 0xFF
    wal.write_bytes(bytes(data))
    (seeded / "ai_memory.db-shm").unlink(missing_ok=True)
    result = run_aimem_in(seeded, "stats", "--json")
    if result.returncode != 0:
        assert_one_line_error(result.stderr)
        return
    total = orjson.loads(result.stdout)["total_fixes_attempted"]
    assert before <= total < before + 6
    assert row_count(seeded) == total
    assert_consistent(seeded)


def test_garbage_wal_is_ignored(seeded: Path) -> None:
    before = row_count(seeded)
    (seeded / "ai_memory.db-wal").write_bytes(os.urandom(40_000))
    result = run_aimem_in(seeded, "stats", "--json")
    if result.returncode == 0:
        assert orjson.loads(result.stdout)["total_fixes_attempted"] == before
        assert_consistent(seeded)
    else:
        assert_one_line_error(result.stderr)
    shutil.rmtree(seeded / "archive", ignore_errors=True)
