"""kill -9 a real push or pull at random moments; then nothing is lost or doubled.

The child runs the real command line with small batches (a module constant
set before the command runs), so the kills land in the comparing, in a
batch's write transaction, its commit, and between batches. After every kill
the receiving repository is consistent (one row per uid, aggregates equal to
a recomputation); a final uninterrupted run completes the transfer, and
``aimem check`` is clean on both sides.
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
from aimem.ops.demo import demo_attempts
from tests.reliability.conftest import assert_consistent, child_env, items

pytestmark = pytest.mark.slow

KILLS = 8
# Small batches, each followed by a short pause, so that a transfer lasts long
# enough on a fast machine for the kills to land between and inside batches.
SMALL_BATCHES = (
    "import sys, time, aimem.ops.sync as s; s.BATCH = 150; s.COMPARE = 400\n"
    "store_batch = s.import_rows\n"
    "def paced(*args, **kwargs):\n"
    "    stored = store_batch(*args, **kwargs)\n"
    "    time.sleep(0.05)\n"
    "    return stored\n"
    "s.import_rows = paced\n"
    "from aimem.cli import main; main(sys.argv[1:])"
)


def _argv(repo: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", SMALL_BATCHES, "--dir", str(repo), *args]


def _uids(repo: Path) -> set[str]:
    with AIMemory(repo, create=False) as memory:
        hot = {r["uid"] for r in memory.store.iter_rows()}
        return hot | {r["uid"] for r in memory.iter_archived_rows()}


@pytest.mark.parametrize("direction", ["push", "pull"])
def test_kill_9_during_transfer_loses_and_doubles_nothing(tmp_path: Path, direction: str) -> None:
    laptop, fleet = tmp_path / "laptop" / "AIMemory", tmp_path / "fleet" / "AIMemory"
    with AIMemory(laptop) as memory:
        memory.record_many(list(demo_attempts(count=3000, days=90, seed=11)))
        memory.cleanup(45)  # some records are sent from archive segments
        memory.add_remote("origin", fleet)
    with AIMemory(fleet) as memory:
        memory.record_many(items(200, seed=12, tag="fleet"))
        memory.add_remote("laptop", laptop)
    # Records go from the laptop to the fleet either way: pushed by a process
    # working in the laptop, or pulled by one working in the fleet.
    sender, receiver = laptop, fleet
    here, remote = (laptop, "origin") if direction == "push" else (fleet, "laptop")
    expected = _uids(sender) | _uids(receiver)
    env = child_env()
    rng = random.Random(direction)
    start = len(_uids(receiver))
    counts = []
    for _ in range(KILLS):
        proc = subprocess.Popen(
            _argv(here, direction, remote, "-q"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert_consistent(receiver)
        assert _uids(receiver) <= expected
        counts.append(len(_uids(receiver)))
    # Some kill landed half-way: batches were stored and others were still to come.
    assert any(start < count < len(expected) for count in counts), counts
    done = subprocess.run(
        _argv(here, direction, remote, "--json"), env=env, capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode()
    assert _uids(receiver) == expected, "a record was lost"
    assert_consistent(receiver)
    again = subprocess.run(
        _argv(here, direction, remote, "--json"), env=env, capture_output=True, timeout=300
    )
    assert b'"sent": 0' in again.stdout
    for repo in (laptop, fleet):
        check = subprocess.run(
            [sys.executable, "-m", "aimem", "--dir", str(repo), "check"],
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
