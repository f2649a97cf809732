"""Many real processes write one repository at once; nothing is lost or doubled."""

from __future__ import annotations

import subprocess
import sys
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

WRITER = """
import sys, time, orjson
from pathlib import Path
from aimem import AIMemory
repo, go, seed = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
from tests.reliability.conftest import items

batch = items(15, seed=seed, tag=f"api{seed}")
with AIMemory(repo, create=False) as memory:
    while not go.exists():
        time.sleep(0.002)
    ids = [memory.record_fix_attempt(**item) for item in batch]
print(orjson.dumps(ids).decode())
"""


def test_oracle_detects_drift(seeded: Path) -> None:
    # The consistency check used below must be able to fail.
    assert_consistent(seeded)
    with AIMemory(seeded) as memory, memory.store.transaction() as conn:
        conn.execute(
            "UPDATE aimem_totals SET attempts = attempts + 1 "
            "WHERE model_name = (SELECT min(model_name) FROM aimem_totals)"
        )
    with pytest.raises(AssertionError):
        assert_consistent(seeded)


def test_concurrent_cli_and_api_writers(seeded: Path, tmp_path: Path) -> None:
    before = row_count(seeded)
    go = tmp_path / "go"
    env = child_env(AIMEM_DIR=str(seeded))
    procs: list[tuple[str, subprocess.Popen[bytes], int]] = []
    # Three `record --input` batches (all or nothing each), read from stdin after GO.
    batches = [items(25, seed=100 + n, tag=f"cli{n}") for n in range(3)]
    for n, batch in enumerate(batches):
        (tmp_path / f"b{n}.ndjson").write_bytes(ndjson(batch))
    for n in range(3):
        script = (
            "import sys, time, pathlib, runpy;"
            f"go = pathlib.Path({str(go)!r});"
            "[time.sleep(0.002) for _ in iter(lambda: not go.exists(), False)];"
            f"sys.argv = ['aimem', 'record', '--print-json', '--input', {str(tmp_path / f'b{n}.ndjson')!r}];"
            "runpy.run_module('aimem', run_name='__main__')"
        )
        procs.append(
            (
                "cli",
                subprocess.Popen(
                    [sys.executable, "-c", script],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                ),
                25,
            )
        )
    # Two single-attempt `aimem record` processes started as soon as possible.
    for n in range(2):
        argv = aimem_argv(
            "record", "-m", f"proc{n}:1b", "-t", "ERROR", "-d", f"flag writer {n}", "--failure"
        )
        procs.append(
            (
                "flag",
                subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
                1,
            )
        )
    # Three library writers, each 15 durable one-attempt transactions.
    for n in range(3):
        procs.append(
            (
                "api",
                subprocess.Popen(
                    [sys.executable, "-c", WRITER, str(seeded), str(go), str(200 + n)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                ),
                15,
            )
        )
    time.sleep(0.3)
    go.touch()
    ids: list[int] = []
    for kind, proc, count in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (kind, err.decode())
        if kind == "cli":
            got = orjson.loads(out)["ids"]
        elif kind == "api":
            got = orjson.loads(out)
        else:
            got = [int(x) for x in out.split()]
        assert len(got) == count
        ids += got
    expected = 3 * 25 + 2 + 3 * 15
    assert len(set(ids)) == len(ids) == expected
    assert row_count(seeded) == before + expected
    with AIMemory(seeded, create=False) as memory:
        assert all(memory.store.get_row(i) is not None for i in ids)
        assert memory.get_memory_stats()["total_fixes_attempted"] == before + expected
    assert_consistent(seeded)
    # The knowledge base file some writer left last is whole JSON.
    kb = orjson.loads((seeded / "knowledge_base.json").read_bytes())
    assert kb["format"] == "aimem-knowledge-base"
