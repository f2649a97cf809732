"""Latency of ``suggest`` (and ``context``) on large histories.

    python bench/suggest_bench.py                       # 100k and 1M records
    python bench/suggest_bench.py --sizes 100000 --repeat 300

The 100k repository is bench/datagen.py's cached one. The 1M repository is
that history copied ten times in SQL (each copy a day later, with fresh uids),
its aggregates recomputed once (generating 1M attempts one by one takes over
half an hour); it is cached beside datagen's repositories. Each size is opened once (timing the open, which runs any
pending migration), then ``suggest`` is asked about the models and issue types
of the history in turn. Prints one JSON object: median and 95th percentile in
milliseconds per operation and size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datagen

from aimem import AIMemory

QUESTIONS = [
    (model, issue_type, description)
    for model in ("qwen2.5:7b", "llama3.1:8b", "mistral:7b", "qwen2.5:14b")
    for issue_type, description in (
        ("TIMEOUT", "Model response timeout after 30 seconds"),
        ("MODEL_NOT_AVAILABLE", "model not found, try pulling it first"),
        ("ERROR", "CUDA out of memory"),
        ("UNEXPECTED_RESPONSE", "Expected JSON, got prose"),
    )
]


def grow(source: Path, target: Path, copies: int) -> None:
    """``target``: the history of ``source`` repeated ``copies`` times, aggregates recomputed."""
    shutil.copytree(source, target)
    conn = sqlite3.connect(target / "ai_memory.db")
    columns = [
        r[1] for r in conn.execute("PRAGMA table_info(fix_history)").fetchall() if r[1] != "id"
    ]
    plain = ", ".join(c for c in columns if c not in ("uid", "timestamp"))
    with conn:
        for copy in range(1, copies):
            conn.execute(
                f"""INSERT INTO fix_history ({plain}, uid, timestamp)
                    SELECT {plain}, uid || '-{copy}',
                           strftime('%Y-%m-%d %H:%M:%f', timestamp, '+{copy} days') || 'Z'
                    FROM fix_history WHERE uid NOT LIKE '%-%'"""
            )
    conn.close()
    from aimem.store.connection import atomic
    from aimem.store.rebuild import rebuild_aggregates

    with AIMemory(target) as memory, atomic(memory.store.conn):
        rebuild_aggregates(memory.store.conn)


def timings(memory: AIMemory, repeat: int) -> dict[str, dict[str, float]]:
    result = {}
    for name, action in (
        (
            "suggest",
            lambda q: memory.suggest({"model": q[0], "issue_type": q[1], "description": q[2]}),
        ),
        (
            "context",
            lambda q: memory.build_context(
                {"model": q[0], "issue_type": q[1], "description": q[2]}
            ),
        ),
    ):
        times = []
        for i in range(repeat):
            question = QUESTIONS[i % len(QUESTIONS)]
            start = time.perf_counter()
            action(question)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        result[name] = {
            "median_ms": round(statistics.median(times), 3),
            "p95_ms": round(times[int(len(times) * 0.95)], 3),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    sizes = [int(s) for s in args.sizes.split(",")]
    base, _ = datagen.build_repository(100_000)
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="aimem-suggest-") as tmp:
        for size in sizes:
            target = Path(tmp) / f"repo-{size}"
            if size % 100_000:
                raise SystemExit("sizes are multiples of 100000")
            cached = datagen.CACHE / f"grown-{size}" / "AIMemory"
            if size == 100_000:
                cached = base
            elif not (cached.parent / "complete").exists():
                shutil.rmtree(cached.parent, ignore_errors=True)
                grow(base, cached, size // 100_000)
                (cached.parent / "complete").write_text("")
            shutil.copytree(cached, target)
            start = time.perf_counter()
            memory = AIMemory(target)
            opened = time.perf_counter() - start
            report[str(size)] = {"open_s": round(opened, 2), **timings(memory, args.repeat)}
            memory.close()
            print(json.dumps({size: report[str(size)]}), file=sys.stderr)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
