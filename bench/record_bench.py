"""CPU and wall time of one recorded attempt, next to the durable one-row floor.

    python bench/record_bench.py [--size 100000] [--records 400] [--runs 3]
                                 [--synchronous FULL|NORMAL|OFF] [--code DIR ...]

Each run copies the cached repository (bench/datagen.py), records ``--records``
attempts with ``record_fix_attempt`` (one durable commit each) and reports the
wall time and the CPU time (``time.process_time``) per record; the floor (plain
sqlite3, the seed schema, same pragmas) runs in the same rounds. ``--code``
adds other source trees (for example an older checkout) measured in their own
processes, alternating with this one, so machine load hits every variant alike.
Prints one Markdown table of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _one(kind: str, size: int, records: int, work: Path) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    import datagen
    import floor

    source = datagen.cache_path(size, 1)
    items = datagen.chunk_items(99, 0, records)
    if kind == "floor":
        db = work / "floor.db"
        floor.create(db, prefill_from=source / "ai_memory.db")
        conn = floor.connect(db, os.environ.get("AIMEM_SYNCHRONOUS", "FULL"))
        rows = floor.rows_from_items(items)
        cpu, wall = time.process_time(), time.perf_counter()
        floor.durable_one_row(conn, rows)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        conn.close()
    else:
        warnings.filterwarnings("ignore", message=r".*already failed \d+ times")
        from aimem import AIMemory

        repo = datagen.copy_repository(source, work / "AIMemory")
        with AIMemory(repo, create=False) as memory:
            cpu, wall = time.process_time(), time.perf_counter()
            for item in items:
                memory.record_fix_attempt(**item)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_ms": wall / records * 1000, "cpu_ms": cpu / records * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--synchronous", default=os.environ.get("AIMEM_SYNCHRONOUS", "FULL"))
    parser.add_argument("--code", action="append", default=[], help="another source tree")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory(prefix="aimem-record-bench-") as tmp:
            print(json.dumps(_one(args.child, args.size, args.records, Path(tmp))))
        return 0
    sys.path.insert(0, str(HERE))
    import datagen

    datagen.build_repository(args.size, 1)
    variants = [("floor", str(ROOT)), ("aimem (this tree)", str(ROOT))]
    variants += [(f"aimem ({code})", str(Path(code).resolve())) for code in args.code]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in variants}
    for run in range(args.runs):
        order = variants if run % 2 == 0 else variants[::-1]
        for name, code in order:
            env = dict(os.environ, PYTHONPATH=code, AIMEM_SYNCHRONOUS=args.synchronous)
            argv = [sys.executable, str(HERE / "record_bench.py"), "--child"]
            argv += ["floor" if name == "floor" else "aimem", "--size", str(args.size)]
            argv += ["--records", str(args.records)]
            out = subprocess.run(argv, env=env, capture_output=True, check=True, text=True)
            results[name].append(json.loads(out.stdout))
            sys.stderr.write(f"  {name}: {results[name][-1]}\n")
    floor_wall = statistics.median(r["wall_ms"] for r in results["floor"])
    lines = [
        f"synchronous={args.synchronous}, {args.size:,} rows, {args.records} records, "
        f"medians of {args.runs} runs",
        "",
        "| variant | wall / record | CPU / record | records/s | ratio to floor |",
        "|---|---|---|---|---|",
    ]
    for name, _ in variants:
        wall = statistics.median(r["wall_ms"] for r in results[name])
        cpu = statistics.median(r["cpu_ms"] for r in results[name])
        ratio = floor_wall / wall
        lines.append(
            f"| {name} | {wall:.3f} ms | {cpu:.3f} ms | {1000 / wall:,.0f} | {ratio:.2f}x |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
