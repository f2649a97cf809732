"""Aggregates: invariants and equality with an independent recomputation."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimem import AIMemory
from aimem.store.rebuild import rebuild_aggregates
from tests.conftest import issue, response
from tests.oracle import assert_aggregates_match

MODELS = ["qwen2.5:7b", "qwen2.5:14b", "llama3.1:8b", "phi3:mini"]
TYPES = ["TIMEOUT", "ERROR", "NO_OUTPUT", "GPU_CRASH"]
COMMANDS = [[], ["a"], ["b"], ["a", "b"], ["ollama pull x"]]

attempt_strategy = st.fixed_dictionaries(
    {
        "model": st.sampled_from(MODELS),
        "issue_type": st.sampled_from(TYPES),
        "prompt": st.sampled_from(["p1", "p2", ""]),
        "commands": st.sampled_from(COMMANDS),
        "fixed": st.booleans(),
        "verified": st.booleans(),
        "fixer": st.sampled_from(["claude", "qwen"]),
        "day": st.integers(min_value=1, max_value=28),
        "hour": st.integers(min_value=0, max_value=23),
        "seconds": st.one_of(st.none(), st.floats(min_value=0, max_value=500)),
    }
)


def _item(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "issue_data": issue(a["model"], a["issue_type"], "went wrong", test_prompt=a["prompt"]),
        "ai_response": response(*a["commands"]),
        "fix_success": a["fixed"],
        "verification_success": a["verified"],
        "execution_time": a["seconds"],
        "fixer_type": a["fixer"],
        "timestamp": f"2025-03-{a['day']:02d}T{a['hour']:02d}:00:00Z",
    }


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    attempts=st.lists(attempt_strategy, min_size=1, max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=4),
)
def test_aggregates_equal_recomputation_in_any_batching(
    tmp_path: Path, attempts: list[dict[str, Any]], cuts: list[int]
) -> None:
    folder = tmp_path / f"repo-{abs(hash((tuple(map(str, attempts)), tuple(cuts))))}"
    items = [_item(a) for a in attempts]
    bounds = sorted({0, len(items), *[min(c, len(items)) for c in cuts]})
    with AIMemory(folder) as memory:
        for start, end in itertools.pairwise(bounds):
            batch = items[start:end]
            if len(batch) == 1:
                memory.record_fix_attempt(**batch[0])
            else:
                memory.record_many(batch)
        stats = memory.get_memory_stats()
    db = folder / "ai_memory.db"
    conn = sqlite3.connect(db)
    try:
        attempts_in_patterns = conn.execute(
            "SELECT sum(success_count + failure_count) FROM issue_patterns"
        ).fetchone()[0]
        total_tests = conn.execute("SELECT sum(total_tests) FROM model_characteristics").fetchone()[
            0
        ]
    finally:
        conn.close()
    assert attempts_in_patterns == len(items)
    assert total_tests == len(items)
    assert stats["total_fixes_attempted"] == len(items)
    successes = sum(a["fixed"] and a["verified"] for a in attempts)
    assert stats["successful_fixes"] == successes
    assert_aggregates_match(db)


@pytest.mark.sqlite_only
def test_rebuild_reproduces_incremental_tables(demo_dir: Path) -> None:
    db = demo_dir / "ai_memory.db"
    tables = ["aimem_totals", "aimem_daily", "aimem_temporal", "aimem_fix_outcomes"]

    def snapshot(conn: sqlite3.Connection) -> dict[str, list[Any]]:
        out = {}
        for t in tables:
            rows = conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4").fetchall()
            out[t] = [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows]
        out["issue_patterns"] = conn.execute(
            "SELECT id, pattern_name, issue_signature, success_count, failure_count, best_fix, "
            "last_seen, confidence_score FROM issue_patterns ORDER BY id"
        ).fetchall()
        out["model_characteristics"] = conn.execute(
            "SELECT model_name, total_tests, round(success_rate, 9), common_issues, effective_fixes "
            "FROM model_characteristics ORDER BY 1"
        ).fetchall()
        return out

    conn = sqlite3.connect(db, isolation_level=None)
    try:
        before = snapshot(conn)
        conn.execute("BEGIN IMMEDIATE")
        rebuild_aggregates(conn)
        conn.execute("COMMIT")
        after = snapshot(conn)
    finally:
        conn.close()
    assert after == before
    assert_aggregates_match(db)


def test_patterns_of_every_kind_on_demo(demo_dir: Path) -> None:
    with AIMemory(demo_dir) as memory:
        found = memory.patterns()
        kinds = {p["kind"] for p in found}
        assert {"exact", "model", "general", "temporal"} <= kinds
        temporal = memory.patterns(kind="temporal")
        assert any(
            p["issue_type"] == "TIMEOUT" and p["detail"]["dimension"] == "hour" for p in temporal
        )
        for pattern in found:
            assert pattern["confidence"] == min(1.0, pattern["attempts"] / 10)
            assert pattern["wilson_low"] <= pattern["success_rate"] <= pattern["wilson_high"]
        confident = memory.patterns(min_confidence=1.0)
        assert confident and all(p["attempts"] >= 10 for p in confident)


def test_best_fix_is_the_fix_with_most_verified_successes(memory: AIMemory) -> None:
    data = issue(test_prompt="same prompt")
    for commands, outcomes in (
        (["a"], [True, False, False]),
        (["b"], [True, True]),
        (["c"], [False] * 5),
    ):
        for ok in outcomes:
            memory.record_fix_attempt(data, response(*commands), ok, ok, 1.0)
    exact = memory.patterns(kind="exact")
    assert len(exact) == 1
    assert exact[0]["best_fix"] == ["b"]
    assert exact[0]["attempts"] == 10 and exact[0]["successes"] == 3
    insights = memory.get_model_insights("qwen2.5:7b")
    assert insights["effective_fixes"][:2] == ["b", "a"]
    assert insights["common_issues"] == ["TIMEOUT"]
    assert insights["total_tests"] == 10


def test_temporal_pattern_needs_significance(memory: AIMemory) -> None:
    spread = [
        {
            **_item(
                {
                    "model": "m:1",
                    "issue_type": "ERROR",
                    "prompt": "",
                    "commands": [],
                    "fixed": False,
                    "verified": False,
                    "fixer": "claude",
                    "day": 1 + (i % 28),
                    "hour": i % 24,
                    "seconds": None,
                }
            )
        }
        for i in range(96)
    ]
    memory.record_many(spread)
    assert memory.patterns(kind="temporal") == []
    clustered = [
        _item(
            {
                "model": "m:1",
                "issue_type": "TIMEOUT",
                "prompt": "",
                "commands": [],
                "fixed": False,
                "verified": False,
                "fixer": "claude",
                "day": 1 + (i % 28),
                "hour": 3,
                "seconds": None,
            }
        )
        for i in range(40)
    ]
    memory.record_many(clustered)
    found = memory.patterns(kind="temporal")
    assert [p["issue_type"] for p in found] == ["TIMEOUT"]
    assert found[0]["detail"]["peaks"] == ["03:00"]
