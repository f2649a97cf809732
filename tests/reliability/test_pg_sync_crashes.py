"""kill -9 ``aimem push`` to PostgreSQL and ``aimem pull`` from it at random moments.

A transfer stores whole batches, each in one transaction (made small here,
so that several make up one transfer): after any kill the
receiving side holds a subset of the sender's records, each exactly once,
its aggregates add up, ``aimem check`` is clean, and the next transfer sends
exactly what is still missing. Kill moments come from a seeded generator
(the seed is in every failure message; ``AIMEM_CRASH_SEED`` replays one).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aimem import AIMemory
from tests.reliability.conftest import assert_consistent, child_env, items
from tests.reliability.pg_helpers import (
    aimem_on,
    assert_pg_consistent,
    init_pg_repo,
    uid_counts,
    wait_for_backends_gone,
)
from tests.reliability.test_pg_crashes import _seed

pytestmark = pytest.mark.slow

RECORDS = 6_000
# Transfers in batches this small, so a kill can land between batches as
# well as inside one (aimem's own batch is larger than these tests' data).
SMALL_BATCHES = """
import sys
import aimem.ops.sync
from aimem.cli import main

aimem.ops.sync.BATCH = 1_500
main(sys.argv[1:])
"""


def _transfer_argv(repo: Path, command: str) -> list[str]:
    return [sys.executable, "-c", SMALL_BATCHES, "--dir", str(repo), command, "fleet"]


def _local_uids(repo: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(f"file:{repo / 'ai_memory.db'}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT uid, count(*) FROM fix_history GROUP BY uid").fetchall())
    finally:
        conn.close()


def _kill_after(argv: list[str], delay: float) -> int:
    proc = subprocess.Popen(
        argv, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def _filled(repo: Path, count: int, tag: str) -> set[str]:
    with AIMemory(repo) as memory:
        for start in range(0, count, 10_000):
            memory.record_many(items(min(10_000, count - start), seed=start + 1, tag=tag))
        return {row["uid"] for row in memory.iter_export_rows()}


def test_killed_push_to_postgresql(pg_url: str, tmp_path: Path) -> None:
    seed = _seed()
    rng = random.Random(seed)
    remote = init_pg_repo(pg_url, tmp_path / "fleet" / "AIMemory")
    local = tmp_path / "runner" / "AIMemory"
    sent = _filled(local, RECORDS, "runner")
    added = aimem_on(local, "remote", "add", "fleet", pg_url)
    assert added.returncode == 0, added.stderr.decode()
    # One uninterrupted push of the same records elsewhere measures the duration.
    other = tmp_path / "other" / "AIMemory"
    _filled(other, RECORDS, "other")
    assert aimem_on(other, "remote", "add", "fleet", pg_url).returncode == 0
    started = time.perf_counter()
    assert subprocess.run(_transfer_argv(other, "push"), env=child_env()).returncode == 0
    full = time.perf_counter() - started
    baseline = uid_counts(pg_url)
    argv = _transfer_argv(local, "push")
    for _ in range(5):
        _kill_after(argv, rng.uniform(0.0, full * 1.05))
        wait_for_backends_gone(pg_url)
        stored = uid_counts(pg_url)
        assert all(count == 1 for count in stored.values()), (seed, "a record is stored twice")
        arrived = set(stored) - set(baseline)
        assert arrived <= sent, seed
        assert_pg_consistent(pg_url, remote)
        if arrived == sent:
            break
    done = aimem_on(local, "push", "fleet", "--json")
    assert done.returncode == 0, done.stderr.decode()
    assert uid_counts(pg_url) == dict.fromkeys(sent | set(baseline), 1)
    assert_pg_consistent(pg_url, remote)
    # Nothing is left to send.
    again = aimem_on(local, "push", "fleet", "--json")
    assert again.returncode == 0 and b'"sent":0' in again.stdout.replace(b" ", b""), again.stdout


def test_killed_pull_from_postgresql(pg_url: str, tmp_path: Path) -> None:
    seed = _seed()
    rng = random.Random(seed)
    remote = init_pg_repo(pg_url, tmp_path / "fleet" / "AIMemory")
    feeder = tmp_path / "feeder" / "AIMemory"
    offered = _filled(feeder, RECORDS, "feeder")
    assert aimem_on(feeder, "remote", "add", "fleet", pg_url).returncode == 0
    assert aimem_on(feeder, "push", "fleet").returncode == 0
    # One uninterrupted pull into a repository of its own measures the duration.
    scratch = tmp_path / "scratch" / "AIMemory"
    AIMemory(scratch).close()
    assert aimem_on(scratch, "remote", "add", "fleet", pg_url).returncode == 0
    started = time.perf_counter()
    assert subprocess.run(_transfer_argv(scratch, "pull"), env=child_env()).returncode == 0
    full = time.perf_counter() - started
    local = tmp_path / "runner" / "AIMemory"
    AIMemory(local).close()
    assert aimem_on(local, "remote", "add", "fleet", pg_url).returncode == 0
    argv = _transfer_argv(local, "pull")
    for _ in range(5):
        _kill_after(argv, rng.uniform(0.0, full * 1.05))
        stored = _local_uids(local)
        assert all(count == 1 for count in stored.values()), (seed, "a record is stored twice")
        assert set(stored) <= offered, seed
        assert_consistent(local)
        if set(stored) == offered:
            break
    done = aimem_on(local, "pull", "fleet", "--json")
    assert done.returncode == 0, done.stderr.decode()
    assert _local_uids(local) == dict.fromkeys(offered, 1)
    assert_consistent(local)
    assert_pg_consistent(pg_url, remote)
