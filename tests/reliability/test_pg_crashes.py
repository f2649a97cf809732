"""kill -9 real aimem processes writing to PostgreSQL at random moments; nothing is lost or doubled.

Writers, batch recorders and importers are killed at moments drawn from a
seeded generator (the seed is in every failure message) over the whole life
of the process, measured first by an uninterrupted run. After each kill the
test waits until the server has no session of the killed client left (one
killed right after sending COMMIT may still commit), then: every attempt the
client was told is stored is there exactly once, an attempt it was not told
about is there at most once (the one in flight), a batch or an import is all
there or not at all, the seed's aggregates add up and ``aimem check`` is clean.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aimem import AIMemory
from tests.reliability.conftest import aimem_argv, child_env, items, ndjson
from tests.reliability.pg_helpers import (
    aimem_on,
    assert_pg_consistent,
    init_pg_repo,
    notes_counts,
    pg_rows,
    uid_counts,
    wait_for_backends_gone,
)

pytestmark = pytest.mark.slow

WRITER = """
import sys, warnings
warnings.simplefilter("ignore")
from aimem import AIMemory
from tests.reliability.conftest import items

repo, writer = sys.argv[1], sys.argv[2]
batch = items(100, seed=len(writer) * 31 + sum(map(ord, writer)))
with AIMemory(repo, create=False) as memory:
    for n in range(100_000):
        item = dict(batch[n % len(batch)], notes=f"{writer}-{n}")
        memory.record_fix_attempt(**item)
        print(f"{writer}-{n}", flush=True)
"""


def _seed() -> int:
    return int(os.environ.get("AIMEM_CRASH_SEED") or random.SystemRandom().randrange(2**32))


def _timed(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=child_env(), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return time.perf_counter() - started


def _kill_after(argv: list[str], delay: float) -> None:
    proc = subprocess.Popen(
        argv, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


@pytest.fixture
def pg_repo(pg_url: str, tmp_path: Path) -> tuple[str, Path]:
    return pg_url, init_pg_repo(pg_url, tmp_path / "fleet" / "AIMemory")


def test_killed_writers_lose_and_double_nothing(pg_repo: tuple[str, Path]) -> None:
    url, repo = pg_repo
    seed = _seed()
    rng = random.Random(seed)
    told: set[str] = set()
    in_flight: set[str] = set()
    for round_ in range(3):
        names = [f"r{round_}w{w}" for w in range(4)]
        procs = {
            name: subprocess.Popen(
                [sys.executable, "-c", WRITER, str(repo), name],
                env=child_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for name in names
        }
        # Start-up takes about half a second; the kills land from before the
        # first write to well into the writing.
        kills = sorted((rng.uniform(0.2, 3.0), name) for name in names)
        started = time.monotonic()
        for at, name in kills:
            time.sleep(max(0.0, at - (time.monotonic() - started)))
            procs[name].send_signal(signal.SIGKILL)
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == -signal.SIGKILL, (seed, err.decode())
            lines = out.decode().split()
            told.update(lines)
            in_flight.add(f"{name}-{len(lines)}")
        wait_for_backends_gone(url)
        stored = notes_counts(url)
        lost = told - set(stored)
        assert not lost, (seed, sorted(lost)[:5])
        doubled = {note: count for note, count in stored.items() if count != 1}
        assert not doubled, (seed, doubled)
        # A write can commit before its process is killed and learns of it.
        assert set(stored) - told <= in_flight, (seed, sorted(set(stored) - told - in_flight))
        assert_pg_consistent(url, repo)
    assert told, f"no writer got to record anything (seed {seed})"
    # The repository still takes writes after all this.
    with AIMemory(repo, create=False) as memory:
        memory.record_many(items(3, seed=6, tag="after"))
    assert_pg_consistent(url, repo)


def test_killed_batch_record_is_all_or_nothing(pg_repo: tuple[str, Path], tmp_path: Path) -> None:
    url, repo = pg_repo
    seed = _seed()
    rng = random.Random(seed)
    size = 300
    batch = tmp_path / "batch.ndjson"
    batch.write_bytes(ndjson(items(size, seed=5, tag="batch")))
    argv = aimem_argv("--dir", str(repo), "record", "--input", str(batch))
    full = _timed(argv)
    committed = size
    for _ in range(6):
        _kill_after(argv, rng.uniform(0.0, full * 1.1))
        wait_for_backends_gone(url)
        (now,) = pg_rows(url, "SELECT count(*) FROM fix_history")[0]
        assert now - committed in (0, size), (seed, "a batch was partly recorded", now - committed)
        committed = now
        assert_pg_consistent(url, repo)


def _export(tmp_path: Path, count: int, seed: int, name: str) -> tuple[Path, set[str]]:
    """An NDJSON export of ``count`` attempts (made in a SQLite repository), and its uids."""
    source = tmp_path / f"source-{name}" / "AIMemory"
    with AIMemory(source) as memory:
        memory.record_many(items(count, seed=seed, tag=name))
        target = tmp_path / f"{name}.ndjson"
        memory.export_records(target, "ndjson")
        uids = {row["uid"] for row in memory.iter_export_rows()}
    return target, uids


def test_killed_import_is_all_or_nothing(
    pg_repo: tuple[str, Path], pg_server: str, tmp_path: Path
) -> None:
    url, repo = pg_repo
    seed = _seed()
    rng = random.Random(seed)
    export, uids = _export(tmp_path, 8_000, seed=11, name="big")
    # The duration of one uninterrupted import, measured on a database of its own.
    import psycopg

    scratch = url.rpartition("/")[2] + "_scratch"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        scratch_url = url.rpartition("/")[0] + "/" + scratch
        scratch_repo = init_pg_repo(scratch_url, tmp_path / "scratch" / "AIMemory")
        full = _timed(aimem_argv("--dir", str(scratch_repo), "import", str(export)))
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    argv = aimem_argv("--dir", str(repo), "import", str(export))
    for _ in range(5):
        _kill_after(argv, rng.uniform(0.0, full * 1.05))
        wait_for_backends_gone(url)
        stored = uid_counts(url)
        assert set(stored) in (set(), uids), (seed, "an import was partly applied", len(stored))
        assert all(count == 1 for count in stored.values()), seed
        assert_pg_consistent(url, repo)
        if stored:
            break
    done = aimem_on(repo, "import", "--json", str(export))
    assert done.returncode == 0, done.stderr.decode()
    assert uid_counts(url) == dict.fromkeys(uids, 1)
    assert_pg_consistent(url, repo)
