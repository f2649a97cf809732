"""Archive benchmark: rows archived per second and compression against zstd -19.

``run(rows)`` builds a repository of ``rows`` varied synthetic attempts over a
year (aimem.ops.demo), archives all of them with ``cleanup 0`` and reports:
rows archived per second (end to end: select, encode, write, verify, commit),
our ratio against the raw NDJSON, and ``zstd -19`` / level 3 on the same
rows as time-ordered NDJSON (the export row format), with their speeds.

    python bench/archive_bench.py --rows 100000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _build(path: Path, rows: int, seed: int) -> None:
    from aimem import AIMemory
    from aimem.ops.demo import demo_attempts

    with AIMemory(path) as mem:
        batch: list[dict[str, Any]] = []
        for item in demo_attempts(count=rows, days=365, seed=seed):
            batch.append(item)
            if len(batch) >= 20_000:
                mem.record_many(batch)
                batch = []
        if batch:
            mem.record_many(batch)


def _zstd(data: bytes, level: int) -> tuple[float, float]:
    import zstandard

    start = time.perf_counter()
    out = zstandard.ZstdCompressor(level=level, write_checksum=True).compress(data)
    seconds = time.perf_counter() - start
    return len(data) / len(out), len(data) / seconds / 1e6


def run(rows: int, seed: int = 11, reference: bool = True) -> dict[str, Any]:
    """Figures for ``rows`` rows: ``{"rows": [table rows for bench/run.py], "figures": {...}}``.

    ``reference=False`` skips the slow ``zstd -19`` run.
    """
    figures = measure(rows, seed, reference)
    table: list[dict[str, Any]] = [
        {
            "figure": "rows archived per second (cleanup)",
            "value": figures["rows_archived_per_second"],
            "unit": "/s",
            "target": ">= 50,000/s",
            "met": figures["rows_archived_per_second"] >= 50_000,
        },
        {
            "figure": "segment ratio vs time-ordered NDJSON",
            "value": figures["our_ratio"],
            "unit": "x",
            "peer_value": figures.get("zstd19_ratio"),
            "peer": "zstd -19",
            "ratio": figures.get("ratio_vs_zstd19"),
            "target": ">= 0.9x zstd -19",
            "met": None if "ratio_vs_zstd19" not in figures else figures["ratio_vs_zstd19"] >= 0.9,
        },
        {
            "figure": "zstd -3 ratio on the same NDJSON",
            "value": figures["zstd3_ratio"],
            "unit": "x",
        },
    ]
    if reference:
        table.append(
            {"figure": "zstd -19 speed", "value": figures["zstd19_mb_per_s"], "unit": "MB/s"}
        )
    return {"rows": table, "figures": figures}


def measure(rows: int, seed: int = 11, reference: bool = True) -> dict[str, Any]:
    """The raw figures (see the module docstring)."""
    import orjson

    from aimem import AIMemory
    from aimem.records import EXPORT_COLUMNS

    os.environ.setdefault("AIMEM_SYNCHRONOUS", "NORMAL")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "AIMemory"
        _build(repo, rows, seed)
        with AIMemory(repo) as mem:
            start = time.perf_counter()
            result = mem.cleanup(0)
            seconds = time.perf_counter() - start
            archived = sorted(mem.iter_archived_rows(), key=lambda r: (r["timestamp"], r["id"]))
        raw = sum(s["raw_bytes"] for s in result["segments"])
        compressed = sum(s["compressed_bytes"] for s in result["segments"])
        ndjson = b"".join(orjson.dumps({c: r[c] for c in EXPORT_COLUMNS}) + b"\n" for r in archived)
        figures: dict[str, Any] = {
            "rows": result["rows"],
            "segments": len(result["segments"]),
            "archive_seconds": round(seconds, 3),
            "rows_archived_per_second": round(result["rows"] / seconds),
            "ndjson_bytes": len(ndjson),
            "segment_bytes": compressed,
            "our_ratio": round(len(ndjson) / compressed, 2),
            "our_ratio_vs_own_raw": round(raw / compressed, 2),
        }
        ratio3, speed3 = _zstd(ndjson, 3)
        figures["zstd3_ratio"] = round(ratio3, 2)
        figures["zstd3_mb_per_s"] = round(speed3, 1)
        if reference:
            ratio19, speed19 = _zstd(ndjson, 19)
            figures["zstd19_ratio"] = round(ratio19, 2)
            figures["zstd19_mb_per_s"] = round(speed19, 2)
            figures["ratio_vs_zstd19"] = round(figures["our_ratio"] / ratio19, 3)
        return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-reference", action="store_true", help="skip zstd -19 (slow)")
    args = parser.parse_args(argv)
    figures = measure(args.rows, reference=not args.no_reference)
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
