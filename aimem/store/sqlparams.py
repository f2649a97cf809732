"""Parameter lists for ``IN (...)`` queries, in chunks SQLite accepts.

SQLite caps the number of ``?`` in one statement (999 before 3.32); every
lookup by many keys goes through here rather than slicing by hand.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

CHUNK = 500


def in_chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[tuple[list[T], str]]:
    """``(chunk, "?,?,...")`` for each run of at most ``size`` items."""
    for start in range(0, len(items), size):
        chunk = list(items[start : start + size])
        yield chunk, ",".join("?" * len(chunk))
