"""Hostile-input benchmark: memory of huge inputs, and how long an import holds the write lock.

Usage:  python bench/hostile_input_bench.py [--array-mb 300] [--line-mib 1024] [--rows 100000]

(0 skips that part.)

- ``array``: ``aimem import`` of a JSON array of valid records written on ONE
  line (``--array-mb`` MB): every record is imported, the array is split as it
  is read; figure: peak RSS of the whole command (its forked reader included).
- ``line``: ``aimem import`` of one NDJSON line of ``--line-mib`` MiB with no
  newline: refused at the line limit; figure: peak RSS, exit code, its one line.
- ``lock``: ``aimem import`` of ``--rows`` NDJSON records into an empty
  repository, in a child process that times the write transaction (the only
  time other writers wait) against the whole command.

Each command runs as a child process through ``_rusage.py`` (peak RSS from
``os.wait4``: the command and the children it waited for). Prints one JSON
document.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import _rusage  # noqa: E402
from transfer_bench import make_rows  # noqa: E402

MIB = 1024 * 1024

# Times the write transaction of one import (Store.transaction) from inside.
TIMED_IMPORT = """
import sys, time, json
from contextlib import contextmanager
from aimem import AIMemory
from aimem.store.sqlite import Store
held = []
plain = Store.transaction
@contextmanager
def timed(self):
    start = time.perf_counter()
    with plain(self) as conn:
        yield conn
    held.append(time.perf_counter() - start)
Store.transaction = timed
start = time.perf_counter()
with AIMemory(sys.argv[1]) as memory:
    summary = memory.import_records(sys.argv[2])
total = time.perf_counter() - start
print(json.dumps({"added": summary["added"], "seconds": total, "longest_lock": max(held)}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def write_array(path: Path, megabytes: int, seed: int = 7) -> int:
    """A JSON array of valid export rows on one line, about ``megabytes`` MB; its row count."""
    rows_file = path.with_suffix(".seed.ndjson")
    make_rows(rows_file, 2000, seed)
    templates = [json.loads(line) for line in rows_file.read_text().splitlines()]
    rows_file.unlink()
    rng = random.Random(seed)
    target = megabytes * 1000 * 1000
    written = count = 0
    with path.open("wb", buffering=MIB) as out:
        out.write(b"[")
        while written < target:
            row = dict(templates[count % len(templates)])
            row["uid"] = f"{rng.getrandbits(128):032x}"
            row["claude_analysis"] = row["claude_analysis"] * 4
            data = (b"," if count else b"") + json.dumps(row, separators=(",", ":")).encode()
            out.write(data)
            written += len(data)
            count += 1
        out.write(b"]")  # no newline anywhere: one line
    return count


def write_line(path: Path, mebibytes: int) -> None:
    """One NDJSON line of ``mebibytes`` MiB, never ended."""
    block = b"x" * MIB
    with path.open("wb") as out:
        out.write(b'{"description": "')
        for _ in range(mebibytes):
            out.write(block)


def measure(argv: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryFile() as err:
        report = _rusage.measure(argv, _env(), stderr=err)
        err.seek(0)
        report["stderr"] = err.read().decode("utf-8", "replace").strip()
    return report


AIMEM = [sys.executable, "-m", "aimem", "--dir"]


def bench_array(work: Path, megabytes: int) -> dict[str, Any]:
    array = work / "array.json"
    count = write_array(array, megabytes)
    size = array.stat().st_size
    run = measure([*AIMEM, str(work / "repo-array"), "import", str(array), "--json"])
    array.unlink()
    return {
        "command": f"aimem import array.json ({size / 1e6:.0f} MB, one line, {count} records)",
        "exit": run["exit"],
        "seconds": round(run["seconds"], 1),
        "peak_rss_mib": round(run["peak_rss_mib"], 1),
    }


def bench_line(work: Path, mebibytes: int) -> dict[str, Any]:
    line = work / "line.ndjson"
    write_line(line, mebibytes)
    run = measure([*AIMEM, str(work / "repo-line"), "import", str(line)])
    line.unlink()
    return {
        "command": f"aimem import line.ndjson (one line of {mebibytes} MiB)",
        "exit": run["exit"],
        "seconds": round(run["seconds"], 2),
        "peak_rss_mib": round(run["peak_rss_mib"], 1),
        "stderr": run["stderr"].replace(str(work) + "/", ""),
    }


def bench_lock(work: Path, rows: int) -> dict[str, Any]:
    source = work / "rows.ndjson"
    make_rows(source, rows)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", TIMED_IMPORT, str(work / "repo-lock"), str(source)],
        env=_env(),
        capture_output=True,
        check=True,
    )
    timing = json.loads(done.stdout)
    return {
        "command": f"aimem import rows.ndjson ({rows} records, empty repository)",
        "added": timing["added"],
        "seconds": round(timing["seconds"], 1),
        "longest_write_lock_seconds": round(timing["longest_lock"], 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--array-mb", type=int, default=300)
    parser.add_argument("--line-mib", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aimem-hostile-") as tmp:
        work = Path(tmp)
        if args.array_mb:
            results["array"] = bench_array(work, args.array_mb)
        if args.line_mib:
            results["line"] = bench_line(work, args.line_mib)
        if args.rows:
            results["lock"] = bench_lock(work, args.rows)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
