"""Timings of the issue-7 features on a generated history.

    python bench/advice_bench.py --records 100000
    PYTHONPATH=/path/to/other/checkout python bench/advice_bench.py --records 20000 --load-only
    python bench/advice_bench.py --records 50000 --migration

Builds a repository in a temp folder from ``aimem.ops.demo.demo_attempts`` (recorded
in batches of 1000), then reports the median wall time of each operation in
milliseconds as one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aimem import AIMemory
from aimem.ops.demo import demo_attempts
from aimem.store.migrations import MIGRATIONS

# The schema version just before migration m012 (whatever its position).
BEFORE_ADVICE = next(
    i for i, m in enumerate(MIGRATIONS) if m.__name__.endswith("_advice_cost_and_fingerprints")
)


def median_ms(action: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--migration",
        action="store_true",
        help="Time migration m012 on a repository rewound to just before it.",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="Only time the load (runs on older code too, for comparison).",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    issue = {
        "model": "qwen2.5:7b",
        "issue_type": "TIMEOUT",
        "description": "Model response timeout after 30 seconds",
    }
    with tempfile.TemporaryDirectory() as folder:
        memory = AIMemory(Path(folder) / "AIMemory")
        items = list(demo_attempts(count=args.records, days=365))
        start = time.perf_counter()
        for i in range(0, len(items), 1000):
            memory.record_many(items[i : i + 1000])
        load_s = time.perf_counter() - start
        if args.migration:
            memory.close()
            database = Path(folder) / "AIMemory" / "ai_memory.db"
            conn = sqlite3.connect(database)
            from aimem.learn.signatures import _legacy_fingerprint_v1

            rows = conn.execute("SELECT id, issue_type, model_name, description FROM fix_history")
            legacy = [(_legacy_fingerprint_v1(t, m, d), i) for i, t, m, d in rows.fetchall()]
            with conn:
                # what schema version 9 stored: the old fingerprints, no cost rollup
                conn.executemany("UPDATE fix_history SET fingerprint = ? WHERE id = ?", legacy)
                conn.execute("DROP TABLE aimem_cost")
                conn.execute(f"PRAGMA user_version = {BEFORE_ADVICE}")
            conn.close()
            start = time.perf_counter()
            AIMemory(Path(folder) / "AIMemory").close()
            print(
                json.dumps(
                    {"records": args.records, "migration_s": round(time.perf_counter() - start, 2)}
                )
            )
            return
        if args.load_only:
            memory.close()
            print(
                json.dumps(
                    {"records": args.records, "load_records_per_s": round(args.records / load_s)}
                )
            )
            return

        def record_one() -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                memory.record_fix_attempt(
                    issue, {"fix_commands": ["# Increase timeout to 120 seconds"]}, True, True, 1.0
                )

        result = {
            "records": args.records,
            "load_records_per_s": round(args.records / load_s),
            "record_one_ms": median_ms(record_one, args.repeat),
            "suggest_ms": median_ms(lambda: memory.suggest(issue), args.repeat),
            "gate_ms": median_ms(lambda: memory.gate(issue, 0.3), args.repeat),
            "alerts_ms": median_ms(memory.alerts, max(3, args.repeat // 4)),
            "cost_analysis_ms": median_ms(memory.get_cost_analysis, args.repeat),
            "successful_ms": median_ms(memory.successful_strategies, args.repeat),
            "patterns_fingerprint_ms": median_ms(
                lambda: memory.patterns(kind="fingerprint"), max(3, args.repeat // 4)
            ),
            "context_ms": median_ms(lambda: memory.build_context(issue), args.repeat),
            "retention_plan_ms": median_ms(lambda: memory.retention_plan(3), 3),
        }
        memory.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
