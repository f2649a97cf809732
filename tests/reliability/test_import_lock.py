"""A large import never makes a concurrent ``record`` fail: real processes.

The import reads and validates its file before it takes the write lock, and
while it merges it holds the merge lock, which tells queued writers to keep
waiting past their busy timeout. Here both processes run with a busy timeout
of 0.2 s, far shorter than the merge, so a writer that gave up at its timeout
would fail; every record must succeed, and at least one must have waited
longer than the timeout (the case that used to fail).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from aimem import AIMemory
from tests.reliability.conftest import assert_consistent, child_env, items, row_count
from tests.reliability.input_helpers import export_rows, ndjson

TIMEOUT_MS = 200
# Patches the busy timeout, then runs one command line or the record loop.
PATCHED = f"""
import sys
import aimem.store.connection as connection
connection.BUSY_TIMEOUT_MS = {TIMEOUT_MS}
"""
IMPORTER = (
    PATCHED
    + """
from aimem.cli import main
sys.argv = ["aimem", "import", sys.argv[1], "--json"]
main()
"""
)
RECORDER = (
    PATCHED
    + """
import itertools, time, orjson
from pathlib import Path
from aimem import AIMemory
from aimem.errors import AimemError
from tests.reliability.conftest import items
repo, done, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
waits, failures, ids = [], [], []
deadline = time.monotonic() + 600
ready.touch()
# Until the import has ended (and a few more): each record a process-like open and close.
for item in itertools.cycle(items(50, seed=7, tag="during")):
    if time.monotonic() > deadline:
        break
    start = time.monotonic()
    try:
        with AIMemory(repo, create=False) as memory:
            ids.append(memory.record_fix_attempt(**item))
    except AimemError as error:
        failures.append(str(error))
    waits.append(time.monotonic() - start)
    if done.exists() and len(ids) + len(failures) >= 5:
        break
print(orjson.dumps({"ids": ids, "failures": failures, "max_wait": max(waits)}).decode())
"""
)


@pytest.mark.slow
def test_records_during_a_long_import_all_succeed(repo_dir: Path, tmp_path: Path) -> None:
    with AIMemory(repo_dir) as memory:
        memory.record_many(items(10, seed=3, tag="before"))
    rows = export_rows(30_000, seed=11)
    source = tmp_path / "big.ndjson"
    source.write_bytes(ndjson(rows))
    env = child_env(AIMEM_DIR=str(repo_dir))
    done, ready = tmp_path / "import-done", tmp_path / "recorder-ready"
    recorder = subprocess.Popen(
        [sys.executable, "-c", RECORDER, str(repo_dir), str(done), str(ready)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    while not ready.exists() and recorder.poll() is None:
        time.sleep(0.01)
    importer = subprocess.run(
        [sys.executable, "-c", IMPORTER, str(source)],
        env=env,
        capture_output=True,
        timeout=600,
    )
    done.touch()
    out, err = recorder.communicate(timeout=600)
    assert importer.returncode == 0, importer.stderr.decode()
    assert orjson.loads(importer.stdout)["added"] == len(rows)
    assert recorder.returncode == 0, err.decode()
    report = orjson.loads(out)
    assert report["failures"] == []
    assert report["max_wait"] > TIMEOUT_MS / 1000, "no record waited for the merge"
    assert row_count(repo_dir) == 10 + len(rows) + len(report["ids"])
    assert_consistent(repo_dir)
