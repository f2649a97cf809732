"""Small statistics used by learning: Wilson intervals and chi-square tests."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

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


def wilson_low(successes: int, attempts: int) -> float:
    """The lower bound of the 95% Wilson interval (0 with no data)."""
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
    kept: list[tuple[float, int, str, str, T]] = []
    for row in rows:
        successes, attempts, last_success, tie = counts(row)
        if limit is not None and len(kept) >= limit:
            kept.sort(key=_rank_key)
            kept = kept[:limit]
            if wilson_low(successes, successes) < kept[-1][0]:
                break
        kept.append((wilson_low(successes, attempts), successes, last_success or "", tie, row))
    kept.sort(key=_rank_key)
    if limit is not None:
        kept = kept[:limit]
    return [item[4] for item in kept]


def _rank_key(item: tuple[float, int, str, str, Any]) -> tuple[float, int, list[int], str]:
    low, successes, last_success, tie, _ = item
    # Most recent success first: negate the code points of the timestamp text.
    return (-low, -successes, [-ord(c) for c in last_success] + [1], tie)
