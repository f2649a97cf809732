"""Small statistics used by learning: Wilson intervals and chi-square tests."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import lru_cache
from heapq import heappush, heapreplace
from operator import itemgetter
from typing import TypeVar

T = TypeVar("T")

Z95 = 1.959963984540054
# Critical chi-square values at p = 0.01 for the degrees of freedom we test.
CHI2_CRITICAL_001 = {6: 16.812, 23: 41.638}


def wilson_interval(successes: int, attempts: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a success rate; (0, 0) with no data."""
    if attempts <= 0:
        return (0.0, 0.0)
    p = successes / attempts
    denominator = 1 + z * z / attempts
    centre = p + z * z / (2 * attempts)
    margin = z * math.sqrt(p * (1 - p) / attempts + z * z / (4 * attempts * attempts))
    low = max(0.0, (centre - margin) / denominator)
    high = min(1.0, (centre + margin) / denominator)
    return (round(low, 6), round(high, 6))


def confidence(attempts: int) -> float:
    """The pattern confidence: ``min(1, attempts / 10)``."""
    return min(1.0, attempts / 10.0)


def rate(successes: int, attempts: int) -> float:
    """Successes over attempts, 0 when there are none."""
    return successes / attempts if attempts else 0.0


def chi_square_uniform(counts: list[int]) -> float:
    """Pearson's chi-square statistic of ``counts`` against a uniform distribution."""
    total = sum(counts)
    if total == 0:
        return 0.0
    expected = total / len(counts)
    return sum((c - expected) ** 2 / expected for c in counts)


@lru_cache(maxsize=65536)
def wilson_low(successes: int, attempts: int) -> float:
    """The lower bound of the 95% Wilson interval (0 with no data).

    Cached: rankings ask for the same counts again and again (a bulk import
    ranks every signature and model it touched)."""
    return wilson_interval(successes, attempts)[0]


def rank_by_wilson(
    rows: Iterable[T],
    counts: Callable[[T], tuple[int, int, str | None, str]],
    limit: int | None = None,
) -> list[T]:
    """Rows ranked by the Wilson lower bound of their success rate, best first.

    ``counts(row)`` gives ``(successes, attempts, last_success, tie_key)``. Ties
    go to more successes, then the most recent success, then ``tie_key``, so
    the order is a function of the counts alone (never of arrival order) and
    1 success in 1 try (lower bound 0.21) ranks below 40 in 50 (0.66).

    When ``rows`` arrive in descending order of successes (as the store's
    index gives them) and ``limit`` is set, reading stops as soon as no later
    row can enter the top ``limit``: its bound is at most ``wilson_low(s, s)``.
    """
    if limit is not None and limit <= 0:
        return []
    kept: list[tuple[float, int, str, str, T]] = []
    lows: list[float] = []  # min-heap of the ``limit`` highest bounds so far
    for row in rows:
        successes, attempts, last_success, tie = counts(row)
        if limit is not None and len(lows) >= limit and wilson_low(successes, successes) < lows[0]:
            break
        low = wilson_low(successes, attempts)
        kept.append((low, successes, last_success or "", tie, row))
        if limit is not None:
            if len(lows) < limit:
                heappush(lows, low)
            elif low > lows[0]:
                heapreplace(lows, low)
    # The order of one composite key, in three stable sorts (cheaper than a key
    # that negates the characters of the timestamp): bound and successes
    # descending, then the latest success, then the tie key ascending.
    kept.sort(key=itemgetter(3))
    kept.sort(key=itemgetter(2), reverse=True)
    kept.sort(key=itemgetter(0, 1), reverse=True)
    return [item[4] for item in kept[:limit]]
