"""kill -9 a real aimem process at many moments; the repository stays whole.

Every kill lands somewhere different: during start-up, validation, the write
transaction, the commit, or the close-time rewrite of knowledge_base.json. The
delays are fractions of one uninterrupted run measured first, so the loop
covers the whole life of the process on fast and slow machines alike.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from aimem import AIMemory
from tests.reliability.conftest import (
    aimem_argv,
    assert_consistent,
    child_env,
    items,
    ndjson,
    row_count,
)

pytestmark = pytest.mark.slow

FRACTIONS = (0.2, 0.4, 0.6, 0.75, 0.85, 0.95)


def _run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return time.perf_counter() - started


def _kill_after(argv: list[str], env: dict[str, str], delay: float) -> int:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def _kb_is_whole(repo: Path) -> None:
    document = orjson.loads((repo / "knowledge_base.json").read_bytes())
    assert document["format"] == "aimem-knowledge-base"


def test_kill_during_batch_record_is_all_or_nothing(seeded: Path, tmp_path: Path) -> None:
    env = child_env(AIMEM_DIR=str(seeded))
    batch = tmp_path / "batch.ndjson"
    size = 150
    batch.write_bytes(ndjson(items(size, seed=5, tag="batch")))
    argv = aimem_argv("record", "--input", str(batch))
    full = _run(argv, env)  # one uninterrupted run: +size
    committed = row_count(seeded)
    outcomes = []
    for fraction in FRACTIONS:
        _kill_after(argv, env, full * fraction)
        now = row_count(seeded)
        assert now - committed in (0, size), "a batch was partly recorded"
        outcomes.append(now - committed)
        committed = now
        assert_consistent(seeded)
        _kb_is_whole(seeded)
    # Nothing committed was lost, and the repository still takes writes.
    with AIMemory(seeded, create=False) as memory:
        assert memory.get_memory_stats()["total_fixes_attempted"] == committed
        memory.record_many(items(3, seed=6))
    assert row_count(seeded) == committed + 3
    assert_consistent(seeded)
    # After a clean writer, the knowledge base file is current again, not "modified".
    with AIMemory(seeded, create=False) as memory:
        assert memory.knowledge_file.state() == "current"


def test_kill_during_knowledge_base_import(seeded: Path, tmp_path: Path) -> None:
    env = child_env(AIMEM_DIR=str(seeded))
    external = {
        f"lesson_{n}": {
            "issue": "TIMEOUT",
            "fix": f"raise the timeout to {n}s",
            "n": list(range(30)),
        }
        for n in range(1500)
    }
    source = tmp_path / "external.json"
    source.write_bytes(orjson.dumps(external))
    # A first, uninterrupted import of a different file measures the duration.
    warm = tmp_path / "warm.json"
    warm.write_bytes(orjson.dumps({f"warm_{k}": v for k, v in external.items()}))
    full = _run(aimem_argv("kb", "import", str(warm)), env)
    new_keys = set(external)
    imported_once = False
    for fraction in FRACTIONS:
        _kill_after(aimem_argv("kb", "import", str(source)), env, full * fraction)
        with AIMemory(seeded, create=False) as memory:
            present = set(memory.knowledge_base["imported"]) & new_keys
        assert present in (set(), new_keys), "an import was partly applied"
        imported_once = imported_once or present == new_keys
        _kb_is_whole(seeded)
        assert_consistent(seeded)
    _run(aimem_argv("kb", "import", str(source)), env)
    with AIMemory(seeded, create=False) as memory:
        assert new_keys <= set(memory.knowledge_base["imported"])
    _kb_is_whole(seeded)


KILL_BEFORE_RECORDING = """
import os, sys
from aimem import AIMemory
from aimem.store.sqlite import Store
from tests.reliability.conftest import items

real = Store.set_meta
def set_meta(self, key, value):
    if key == "kb_file":
        os.kill(os.getpid(), 9)  # the file is renamed into place; its record is not written
    real(self, key, value)
Store.set_meta = set_meta
memory = AIMemory(sys.argv[1], create=False)
memory.record_many(items(3, seed=7, tag="window"))
memory.close()
"""


def test_kill_between_kb_rename_and_its_record(seeded: Path) -> None:
    import sys

    killed = subprocess.run(
        [sys.executable, "-c", KILL_BEFORE_RECORDING, str(seeded)],
        env=child_env(),
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    _kb_is_whole(seeded)
    with AIMemory(seeded, create=False) as memory:
        # The file is aimem's own: current, not mistaken for a hand edit.
        assert memory.knowledge_file.state() == "current"
        memory.record_many(items(1, seed=8))
    with AIMemory(seeded, create=False) as memory:
        assert memory.knowledge_file.state() == "current"
    assert_consistent(seeded)
