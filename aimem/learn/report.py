"""The "Export Complete Report" of the seed system: statistics, model insights, knowledge
base, historical trends, and every learned pattern of every kind.

The report is written as it is read: one model's insights, one pattern at a
time, from a single read snapshot whose sorts spill to temporary files, so
memory stays flat however many patterns there are. The bytes are exactly ``orjson.dumps(report,
OPT_INDENT_2)`` of the whole document (a test compares them), and
``pattern_counts`` at the end says how many patterns of each kind it holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import orjson

from aimem.learn import learning
from aimem.store import Store
from aimem.timeutil import now_iso, output_timestamps


class ReportSource(Protocol):
    """What the report is made from (``AIMemory`` is one)."""

    store: Store

    @property
    def knowledge_base(self) -> dict[str, Any]: ...

    def get_memory_stats(self) -> dict[str, Any]: ...

    def models(self) -> list[dict[str, Any]]: ...

    def get_model_insights(self, model_name: str) -> dict[str, Any]: ...

    def analytics(self) -> dict[str, Any]: ...

    def patterns(self, kind: str | None = None) -> list[dict[str, Any]]: ...


_INDENT = orjson.OPT_INDENT_2
# Patterns are written in batches: one write per pattern costs more than the JSON.
_BATCH = 500


def iter_patterns(memory: ReportSource) -> Iterator[dict[str, Any]]:
    """Every pattern of every kind, in ``learning.PATTERN_KINDS`` order, streamed.

    Within a kind: most attempts first, then by name (fingerprint patterns:
    by fingerprint). Exact and fingerprint patterns, the many, come from the
    database a row at a time.
    """
    store = memory.store
    for row in store.iter_exact_patterns():
        yield learning.exact_pattern(row)
    for kind in ("model", "general", "temporal"):
        # One per issue type (and family): few, so built as a list.
        yield from memory.patterns(kind=kind)
    for row in store.iter_fingerprint_summaries(learning.FINGERPRINT_MIN_ATTEMPTS):
        yield learning.fingerprint_pattern(store, row)


def _member(key: str, value: Any, last: bool = False, stored: bool = False) -> bytes:
    # One top-level member as orjson indents it inside the document; timestamps
    # as machine output writes them, except in a stored document (``stored``).
    value = value if stored else output_timestamps(value)
    body = orjson.dumps(value, option=_INDENT).replace(b"\n", b"\n  ")
    return b'  "' + key.encode() + b'": ' + body + (b"\n" if last else b",\n")


def iter_report(memory: ReportSource) -> Iterator[bytes]:
    """The report as JSON bytes, in pieces (see the module docstring).

    The statistics come first and outside the read transaction: they may
    bring ``knowledge_base.json`` up to date, which is a write.
    """
    generated = now_iso()
    statistics = memory.get_memory_stats()
    with memory.store.streaming_snapshot():
        yield b"{\n" + _member("generated_at", generated) + _member("statistics", statistics)
        models = [m["model_name"] for m in memory.models()]
        if models:
            yield b'  "model_insights": {\n'
            for n, name in enumerate(models):
                insights = orjson.dumps(
                    {name: output_timestamps(memory.get_model_insights(name))}, option=_INDENT
                )
                # '{\n  "name": {...}\n}' -> its member line, indented one level more.
                inner = insights[2:-2].replace(b"\n", b"\n  ")
                yield b"  " + inner + (b",\n" if n + 1 < len(models) else b"\n")
            yield b"  },\n"
        else:
            yield _member("model_insights", {})
        # the knowledge base file as it is stored, as 'aimem kb show' prints it
        yield _member("knowledge_base", memory.knowledge_base, stored=True)
        yield _member("historical_trends", memory.analytics())
        counts = dict.fromkeys(learning.PATTERN_KINDS, 0)
        total = 0
        batch: list[bytes] = []
        for pattern in iter_patterns(memory):
            counts[pattern["kind"]] += 1
            total += 1
            body = orjson.dumps(output_timestamps(pattern), option=_INDENT).replace(
                b"\n", b"\n    "
            )
            batch.append((b'  "patterns": [\n    ' if total == 1 else b",\n    ") + body)
            if len(batch) >= _BATCH:
                yield b"".join(batch)
                batch.clear()
        if total:
            yield b"".join(batch) + b"\n  ],\n"
        else:
            yield b'  "patterns": [],\n'
        yield _member("pattern_counts", counts, last=True) + b"}\n"


def report(memory: ReportSource) -> dict[str, Any]:
    """The whole report as one dict (``insights_report``): every pattern, in memory."""
    return dict(orjson.loads(b"".join(iter_report(memory))))
