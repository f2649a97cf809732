"""Eight real processes recording into one repository at once lose nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from aimem import AIMemory
from tests.oracle import assert_aggregates_match

pytestmark = pytest.mark.slow

WRITER = r"""
import sys, warnings
from aimem import AIMemory
directory, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with AIMemory(directory) as memory:
    for n in range(count):
        memory.record_fix_attempt(
            {"model": f"model{worker % 3}:7b", "issue_type": ["TIMEOUT", "ERROR"][n % 2],
             "description": f"worker {worker} attempt {n}", "test_prompt": f"p{n % 4}"},
            {"analysis": "a", "fix_commands": [f"fix {n % 5}"]},
            n % 3 != 0, n % 2 == 0, float(n), notes=f"w{worker}", fixer_type="claude",
        )
print("done")
"""


# The write queue's plain alternative: no lock file, so every writer waits in
# SQLite's busy handler (what a writer does when the queue cannot serve it).
WITHOUT_QUEUE = r"""
from aimem.store.connection import WriteQueue
WriteQueue._open = lambda self: None
"""


@pytest.mark.parametrize("queue", [True, False], ids=["write-queue", "busy-timeout"])
def test_eight_writers_lose_nothing(repo_dir: Path, tmp_path: Path, queue: bool) -> None:
    AIMemory(repo_dir).close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER if queue else WITHOUT_QUEUE + WRITER)
    per_worker = 40
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(repo_dir), str(w), str(per_worker)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(8)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        assert b"locked" not in err
    db = repo_dir / "ai_memory.db"
    conn = sqlite3.connect(db)
    try:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT uid) FROM fix_history"
        ).fetchone()
        per = dict(
            conn.execute("SELECT notes, count(*) FROM fix_history GROUP BY notes").fetchall()
        )
    finally:
        conn.close()
    assert total == distinct == 8 * per_worker
    assert per == {f"w{w}": per_worker for w in range(8)}
    assert_aggregates_match(db)
    with AIMemory(repo_dir) as memory:
        assert memory.get_memory_stats()["total_fixes_attempted"] == 8 * per_worker
        assert memory.sync_knowledge_base() == "current"


def test_concurrent_first_open_migrates_once(repo_dir: Path) -> None:
    code = "import sys; from aimem import AIMemory; AIMemory(sys.argv[1]).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(repo_dir)], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with AIMemory(repo_dir) as memory:
        assert memory.store.count_rows() == 0
