"""Analytics: daily statistics, model performance matrix, issue
trends and fixer effectiveness. All read the rollups, never the raw history,
so they cost the same on a million records as on a hundred."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aimem.learn.stats_math import rate, wilson_interval
from aimem.store import Store
from aimem.timeutil import utcnow


def _since_day(days: int) -> str:
    return (utcnow() - timedelta(days=days - 1)).strftime("%Y-%m-%d")


def daily_statistics(store: Store, days: int = 30) -> list[dict[str, Any]]:
    """Per day (UTC), newest first: attempts, fix successes, verified successes, rate, time."""
    days_map: dict[str, list[float]] = {}
    for row in store.daily(_since_day(days)):
        entry = days_map.setdefault(row["day"], [0, 0, 0, 0.0, 0])
        entry[0] += row["attempts"]
        entry[1] += row["fix_successes"]
        entry[2] += row["successes"]
        entry[3] += row["time_sum"]
        entry[4] += row["time_n"]
    return [
        {
            "date": day,
            "attempts": int(a),
            "fix_successes": int(fs),
            "successes": int(s),
            "success_rate": round(rate(int(s), int(a)), 4),
            "avg_execution_time": round(t / n, 3) if n else None,
        }
        for day, (a, fs, s, t, n) in sorted(days_map.items(), reverse=True)
    ]


def model_performance_matrix(store: Store) -> list[dict[str, Any]]:
    """Per model and issue type: attempts, successes, success rate."""
    return [
        {
            "model_name": row["model_name"],
            "issue_type": row["issue_type"],
            "attempts": row["attempts"],
            "successes": row["successes"],
            "success_rate": round(rate(row["successes"], row["attempts"]), 4),
        }
        for row in store.totals_by("model_name", "issue_type")
    ]


def issue_trend_analysis(store: Store, days: int = 30) -> list[dict[str, Any]]:
    """Per issue type: total, the last 7 days against the 7 before, and a trend word."""
    week = (utcnow() - timedelta(days=6)).strftime("%Y-%m-%d")
    fortnight = (utcnow() - timedelta(days=13)).strftime("%Y-%m-%d")
    per_type: dict[str, dict[str, Any]] = {}
    for row in store.totals_by("issue_type"):
        per_type[row["issue_type"]] = {
            "issue_type": row["issue_type"],
            "total_attempts": row["attempts"],
            "success_rate": round(rate(row["successes"], row["attempts"]), 4),
            "last_7_days": 0,
            "previous_7_days": 0,
            "window_days": days,
            "window_attempts": 0,
        }
    for row in store.daily(_since_day(max(days, 14))):
        entry = per_type.get(row["issue_type"])
        if entry is None:
            continue
        if row["day"] >= _since_day(days):
            entry["window_attempts"] += row["attempts"]
        if row["day"] >= week:
            entry["last_7_days"] += row["attempts"]
        elif row["day"] >= fortnight:
            entry["previous_7_days"] += row["attempts"]
    for entry in per_type.values():
        last, previous = entry["last_7_days"], entry["previous_7_days"]
        change = (last - previous) / previous if previous else (1.0 if last else 0.0)
        entry["change"] = round(change, 4)
        entry["trend"] = "rising" if change > 0.2 else "falling" if change < -0.2 else "stable"
    return sorted(per_type.values(), key=lambda e: (-e["total_attempts"], e["issue_type"]))


def fixer_effectiveness(store: Store) -> list[dict[str, Any]]:
    """Per fixer: attempts, verified successes, rate with a Wilson interval, mean time."""
    result = []
    for row in store.totals_by("fixer_type"):
        low, high = wilson_interval(row["successes"], row["attempts"])
        result.append(
            {
                "fixer_type": row["fixer_type"],
                "total_attempts": row["attempts"],
                "successes": row["successes"],
                "success_rate": round(rate(row["successes"], row["attempts"]), 4),
                "wilson_low": low,
                "wilson_high": high,
                "avg_execution_time": round(row["time_sum"] / row["time_n"], 3)
                if row["time_n"]
                else None,
            }
        )
    return sorted(result, key=lambda r: (-r["success_rate"], r["fixer_type"]))


COST_GROUPS = {
    "by_fixer": ("fixer_type",),
    "by_fixer_model": ("fixer_type", "fixer_model"),
    "by_issue_type": ("issue_type",),
    "by_fixer_and_issue_type": ("fixer_type", "issue_type"),
}


def cost_analysis(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Cost per verified success, from the cost rollup.

    ``cost_per_success`` is the cost of *every* attempt in the group, failed ones
    included, divided by its verified successes (None without a success).
    ``cost_coverage`` is the share of attempts that reported a cost: below 1
    the figures undercount. ``fixer_model`` is null when none was recorded.
    """
    rows = store.cost_rows()
    result: dict[str, list[dict[str, Any]]] = {}
    for name, keys in COST_GROUPS.items():
        groups: dict[tuple[str, ...], list[float]] = {}
        for row in rows:
            group = groups.setdefault(tuple(row[k] for k in keys), [0, 0, 0.0, 0, 0, 0, 0])
            group[0] += row["attempts"]
            group[1] += row["successes"]
            group[2] += row["cost_sum"]
            group[3] += row["cost_n"]
            group[4] += row["tokens_in_sum"]
            group[5] += row["tokens_out_sum"]
            group[6] += row["tokens_n"]
        items = []
        for values, (attempts, successes, cost, cost_n, t_in, t_out, t_n) in groups.items():
            item: dict[str, Any] = {
                k: (v or None) if k == "fixer_model" else v
                for k, v in zip(keys, values, strict=True)
            }
            item.update(
                attempts=int(attempts),
                successes=int(successes),
                failed_attempts=int(attempts - successes),
                cost_usd=round(cost, 6),
                cost_coverage=round(cost_n / attempts, 4) if attempts else 0.0,
                cost_per_attempt=round(cost / cost_n, 6) if cost_n else None,
                cost_per_success=round(cost / successes, 6) if successes and cost_n else None,
                tokens_in=int(t_in),
                tokens_out=int(t_out),
                tokens_per_success=round((t_in + t_out) / successes, 1)
                if successes and t_n
                else None,
            )
            items.append(item)
        items.sort(
            key=lambda i: (
                i["cost_per_success"] is None,
                i["cost_per_success"] or 0.0,
                tuple(str(i[k]) for k in keys),
            )
        )
        result[name] = items
    return result
