"""An independent recomputation of every aggregate from raw rows, in plain Python.

Tests compare the incrementally maintained tables with this oracle, so a bug in
the store's aggregate writer cannot hide behind itself.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from aimem.learn.signatures import fix_key


def _rows(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM fix_history ORDER BY id")]
    finally:
        conn.close()


def _wilson_low(successes: int, attempts: int) -> float:
    """The 95% Wilson score lower bound, written out independently of aimem.learn.stats_math."""
    z = 1.959963984540054
    p = successes / attempts
    centre = p + z * z / (2 * attempts)
    margin = z * math.sqrt(p * (1 - p) / attempts + z * z / (4 * attempts * attempts))
    return round(max(0.0, (centre - margin) / (1 + z * z / attempts)), 6)


def expected_aggregates(db: Path) -> dict[str, Any]:
    rows = _rows(db)
    patterns: dict[str, dict[str, Any]] = {}
    outcomes: dict[tuple[str, str], dict[str, list[Any]]] = defaultdict(dict)
    models: dict[str, dict[str, Any]] = {}
    for row in rows:
        ok = bool(row["fix_success"]) and bool(row["verification_success"])
        ts = row["timestamp"]
        commands = orjson.loads(row["fix_commands"])
        key = fix_key(commands)
        pattern = patterns.setdefault(row["issue_signature"], {"s": 0, "f": 0, "last": ""})
        pattern["s" if ok else "f"] += 1
        pattern["last"] = max(pattern["last"], ts)
        for scope in (("signature", row["issue_signature"]), ("model", row["model_name"])):
            entry = outcomes[scope].setdefault(key, [commands, 0, 0, None])
            entry[1] += 1
            entry[2] += ok
            if ok and (entry[3] is None or ts > entry[3]):
                entry[3] = ts
        model = models.setdefault(row["model_name"], {"n": 0, "s": 0, "types": defaultdict(int)})
        model["n"] += 1
        model["s"] += ok
        model["types"][row["issue_type"]] += 1

    def ranked(scope: tuple[str, str], limit: int) -> list[list[str]]:
        entries = [(k, v) for k, v in outcomes[scope].items() if v[2] > 0]
        # highest 95% Wilson lower bound, then most successes, then most
        # recent success, then fix key (the store's order); stable sorts, last is primary
        entries.sort(key=lambda kv: kv[0])
        entries.sort(key=lambda kv: kv[1][3] or "", reverse=True)
        entries.sort(key=lambda kv: kv[1][2], reverse=True)
        entries.sort(key=lambda kv: _wilson_low(kv[1][2], kv[1][1]), reverse=True)
        return [v[0] for _, v in entries[:limit]]

    return {
        "patterns": {
            signature: {
                "success_count": p["s"],
                "failure_count": p["f"],
                "last_seen": p["last"],
                "confidence_score": min(1.0, (p["s"] + p["f"]) / 10.0),
                "best_fix": (ranked(("signature", signature), 1) or [None])[0],
            }
            for signature, p in patterns.items()
        },
        "models": {
            name: {
                "total_tests": m["n"],
                "success_rate": m["s"] / m["n"],
                "common_issues": [
                    t for t, _ in sorted(m["types"].items(), key=lambda kv: (-kv[1], kv[0]))[:5]
                ],
                "effective_fixes": [
                    " && ".join(c) or "(no commands)" for c in ranked(("model", name), 5)
                ],
            }
            for name, m in models.items()
        },
        "attempts": len(rows),
        "successes": sum(bool(r["fix_success"]) and bool(r["verification_success"]) for r in rows),
    }


def actual_aggregates(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        patterns = {
            r[0]: {
                "success_count": r[1],
                "failure_count": r[2],
                "last_seen": r[3],
                "confidence_score": r[4],
                "best_fix": None if r[5] is None else orjson.loads(r[5]),
            }
            for r in conn.execute(
                "SELECT issue_signature, success_count, failure_count, last_seen, "
                "confidence_score, best_fix FROM issue_patterns"
            )
        }
        models = {
            r[0]: {
                "total_tests": r[1],
                "success_rate": r[2],
                "common_issues": orjson.loads(r[3]),
                "effective_fixes": orjson.loads(r[4]),
            }
            for r in conn.execute(
                "SELECT model_name, total_tests, success_rate, common_issues, effective_fixes "
                "FROM model_characteristics"
            )
        }
        attempts, successes = conn.execute(
            "SELECT coalesce(sum(attempts), 0), coalesce(sum(successes), 0) FROM aimem_totals"
        ).fetchone()
    finally:
        conn.close()
    return {"patterns": patterns, "models": models, "attempts": attempts, "successes": successes}


def assert_aggregates_match(db: Path) -> None:
    expected = expected_aggregates(db)
    actual = actual_aggregates(db)
    assert actual["attempts"] == expected["attempts"]
    assert actual["successes"] == expected["successes"]
    assert actual["patterns"] == expected["patterns"]
    assert set(actual["models"]) == set(expected["models"])
    for name, model in expected["models"].items():
        got = actual["models"][name]
        assert got["total_tests"] == model["total_tests"]
        assert abs(got["success_rate"] - model["success_rate"]) < 1e-9
        assert got["common_issues"] == model["common_issues"]
        assert got["effective_fixes"] == model["effective_fixes"]
