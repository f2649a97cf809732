"""Pooled estimates of a fix's success rate on one model: Beta posteriors in a hierarchy.

Evidence about a fix for an issue type comes at three levels: this model, the
other models of its family, and the other families. Each level's estimate is
the prior of the level below it, with a bounded weight, so

- a fix's own record on this model counts most (it grows without bound);
- its record on sibling models stands in, worth at most ``FAMILY_WEIGHT``
  attempts, until the model has its own record;
- its record on other families is worth at most ``TYPE_WEIGHT`` attempts in
  the family's estimate;
- with no record anywhere, a fix starts at the issue type's base rate (the
  attempts of the type's other fixes), worth ``BASE_WEIGHT`` attempts.

The prior *means* come from the data of the level above (empirical Bayes); the
weights are fixed pseudo-counts, so one noisy family cannot swamp a model's
own record, and a prior's mean stays within what its weight in attempts could
show, so a one-sided record elsewhere cannot make a model that never tried
the fix look certain. Each level excludes the level below's counts, and the
base rate excludes the fix's own, so no attempt is counted twice.

A new fix, one nobody has recorded yet, is an arm too: its rate is drawn from
the spread of the known fixes' estimates (a Beta fitted by moments), so
exploring is worth it while known fixes are few or poor, and stops paying as
good ones are found. Ranking draws one sample per arm, never below the arm's
mean (optimistic Thompson sampling): a fix is tried about in proportion to
the chance that it is the best.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

BASE_WEIGHT = 2.0
TYPE_WEIGHT = 4.0
FAMILY_WEIGHT = 4.0
# Bounds on the new-fix prior's weight: at least one pseudo-attempt (wide when
# little is known), at most 20 (a long tail of known fixes is not certainty
# about the next one).
NEW_FIX_MIN_WEIGHT = 1.0
NEW_FIX_MAX_WEIGHT = 20.0


@dataclass(frozen=True, slots=True)
class Counts:
    """Attempts and verified successes of one fix at one level."""

    attempts: int = 0
    successes: int = 0

    @property
    def failures(self) -> int:
        return self.attempts - self.successes


@dataclass(frozen=True, slots=True)
class Posterior:
    """A Beta(alpha, beta) belief about a success rate."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def sample(self, rng: random.Random) -> float:
        return rng.betavariate(self.alpha, self.beta)

    def prob_above(self, threshold: float) -> float:
        """P(rate > threshold)."""
        return 1.0 - regularized_beta(threshold, self.alpha, self.beta)

    def quantile(self, q: float) -> float:
        """The rate below which the belief puts probability ``q``.

        Newton's method from the normal approximation, kept inside a bracket
        that bisection narrows whenever a step would leave it.
        """
        a, b = self.alpha, self.beta
        mean = a / (a + b)
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        z = _normal_quantile(q)
        low, high = 0.0, 1.0
        x = min(max(mean + z * sd, 1e-9), 1 - 1e-9)
        log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        for _ in range(60):
            error = regularized_beta(x, a, b) - q
            if abs(error) < 1e-10:
                break
            if error < 0:
                low = x
            else:
                high = x
            density = math.exp(log_norm + (a - 1) * math.log(x) + (b - 1) * math.log1p(-x))
            step = x - error / density if density > 0 else -1.0
            previous, x = x, step if low < step < high else (low + high) / 2
            if abs(x - previous) <= 1e-12 * previous:
                break
        return x


def _normal_quantile(q: float) -> float:
    """The standard normal quantile (the start value of the search)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(min(max(q, 1e-12), 1 - 1e-12))


def _prior(mean: float, weight: float) -> tuple[float, float]:
    # A prior worth ``weight`` attempts claims no more than that many attempts
    # could show (the rule of succession: 1/6 to 5/6 for 4). A mean near 0 or 1
    # at a fixed weight is a Beta squeezed against that edge: 27 successes in
    # 27 on one family put a model that never tried the fix at 99%-100%.
    edge = 1 / (weight + 2)
    mean = min(max(mean, edge), 1 - edge)
    return weight * mean, weight * (1 - mean)


def base_rate(attempts: int, successes: int) -> float:
    """An issue type's success rate over all its attempts, with a uniform prior."""
    return (successes + 1) / (attempts + 2)


def base_rate_without(type_total: Counts, fix: Counts) -> float:
    """The base rate of one fix's prior: the issue type's other fixes only.

    The fix's own attempts are counted at the levels ``pooled`` builds on the
    base; counted in the base too, a fix that is most of its type's record
    (27 successes in 27, and little else) looked near certain on a model that
    never tried it.
    """
    return base_rate(
        max(type_total.attempts - fix.attempts, 0), max(type_total.successes - fix.successes, 0)
    )


def pooled(model: Counts, family: Counts, issue_type: Counts, base: float) -> Posterior:
    """The posterior of one fix on one model, from its counts at the three levels.

    ``family`` includes ``model``'s attempts and ``issue_type`` includes
    ``family``'s, as the rollups store them; each level uses only the rest.
    """
    other_families = Counts(
        issue_type.attempts - family.attempts, issue_type.successes - family.successes
    )
    siblings = Counts(family.attempts - model.attempts, family.successes - model.successes)
    a, b = _prior(base, BASE_WEIGHT)
    type_mean = (a + other_families.successes) / (a + b + other_families.attempts)
    a, b = _prior(type_mean, TYPE_WEIGHT)
    family_mean = (a + siblings.successes) / (a + b + siblings.attempts)
    a, b = _prior(family_mean, FAMILY_WEIGHT)
    return Posterior(a + model.successes, b + model.failures)


def new_fix_prior(estimates: list[float], base: float) -> Posterior:
    """The belief about a fix nobody has tried yet: a Beta fitted to the known fixes'
    estimated rates by moments (the base rate, widely, when fewer than two are known)."""
    if len(estimates) < 2:
        a, b = _prior(base, NEW_FIX_MIN_WEIGHT * 2)
        return Posterior(a, b)
    mean = sum(estimates) / len(estimates)
    variance = sum((e - mean) ** 2 for e in estimates) / (len(estimates) - 1)
    mean = min(max(mean, 1e-3), 1 - 1e-3)
    weight = NEW_FIX_MAX_WEIGHT if variance <= 0 else mean * (1 - mean) / variance - 1
    weight = min(max(weight, NEW_FIX_MIN_WEIGHT), NEW_FIX_MAX_WEIGHT)
    a, b = _prior(mean, weight)
    return Posterior(a, b)


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the Beta distribution's CDF (continued fraction, Numerical Recipes)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 200):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-12:
            break
    return h


def seeded_rng(seed: int | None, *state: object) -> random.Random:
    """The generator of one ranking: ``seed`` when given, else one derived from
    ``state`` (the question and the evidence's size), so the same question on
    the same history gets the same answer, and a new record can change it."""
    if seed is not None:
        return random.Random(seed)
    import hashlib

    digest = hashlib.blake2b(repr(state).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))
