"""kill -9 a real ``aimem cleanup`` / ``aimem archive thaw`` at named moments and at random.

After each kill: no row lost, none doubled, aggregates unchanged, and the next
open (or ``check --repair``) finishes or undoes the half-done step.
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
from tests.archive_helpers import all_rows, learned, seeded
from tests.reliability.paused_aimem import CLEANUP_STEPS, THAW_STEPS

pytestmark = pytest.mark.slow

PAUSED_AIMEM = Path(__file__).with_name("paused_aimem.py")


def _spawn(
    repo: Path,
    args: list[str],
    env_extra: dict[str, str],
    runner: tuple[str, ...] = ("-m", "aimem"),
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, AIMEM_DIR=str(repo), **env_extra)
    return subprocess.Popen(
        [sys.executable, *runner, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_at(repo: Path, tmp: Path, args: list[str], step: str) -> None:
    """Run ``aimem ARGS`` stopped at ``step`` (see paused_aimem.py), then kill -9 it there."""
    signal_file = tmp / f"paused-{step}"
    proc = _spawn(repo, args, {}, (str(PAUSED_AIMEM), step, str(signal_file)))
    deadline = time.monotonic() + 60
    while not signal_file.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before {step}: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"never reached {step}"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _assert_whole(repo: Path, before: dict, uids: set[str]) -> None:
    with AIMemory(repo) as mem:  # opening finishes or undoes the half-done step
        hot, cold = all_rows(mem)
        hot_uids = [r["uid"] for r in hot]
        cold_uids = [r["uid"] for r in cold]
        assert len(hot_uids) + len(cold_uids) == len(uids), "a row was lost or doubled"
        assert set(hot_uids) | set(cold_uids) == uids
        assert mem.store.pending() == []
        assert learned(mem) == before
        report = mem.check()
        assert report.ok, [f.line() for f in report.findings]
        # A kill between the commit and the knowledge base file's update leaves
        # the file one write behind: a hint, caught up by the next write.
        expected = ("leftover-temp", "stale-knowledge-base")
        assert [f for f in report.findings if f.kind not in expected] == []


@pytest.fixture
def crash_repo(repo_dir: Path) -> tuple[Path, dict, set[str]]:
    seeded(repo_dir, count=300)
    with AIMemory(repo_dir) as mem:
        before = learned(mem)
        uids = {r["uid"] for r in mem.store.iter_rows()}
    return repo_dir, before, uids


@pytest.mark.parametrize("step", CLEANUP_STEPS)
def test_kill_cleanup_at_each_step(
    crash_repo: tuple[Path, dict, set[str]], tmp_path: Path, step: str
) -> None:
    repo, before, uids = crash_repo
    _kill_at(repo, tmp_path, ["cleanup", "20"], step)
    _assert_whole(repo, before, uids)
    # and the repository keeps working: a second cleanup completes
    with AIMemory(repo) as mem:
        mem.cleanup(20)
    _assert_whole(repo, before, uids)


@pytest.mark.parametrize("step", CLEANUP_STEPS[3:6])
def test_kill_purge_then_check_repair(
    crash_repo: tuple[Path, dict, set[str]], tmp_path: Path, step: str
) -> None:
    repo, before, uids = crash_repo
    _kill_at(repo, tmp_path, ["cleanup", "20", "--purge", "--yes"], step)
    from tests.conftest import run_aimem

    fixed = run_aimem("check", "--repair", "--yes", env={"AIMEM_DIR": str(repo)})
    assert fixed.returncode == 0, fixed.stderr
    _assert_whole(repo, before, uids)


@pytest.mark.parametrize("step", THAW_STEPS)
def test_kill_thaw(crash_repo: tuple[Path, dict, set[str]], tmp_path: Path, step: str) -> None:
    repo, before, uids = crash_repo
    with AIMemory(repo) as mem:
        name = mem.cleanup(20)["segments"][0]["name"]
    _kill_at(repo, tmp_path, ["archive", "thaw", name], step)
    _assert_whole(repo, before, uids)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_cleanup_at_random_moments(crash_repo: tuple[Path, dict, set[str]], seed: int) -> None:
    repo, before, uids = crash_repo
    delay = random.Random(seed).uniform(0.2, 1.2)
    proc = _spawn(repo, ["cleanup", "20"], {"AIMEM_SEGMENT_ROWS": "40"})
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _assert_whole(repo, before, uids)


WRITER = """
import sys
from aimem import AIMemory
from aimem.ops.demo import demo_attempts

items = list(demo_attempts(count=200, days=1, seed=9))
with AIMemory(sys.argv[1]) as mem:
    for n in range(0, 200, 10):
        for item in items[n : n + 10]:
            item.pop("timestamp")
        mem.record_many(items[n : n + 10])
"""


def test_cleanup_while_another_process_records(
    crash_repo: tuple[Path, dict, set[str]],
) -> None:
    repo, _, uids = crash_repo
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(repo)])
    cleaner = _spawn(repo, ["cleanup", "0"], {"AIMEM_SEGMENT_ROWS": "50"})
    assert writer.wait(timeout=120) == 0
    assert cleaner.wait(timeout=120) == 0, cleaner.stderr.read()  # type: ignore[union-attr]
    with AIMemory(repo) as mem:
        hot, cold = all_rows(mem)
        found = [r["uid"] for r in hot + cold]
        assert len(found) == len(set(found)) == len(uids) + 200
        assert uids <= set(found)
        assert mem.get_memory_stats()["total_fixes_attempted"] == len(uids) + 200
        assert mem.check().ok
