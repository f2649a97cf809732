"""Patterns learned from history: exact, model, general and temporal.

- exact: one issue signature (the ``issue_patterns`` rows);
- model: a model family and an issue type;
- general: an issue type across all models;
- temporal: an issue type whose attempts concentrate on some hours of the day
  or days of the week (UTC), reported only when a chi-square test against a
  uniform spread is significant at p < 0.01 with at least 30 attempts;
- fingerprint: one failure fingerprint (the same failure, reworded numbers,
  paths, ids and model tags stripped) seen at least twice.

Each pattern carries counts, ``confidence = min(1, attempts / 10)``, a
95% Wilson interval of its success rate, and its best fix: the
commands with the highest Wilson lower bound, so a fix that worked
once in one try does not outrank one that worked 40 times in 50.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aimem.learn.signatures import model_family
from aimem.learn.stats_math import (
    CHI2_CRITICAL_001,
    chi_square_uniform,
    confidence,
    rank_by_wilson,
    rate,
    wilson_interval,
)
from aimem.store import Store

PATTERN_KINDS = ("exact", "model", "general", "temporal", "fingerprint")
FINGERPRINT_MIN_ATTEMPTS = 2
TEMPORAL_MIN_ATTEMPTS = 30
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _pattern(
    kind: str,
    name: str,
    issue_type: str | None,
    family: str | None,
    signature: str | None,
    successes: int,
    attempts: int,
    best_fix: list[str] | None,
    last_seen: str | None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    low, high = wilson_interval(successes, attempts)
    return {
        "kind": kind,
        "name": name,
        "issue_type": issue_type,
        "model_family": family,
        "issue_signature": signature,
        "attempts": attempts,
        "successes": successes,
        "failures": attempts - successes,
        "success_rate": round(rate(successes, attempts), 6),
        "confidence": confidence(attempts),
        "wilson_low": low,
        "wilson_high": high,
        "best_fix": best_fix,
        "last_seen": last_seen,
        "detail": detail or {},
    }


def exact_patterns(
    store: Store,
    issue_type: str | None = None,
    signature: str | None = None,
    *,
    min_attempts: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    return [
        exact_pattern(row)
        for row in store.exact_patterns(
            issue_type=issue_type,
            signature=signature,
            min_attempts=min_attempts,
            limit=limit,
            order="attempts" if limit is None else "name",
        )
    ]


def exact_pattern(row: dict[str, Any]) -> dict[str, Any]:
    """The exact pattern of one ``issue_patterns`` row (as the store reads it)."""
    return _pattern(
        "exact",
        row["pattern_name"],
        row["issue_type"],
        row["model_family"],
        row["issue_signature"],
        row["success_count"],
        row["success_count"] + row["failure_count"],
        row["best_fix"],
        row["last_seen"],
    )


def model_patterns(
    store: Store, issue_type: str | None = None, family: str | None = None
) -> list[dict[str, Any]]:
    """One pattern per (model family, issue type); ``family`` keeps one family's,
    sparing the ranking query of every other (one per family, a round trip each)."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for row in store.totals_by("model_name", "issue_type", issue_type=issue_type):
        key = (model_family(row["model_name"]), row["issue_type"])
        if family is not None and key[0] != family:
            continue
        group = groups.setdefault(key, [0, 0, ""])
        group[0] += row["attempts"]
        group[1] += row["successes"]
        group[2] = max(group[2], row["last_seen"])
    patterns = []
    for (family, kind_type), (attempts, successes, last_seen) in groups.items():
        best = best_outcome(store, "family_type", f"{family}|{kind_type}")
        patterns.append(
            _pattern(
                "model",
                f"{kind_type} on {family}",
                kind_type,
                family,
                None,
                successes,
                attempts,
                best,
                last_seen,
            )
        )
    return patterns


def best_outcome(store: Store, scope: str, key: str) -> list[str] | None:
    """The fix commands with the highest Wilson lower bound in one scope (None if none worked)."""
    # Every fix of the key, not only those that worked: the same question
    # suggest asks, so a context that asks both reads the rows once.
    worked = [o for o in store.fix_outcomes(scope, key) if o["successes"] >= 1]
    ranked = rank_by_wilson(
        worked,
        lambda o: (o["successes"], o["attempts"], o["last_success"], str(o["fix_commands"])),
        1,
    )
    return list(ranked[0]["fix_commands"]) if ranked else None


def fingerprint_patterns(store: Store, issue_type: str | None = None) -> list[dict[str, Any]]:
    """One pattern per failure fingerprint seen at least twice."""
    return [
        fingerprint_pattern(store, row)
        for row in store.fingerprint_summaries(issue_type, FINGERPRINT_MIN_ATTEMPTS)
    ]


