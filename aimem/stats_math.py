"""Small statistics used by learning: Wilson intervals and chi-square tests."""

from __future__ import annotations

import math

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
    """The design's confidence: ``min(1, attempts / 10)``."""
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
