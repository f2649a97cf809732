"""Export on two processes (aimem.store.export_parallel): the same bytes as one
process, one snapshot while others write, and a clean failure when the helper
process dies."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from aimem import AIMemory
from aimem.store import export_parallel
from tests.conftest import sql


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small chunks, a helper for any size; the list counts parallel exports."""
    monkeypatch.setattr(export_parallel, "CHUNK_IDS", 7)
    monkeypatch.setattr(export_parallel, "PARALLEL_MIN_IDS", 1)
    monkeypatch.delenv("AIMEM_EXPORT_HELPER", raising=False)
    used: list[int] = []
    real = export_parallel.iter_chunks

    def counted(*args: Any) -> Iterator[tuple[bytes, int]]:
        used.append(1)
        yield from real(*args)

    monkeypatch.setattr(export_parallel, "iter_chunks", counted)
    return used


def _export(root: Path, fmt: str, since: str | None = None) -> bytes:
    sink = io.BytesIO()
    with AIMemory(root) as memory:
        memory.export_records(sink, fmt, since=since)
    return sink.getvalue()


def test_two_processes_write_the_bytes_of_one(
    demo_dir: Path, parallel: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    with AIMemory(demo_dir) as memory:
        stamps = sorted(r["timestamp"] for r in memory.store.iter_rows())
    cut = stamps[len(stamps) // 2]
    together = {(f, s): _export(demo_dir, f, s) for f in ("ndjson", "json") for s in (None, cut)}
    assert len(parallel) == 4
    monkeypatch.setenv("AIMEM_EXPORT_HELPER", "0")
    for (fmt, since), data in together.items():
        assert data == _export(demo_dir, fmt, since), (fmt, since)
    assert len(parallel) == 4  # the helper was switched off
    assert len(orjson.loads(together[("json", None)])) == len(stamps)


@pytest.mark.slow
def test_the_cli_export_of_a_large_history(demo_dir: Path) -> None:
    """Through the real command at the real threshold: the same bytes with and
    without the helper process."""
    from tests.conftest import run_aimem

    conn = sqlite3.connect(demo_dir / "ai_memory.db", isolation_level=None)
    names = ", ".join(r[1] for r in conn.execute("PRAGMA table_info(fix_history)") if r[1] != "id")
    copied = names.replace("uid", "lower(hex(randomblob(16)))")
    while conn.execute("SELECT max(id) FROM fix_history").fetchone()[0] < 25_000:
        conn.execute(f"INSERT INTO fix_history ({names}) SELECT {copied} FROM fix_history")
    conn.close()
    both = run_aimem("export", "-")
    one = run_aimem("export", "-", env={"AIMEM_EXPORT_HELPER": "0"})
    assert both.returncode == one.returncode == 0, both.stderr
    assert both.stdout == one.stdout
    assert both.stdout.count(b"\n") > export_parallel.PARALLEL_MIN_IDS


_WINDOW_WRITER = r"""
import sqlite3, sys, time, uuid
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
end = time.monotonic() + float(sys.argv[2])
cols = [r[1] for r in conn.execute("PRAGMA table_info(fix_history)") if r[1] != "id"]
names = ", ".join(cols)
print("ready", flush=True)
while time.monotonic() < end:
    conn.execute("BEGIN IMMEDIATE")
    low = conn.execute("SELECT min(id) FROM fix_history").fetchone()[0]
    conn.execute(
        f"INSERT INTO fix_history ({names}) SELECT {names.replace('uid', '?')} "
        "FROM fix_history WHERE id = ?", (uuid.uuid4().hex, low))
    conn.execute("DELETE FROM fix_history WHERE id = ?", (low,))
    conn.execute("COMMIT")
"""


@pytest.mark.slow
def test_one_snapshot_while_another_process_writes(demo_dir: Path, parallel: list[int]) -> None:
    """A writer slides a window (insert the newest, delete the oldest, one commit
    each): a snapshot always holds the same number of contiguous ids."""
    with AIMemory(demo_dir) as memory:
        size = memory.store.conn.execute("SELECT count(*) FROM fix_history").fetchone()[0]
    writer = subprocess.Popen(
        [sys.executable, "-c", _WINDOW_WRITER, str(demo_dir / "ai_memory.db"), "20"],
        stdout=subprocess.PIPE,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == b"ready\n"
        for _ in range(15):
            ids = [orjson.loads(line)["id"] for line in _export(demo_dir, "ndjson").splitlines()]
            assert len(ids) == size
            assert ids == list(range(ids[0], ids[0] + size))
    finally:
        writer.kill()
        writer.wait()
    assert parallel, "no export ran on two processes (the lock was never free)"


def test_a_helper_that_dies_midway_leaves_its_chunks_to_this_process(
    demo_dir: Path, parallel: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _export(demo_dir, "ndjson")
    real = export_parallel.iter_chunks

    def killed(conn: sqlite3.Connection, helper: Any, *args: Any) -> Iterator[tuple[bytes, int]]:
        for n, chunk in enumerate(real(conn, helper, *args)):
            if n == 3:  # after a chunk of the helper's came through
                os.kill(helper.process.pid, signal.SIGKILL)
            yield chunk

    monkeypatch.setattr(export_parallel, "iter_chunks", killed)
    assert _export(demo_dir, "ndjson") == expected


@pytest.mark.slow
def test_a_helper_that_never_answers_is_not_waited_for(
    demo_dir: Path, parallel: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An interpreter that hangs (an embedding host, say): the export runs alone,
    and no write lock was held meanwhile."""
    expected = _export(demo_dir, "ndjson")
    parallel.clear()
    hanging = tmp_path / "hang.sh"
    hanging.write_text("#!/bin/sh\nexec sleep 60\n")
    hanging.chmod(0o755)
    monkeypatch.setattr(export_parallel.sys, "executable", str(hanging))
    monkeypatch.setattr(export_parallel, "START_WAIT", 0.3)
    assert _export(demo_dir, "ndjson") == expected
    assert not parallel


def test_a_database_swapped_under_an_open_repository_is_not_mixed(
    demo_dir: Path, parallel: list[int], tmp_path: Path
) -> None:
    """The helper opens the database by path: after the path names another file
    (a restore swaps folders), the export reads only the file this process has open."""
    import shutil

    other = tmp_path / "other"
    shutil.copytree(demo_dir, other)
    sql(other / "ai_memory.db", "UPDATE fix_history SET notes = 'from the other file'")
    with AIMemory(demo_dir) as memory:
        expected = io.BytesIO()
        memory.export_records(expected, "ndjson")
        parallel.clear()
        demo_dir.rename(tmp_path / "aside")
        other.rename(demo_dir)
        sink = io.BytesIO()
        memory.export_records(sink, "ndjson")
    assert sink.getvalue() == expected.getvalue()
    assert not parallel


def test_the_helper_never_imports_from_the_current_folder(
    demo_dir: Path, parallel: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``python -c`` searches the current folder first: an untrusted checkout's
    subprocess.py must not run in the helper."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    marker = tmp_path / "ran"
    for name in ("subprocess", "signal", "struct", "orjson"):
        (checkout / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.chdir(checkout)
    expected = _export(demo_dir, "ndjson")
    assert parallel
    assert not marker.exists()
    monkeypatch.setenv("AIMEM_EXPORT_HELPER", "0")
    assert _export(demo_dir, "ndjson") == expected


@pytest.mark.slow
@pytest.mark.parametrize("interpreter", ["/bin/false", "/nonexistent/python"])
def test_a_helper_that_cannot_start_leaves_the_export_to_one_process(
    demo_dir: Path, parallel: list[int], monkeypatch: pytest.MonkeyPatch, interpreter: str
) -> None:
    expected = _export(demo_dir, "ndjson")
    parallel.clear()
    monkeypatch.setattr(export_parallel.sys, "executable", interpreter)
    assert _export(demo_dir, "ndjson") == expected
    assert not parallel


@pytest.mark.slow
def test_a_held_write_lock_leaves_the_export_to_one_process(
    demo_dir: Path, parallel: list[int]
) -> None:
    expected = _export(demo_dir, "ndjson")
    parallel.clear()
    holder = sqlite3.connect(demo_dir / "ai_memory.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert _export(demo_dir, "ndjson") == expected
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not parallel


def test_a_large_output_is_synced_as_it_grows_and_a_failed_sync_fails_it(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimem import fsutil

    expected = _export(demo_dir, "ndjson")
    monkeypatch.setattr(fsutil, "SYNC_EVERY", 1000)
    synced: list[int] = []
    real = os.fdatasync

    def counted(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(fsutil.os, "fdatasync", counted)
    target = tmp_path / "out.ndjson"
    with AIMemory(demo_dir) as memory:
        memory.export_records(target)
    assert target.read_bytes() == expected
    assert synced  # the background thread ran

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsutil.os, "fdatasync", failing)
    with AIMemory(demo_dir) as memory, pytest.raises(OSError, match="Input/output"):
        memory.export_records(target)
    assert target.read_bytes() == expected  # the old file stays
    assert sorted(p.name for p in tmp_path.iterdir() if "out.ndjson" in p.name) == ["out.ndjson"]


def test_ids_far_apart_are_exported_whole(
    demo_dir: Path, parallel: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql(demo_dir / "ai_memory.db", "UPDATE fix_history SET id = id * 1000 WHERE id > 100")
    together = _export(demo_dir, "ndjson")
    monkeypatch.setenv("AIMEM_EXPORT_HELPER", "0")
    assert together == _export(demo_dir, "ndjson")
    assert [orjson.loads(line)["id"] for line in together.splitlines()][-1] > 100_000


def test_a_refused_value_named_by_the_helper_half_is_one_the_export_includes(
    demo_dir: Path, parallel: list[int]
) -> None:
    """Two rows of one chunk hold a BLOB; --since leaves the first out: the
    error names the second, whichever process built that chunk."""
    from aimem.errors import UnwritableValueError

    conn = sqlite3.connect(demo_dir / "ai_memory.db", isolation_level=None)
    low = conn.execute("SELECT min(id) FROM fix_history").fetchone()[0]
    old, kept = low + 8, low + 10  # chunk 1: the helper's (7 ids a chunk here)
    conn.execute(
        "UPDATE fix_history SET description = X'01', timestamp = '2000-01-01 00:00:00.000000Z'"
        " WHERE id = ?",
        (old,),
    )
    conn.execute("UPDATE fix_history SET description = X'01' WHERE id = ?", (kept,))
    conn.close()
    with pytest.raises(UnwritableValueError) as refused:
        _export(demo_dir, "ndjson", since="2020-01-01")
    assert str(refused.value).startswith(f"fix_history row {kept}, column description")
    assert parallel  # the helper took part