def fingerprint_pattern(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    """The pattern of one ``fingerprint_summaries`` row."""
    description = " ".join((row["description"] or "(archived)").split())
    if len(description) > 60:
        description = description[:59] + "…"
    family = model_family(row["model_name"]) if row["model_name"] else None
    return _pattern(
        "fingerprint",
        f"{row['issue_type'] or '?'}/{family or '?'}: {description} [{row['fingerprint']}]",
        row["issue_type"],
        family,
        None,
        row["successes"],
        row["attempts"],
        best_outcome(store, "fingerprint", row["fingerprint"]),
        row["last_attempt"],
        {"fingerprint": row["fingerprint"], "latest_description": row["description"]},
    )


def general_patterns(store: Store, issue_type: str | None = None) -> list[dict[str, Any]]:
    patterns = []
    for row in store.totals_by("issue_type", issue_type=issue_type):
        best = best_outcome(store, "type", row["issue_type"])
        patterns.append(
            _pattern(
                "general",
                f"{row['issue_type']} across all models",
                row["issue_type"],
                None,
                None,
                row["successes"],
                row["attempts"],
                best,
                row["last_seen"],
            )
        )
    return patterns


def temporal_patterns(store: Store, issue_type: str | None = None) -> list[dict[str, Any]]:
    by_type: dict[str, tuple[list[int], list[int], list[int]]] = {}
    for kind_type, weekday, hour, attempts, successes in store.temporal_counts(issue_type):
        if issue_type is not None and kind_type != issue_type:
            continue
        hours, days, wins = by_type.setdefault(kind_type, ([0] * 24, [0] * 7, [0]))
        hours[hour % 24] += attempts
        days[weekday % 7] += attempts
        wins[0] += successes
    last_seen = {
        row["issue_type"]: row["last_seen"]
        for row in store.totals_by("issue_type", issue_type=issue_type)
    }
    patterns = []
    for kind_type, (hours, days, wins) in sorted(by_type.items()):
        attempts = sum(hours)
        if attempts < TEMPORAL_MIN_ATTEMPTS:
            continue
        for label, counts, critical, names in (
            ("hour", hours, CHI2_CRITICAL_001[23], [f"{h:02d}:00" for h in range(24)]),
            ("weekday", days, CHI2_CRITICAL_001[6], list(WEEKDAYS)),
        ):
            statistic = chi_square_uniform(counts)
            if statistic <= critical:
                continue
            expected = attempts / len(counts)
            peaks = [
                i
                for i in sorted(range(len(counts)), key=lambda i: -counts[i])
                if counts[i] >= 1.5 * expected
            ][:4]
            if not peaks:
                continue
            peak_names = [names[i] for i in sorted(peaks)]
            share = sum(counts[i] for i in peaks) / attempts
            where = (
                "at " + ", ".join(peak_names) + " UTC"
                if label == "hour"
                else "on " + ", ".join(peak_names)
            )
            patterns.append(
                _pattern(
                    "temporal",
                    f"{kind_type} concentrates {where}",
                    kind_type,
                    None,
                    None,
                    wins[0],
                    attempts,
                    None,
                    last_seen.get(kind_type),
                    {
                        "dimension": label,
                        "peaks": peak_names,
                        "peak_share": round(share, 4),
                        "chi_square": round(statistic, 3),
                        "critical_value_p01": critical,
                        "counts": counts,
                    },
                )
            )
    return patterns


def patterns(
    store: Store,
    kind: str | None = None,
    min_confidence: float = 0.0,
    issue_type: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Patterns of one kind (or all), most attempts first."""
    builders: dict[str, Callable[[Store, str | None], list[dict[str, Any]]]] = {
        "exact": exact_patterns,
        "model": model_patterns,
        "general": general_patterns,
        "temporal": temporal_patterns,
        "fingerprint": fingerprint_patterns,
    }
    # Fingerprint patterns name themselves after their latest hot row, which
    # archiving can change: they are listed only when asked for by kind.
    kinds = [kind] if kind else [k for k in PATTERN_KINDS if k != "fingerprint"]
    found: list[dict[str, Any]] = []
    for name in kinds:
        if name == "exact":
            # Exact patterns sort first and confidence grows with attempts, so
            # the filter and the limit go to SQL instead of building every row.
            floor = next(a for a in range(11) if confidence(a) >= min_confidence)
            found.extend(exact_patterns(store, issue_type, min_attempts=floor, limit=limit))
        else:
            found.extend(builders[name](store, issue_type))
    found = [p for p in found if p["confidence"] >= min_confidence]
    order = {name: i for i, name in enumerate(PATTERN_KINDS)}
    found.sort(key=lambda p: (order[p["kind"]], -p["attempts"], p["name"]))
    return found if limit is None else found[:limit]
