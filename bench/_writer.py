"""One concurrent writer for bench/run.py: records N attempts, prints its latencies as JSON.

Usage: python bench/_writer.py REPO N SEED GO_FILE [aimem|floor|floor-normal]

Waits until GO_FILE exists (so all writers start together), then records N
attempts one durable transaction each, and prints {"latencies": [...], "uids": [...]}.
In ``floor`` mode it does the same with plain sqlite3 (BEGIN IMMEDIATE, one row,
COMMIT) into the seed schema, the physical limit the aimem figure is set against.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

# Synthetic histories repeat failing fixes on purpose: the repeat guard's
# warnings are expected here and would bury the figures.
warnings.filterwarnings("ignore", message=r".*already failed \d+ times")

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    repo, count, seed, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    mode = sys.argv[5] if len(sys.argv) > 5 else "aimem"
    import datagen

    items = datagen.chunk_items(seed, 0, count)
    latencies: list[float] = []
    if mode.startswith("floor"):
        import floor

        conn = floor.connect(Path(repo), "NORMAL" if mode == "floor-normal" else "FULL")
        rows = floor.rows_from_items(items)
        while not go.exists():
            time.sleep(0.001)
        for row in rows:
            t = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(floor.INSERT, row)
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - t)
        conn.close()
        print(json.dumps({"latencies": latencies, "ids": []}))
        return
    from aimem import AIMemory

    ids = []
    with AIMemory(repo, create=False) as memory:
        while not go.exists():
            time.sleep(0.001)
        for item in items:
            t = time.perf_counter()
            ids.append(memory.record_fix_attempt(**item))
            latencies.append(time.perf_counter() - t)
    print(json.dumps({"latencies": latencies, "ids": ids, "pid": os.getpid()}))


if __name__ == "__main__":
    main()
