"""One writer process for bench/pg_bench.py: durable attempts into a repository until a deadline.

Usage: python bench/_pg_writer.py REPO WRITER SECONDS GO_FILE

Opens REPO (an ``AIMemory/`` folder whose config names a PostgreSQL
database) through the public API, says so with GO_FILE.ready-WRITER, waits
until GO_FILE exists (it holds the common start time), then records one attempt per ``record_fix_attempt``
call until SECONDS after that start. Every attempt carries the note
``bench-wWRITER-N`` (N counting from 0), so the bench can tell afterwards
which attempts are stored and how often. Prints
``{"writer", "committed", "start", "end", "latencies"}``: ``committed``
counts the calls that returned, that is the attempts the writer knows are
stored.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

# Synthetic histories repeat failing fixes on purpose: the repeat guard's
# warnings are expected here and would bury the figures.
warnings.filterwarnings("ignore", message=r".*already failed \d+ times")

sys.path.insert(0, str(Path(__file__).resolve().parent))


def tag(writer: int, n: int) -> str:
    return f"bench-w{writer}-{n}"


def main() -> None:
    repo, writer, seconds, go = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
    import datagen

    from aimem import AIMemory

    items = datagen.chunk_items(7000 + writer, 0, 500)
    latencies: list[float] = []
    with AIMemory(repo, create=False) as memory:
        memory.get_memory_stats()  # connected and warm
        (go.parent / f"{go.name}.ready-{writer}").touch()
        while not go.exists():
            time.sleep(0.002)
        start = float(go.read_text() or time.time())
        deadline = start + seconds
        n = 0
        while time.time() < deadline:
            item = dict(items[n % len(items)])
            item["notes"] = tag(writer, n)
            t = time.perf_counter()
            memory.record_fix_attempt(**item)
            latencies.append(time.perf_counter() - t)
            n += 1
        end = time.time()
    print(
        json.dumps(
            {"writer": writer, "committed": n, "start": start, "end": end, "latencies": latencies}
        )
    )


if __name__ == "__main__":
    main()
