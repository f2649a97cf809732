"""The design's analytics: daily statistics, model performance matrix, issue
trends and fixer effectiveness. All read the rollups, never the raw history,
so they cost the same on a million records as on a hundred."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aimem.stats_math import rate, wilson_interval
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
