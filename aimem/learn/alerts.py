"""Regressions, fixer drift and issue spikes: ``aimem alerts``.

Three detectors, each cheap on a large history (rollups and indexed ranges):

- ``regression``: a failure fingerprint that had a verified fix and has failed
  again since, within the window (``days``). The verified fix is read from the
  fix-outcome rollup (archive included); the failures after it from the hot
  rows (fingerprint index).
- ``drift``: a fixer whose verified-success rate over the last ``drift_days``
  is significantly lower than over all its history before that, by a one-sided
  two-proportion z-test (pooled) at p < 0.01, with at least
  ``DRIFT_MIN_RECENT`` recent and ``DRIFT_MIN_BASELINE`` earlier attempts.
- ``spike``: an issue type whose count on the day being checked (UTC, today
  by default) exceeds the trailing ``SPIKE_BASELINE_DAYS`` days' mean plus 3
  standard deviations, the deviation floored at the Poisson sqrt(mean) and at 1
  (so a flat or empty baseline does not alert on noise), with at least
  ``SPIKE_MIN_COUNT`` attempts that day.

``aimem alerts`` exits 0 when nothing is found and 3 when any alert is found.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from aimem.errors import InvalidInputError
from aimem.learn.stats_math import rate
from aimem.store import Store
from aimem.timeutil import bounded_moment, format_utc, utcnow

EXIT_NONE = 0
EXIT_FOUND = 3
DRIFT_MIN_RECENT = 10
DRIFT_MIN_BASELINE = 20
DRIFT_P_VALUE = 0.01
SPIKE_BASELINE_DAYS = 14
SPIKE_SIGMAS = 3.0
SPIKE_MIN_COUNT = 5
ALERT_KINDS = ("regression", "drift", "spike")


def _now(now: str | datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if isinstance(now, datetime):
        return now
    try:
        return bounded_moment(now)
    except ValueError as error:
        problem = (
            str(error) if "outside" in str(error) else f"is not an ISO 8601 timestamp: {now!r}"
        )
        raise InvalidInputError("now", problem) from None


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3650:
        raise InvalidInputError(name, "must be a positive number of days (at most 3650)")
    return float(value)


def regressions(store: Store, now: datetime, days: float) -> list[dict[str, Any]]:
    """Fingerprints that failed in the window after their latest verified success."""
    until = format_utc(now)
    since = format_utc(now - timedelta(days=days))
    found = []
    for group in store.failures_by_fingerprint(since, until):
        fixed = store.last_fingerprint_success(group["fingerprint"])
        if fixed is None or fixed["last_success"] >= group["last_failure"]:
            continue
        after = store.fingerprint_rows_after(group["fingerprint"], fixed["last_success"], until)
        failures = [r for r in after if not r[4]]
        if not failures:
            continue
        latest = failures[-1]
        commands = " && ".join(fixed["fix_commands"]) or "(no commands)"
        found.append(
            {
                "kind": "regression",
                "subject": group["fingerprint"],
                "message": (
                    f"{latest[2]} on {latest[1]} fails again: {len(failures)} failure(s) since "
                    f"`{commands}` fixed it on {fixed['last_success'][:10]}"
                ),
                "detail": {
                    "fingerprint": group["fingerprint"],
                    "issue_type": latest[2],
                    "model_name": latest[1],
                    "description": latest[3],
                    "fixed_at": fixed["last_success"],
                    "fixed_by": fixed["fix_commands"],
                    "failures_since_fix": len(failures),
                    "first_failure_after_fix": failures[0][0],
                    "last_failure": latest[0],
                },
            }
        )
    found.sort(key=lambda a: (a["detail"]["last_failure"], a["subject"]), reverse=True)
    return found


def two_proportion_z(s1: int, n1: int, s2: int, n2: int) -> float:
    """z of (s1/n1 - s2/n2) with the pooled standard error (0 when undefined)."""
    if n1 == 0 or n2 == 0:
        return 0.0
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 0.0 if se == 0 else (s1 / n1 - s2 / n2) / se


def drift(store: Store, now: datetime, drift_days: float) -> list[dict[str, Any]]:
    """Fixers whose recent success rate fell significantly below their own history."""
    start = (now - timedelta(days=drift_days)).strftime("%Y-%m-%d")
    today = now.strftime("%Y-%m-%d")
    recent: dict[str, list[int]] = {}
    later: dict[str, list[int]] = {}  # after the checked day (replaying an earlier moment)
    for row in store.daily(start):
        entry = (later if row["day"] > today else recent).setdefault(row["fixer_type"], [0, 0])
        entry[0] += row["attempts"]
        entry[1] += row["successes"]
    found = []
    for total in store.totals_by("fixer_type"):
        fixer = total["fixer_type"]
        n_recent, s_recent = recent.get(fixer, [0, 0])
        n_later, s_later = later.get(fixer, [0, 0])
        n_base = total["attempts"] - n_recent - n_later
        s_base = total["successes"] - s_recent - s_later
        if n_recent < DRIFT_MIN_RECENT or n_base < DRIFT_MIN_BASELINE:
            continue
        z = two_proportion_z(s_recent, n_recent, s_base, n_base)
        p_value = 0.5 * math.erfc(-z / math.sqrt(2))
        if z >= 0 or p_value >= DRIFT_P_VALUE:
            continue
        found.append(
            {
                "kind": "drift",
                "subject": fixer,
                "message": (
                    f"fixer {fixer}: {rate(s_recent, n_recent):.0%} verified over the last "
                    f"{drift_days:g} days against {rate(s_base, n_base):.0%} before "
                    f"(z = {z:.2f}, p = {p_value:.2g})"
                ),
                "detail": {
                    "fixer_type": fixer,
                    "recent": {
                        "since_day": start,
                        "attempts": n_recent,
                        "successes": s_recent,
                        "success_rate": round(rate(s_recent, n_recent), 4),
                    },
                    "baseline": {
                        "before_day": start,
                        "attempts": n_base,
                        "successes": s_base,
                        "success_rate": round(rate(s_base, n_base), 4),
                    },
                    "z": round(z, 4),
                    "p_value": p_value,
                    "test": "two-proportion z-test, pooled, one-sided",
                },
            }
        )
    return sorted(found, key=lambda a: a["detail"]["z"])


def spikes(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Issue types whose count on ``now``'s UTC day is far above the trailing baseline."""
    day = now.strftime("%Y-%m-%d")
    first = (now - timedelta(days=SPIKE_BASELINE_DAYS)).strftime("%Y-%m-%d")
    baseline_days = [
        (now - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(1, SPIKE_BASELINE_DAYS + 1)
    ]
    counts: dict[str, dict[str, int]] = {}
    for row in store.daily(first):
        if row["day"] > day:
            continue
        per_day = counts.setdefault(row["issue_type"], {})
        per_day[row["day"]] = per_day.get(row["day"], 0) + row["attempts"]
    found = []
    for issue_type, per_day in sorted(counts.items()):
        count = per_day.get(day, 0)
        if count < SPIKE_MIN_COUNT:
            continue
        values = [per_day.get(d, 0) for d in baseline_days]
        mean = sum(values) / len(values)
        sigma = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        spread = max(sigma, math.sqrt(mean), 1.0)
        threshold = mean + SPIKE_SIGMAS * spread
        if count <= threshold:
            continue
        found.append(
            {
                "kind": "spike",
                "subject": issue_type,
                "message": (
                    f"{issue_type}: {count} attempts on {day} against a {SPIKE_BASELINE_DAYS}-day "
                    f"mean of {mean:.1f} (threshold {threshold:.1f})"
                ),
                "detail": {
                    "issue_type": issue_type,
                    "day": day,
                    "count": count,
                    "baseline_days": SPIKE_BASELINE_DAYS,
                    "baseline_mean": round(mean, 4),
                    "baseline_stddev": round(sigma, 4),
                    "threshold": round(threshold, 4),
                    "rule": "count > mean + 3 * max(stddev, sqrt(mean), 1) and count >= 5",
                },
            }
        )
    return found


def alerts(
    store: Store,
    days: float = 7,
    drift_days: float = 7,
    now: str | datetime | None = None,
    kinds: list[str] | None = None,
) -> dict[str, Any]:
    """Every alert of the requested kinds, as one JSON-ready document."""
    days = _positive("days", days)
    drift_days = _positive("drift_days", drift_days)
    moment = _now(now)
    chosen = kinds or list(ALERT_KINDS)
    for kind in chosen:
        if kind not in ALERT_KINDS:
            raise InvalidInputError(
                "kind", f"unknown alert kind {kind!r}", hint="use regression, drift or spike"
            )
    found: list[dict[str, Any]] = []
    if "regression" in chosen:
        found += regressions(store, moment, days)
    if "drift" in chosen:
        found += drift(store, moment, drift_days)
    if "spike" in chosen:
        found += spikes(store, moment)
    return {
        "checked_at": format_utc(moment),
        "window_days": days,
        "drift_days": drift_days,
        "kinds": chosen,
        "count": len(found),
        "exit_code": EXIT_FOUND if found else EXIT_NONE,
        "alerts": found,
    }
