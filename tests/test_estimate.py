"""The pooled estimate: each level stands in for the one below until that has its own record."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from aimem.learn.estimate import (
    Counts,
    Posterior,
    base_rate,
    base_rate_without,
    new_fix_prior,
    pooled,
    regularized_beta,
)


def test_a_models_own_record_outweighs_its_family_as_it_grows() -> None:
    family = Counts(100, 90)  # the fix works on the siblings
    few = pooled(Counts(2, 0), Counts(102, 90), Counts(102, 90), 0.5)
    many = pooled(Counts(40, 4), Counts(140, 94), Counts(140, 94), 0.5)
    none = pooled(Counts(), family, family, 0.5)
    assert none.mean > 0.8  # the family stands in for a model that never tried it
    assert 0.4 < few.mean < none.mean  # two failures move it, without erasing the family
    assert many.mean < 0.2  # forty tries on this model decide


def test_no_record_anywhere_starts_at_the_base_rate() -> None:
    assert abs(pooled(Counts(), Counts(), Counts(), 0.3).mean - 0.3) < 1e-9


def test_a_fixs_base_rate_is_its_types_other_fixes() -> None:
    assert base_rate_without(Counts(40, 30), Counts(10, 9)) == base_rate(30, 21)
    # the type's only fix: nothing else is known, so the base is even
    assert base_rate_without(Counts(27, 27), Counts(27, 27)) == 0.5


@settings(max_examples=200)
@given(st.floats(0.0, 1.0), st.integers(0, 500), st.integers(0, 500))
def test_a_prior_claims_no_more_than_the_attempts_it_is_worth(
    base: float, attempts: int, successes: int
) -> None:
    # A model that never tried the fix, a record on other families: the model's
    # belief is a prior worth 4 attempts, so its mean stays within what 4
    # attempts can show under the rule of succession (1/6 to 5/6), however
    # long and one-sided the record it comes from.
    record = Counts(attempts, min(successes, attempts))
    posterior = pooled(Counts(), Counts(), record, base)
    assert 1 / 6 - 1e-9 <= posterior.mean <= 5 / 6 + 1e-9


@settings(max_examples=100)
@given(st.floats(0.01, 0.99), st.floats(0.5, 200), st.floats(0.5, 200))
def test_the_quantile_inverts_the_cdf(q: float, a: float, b: float) -> None:
    x = Posterior(a, b).quantile(q)
    # near 0 or 1 the CDF is steep: check it, and that x is the right place to a float's precision
    assert abs(regularized_beta(x, a, b) - q) < 1e-5


def test_the_cdf_matches_sampling() -> None:
    rng = random.Random(3)
    for a, b, x in ((0.5, 3.0, 0.2), (10.0, 20.0, 0.33), (3.6, 0.4, 0.5)):
        draws = [rng.betavariate(a, b) < x for _ in range(20000)]
        assert abs(sum(draws) / len(draws) - regularized_beta(x, a, b)) < 0.015


def test_a_new_fix_is_worth_more_when_known_fixes_are_poor() -> None:
    poor = new_fix_prior([0.1, 0.2, 0.15, 0.3], 0.2)
    good = new_fix_prior([0.9, 0.95, 0.85], 0.9)
    assert poor.prob_above(0.3) < good.prob_above(0.3)
    assert new_fix_prior([], 0.4).mean == 0.4
