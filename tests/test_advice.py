"""Advice through the Python API: fingerprints, Wilson ranking, suggest, gate,
the repeat guard, cost per verified success and outcome-aware retention."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimem import AIMemory
from aimem.errors import InvalidInputError
from aimem.learn.advice import (
    EXIT_SKIP_LOW_CONFIDENCE,
    EXIT_SKIP_REPEATED,
    EXIT_TRY,
    RepeatedFixError,
    RepeatedFixWarning,
)
from aimem.learn.estimate import Counts, base_rate, pooled
from aimem.learn.signatures import generate_fingerprint
from aimem.learn.stats_math import wilson_interval
from aimem.store.migrations import MIGRATIONS
from tests.conftest import issue, response

T0 = "2025-06-01T00:00:00Z"
# The schema version just before migration m012 (whatever its position).
BEFORE_ADVICE = next(
    i for i, m in enumerate(MIGRATIONS) if m.__name__.endswith("_advice_cost_and_fingerprints")
)


def stamp(minutes: int) -> str:
    """A timestamp ``minutes`` after T0 (deterministic ordering)."""
    day, rest = divmod(minutes, 24 * 60)
    hour, minute = divmod(rest, 60)
    return f"2025-06-{1 + day:02d}T{hour:02d}:{minute:02d}:00Z"


def record(
    memory: AIMemory,
    commands: list[str],
    ok: bool,
    *,
    at: int = 0,
    model: str = "qwen2.5:7b",
    issue_type: str = "TIMEOUT",
    description: str = "Model response timeout after 30 seconds",
    fixer: str = "claude",
    cost: dict[str, Any] | None = None,
    **kwargs: Any,
) -> int:
    return memory.record_fix_attempt(
        issue(model, issue_type, description),
        {**response(*commands), **(cost or {})},
        ok,
        ok,
        1.0,
        fixer_type=fixer,
        timestamp=stamp(at),
        **kwargs,
    )


# ---- fingerprints ----------------------------------------------------------

REWORDINGS = [
    (
        "Model response timeout after 30 seconds",
        "Model response timeout after 45 seconds.",
        "model response timeout after 120s",
    ),
    (
        "CUDA out of memory (tried to allocate 512 MiB) at 2026-01-02T03:04:05Z",
        "CUDA out of memory (tried to allocate 1024 MiB) at 2025-12-31 23:59:59",
    ),
    (
        "connection refused: ollama server at 127.0.0.1:11434",
        "connection refused: ollama server at 10.0.0.7:8080",
    ),
    (
        "model 'qwen2.5:7b' not found, try pulling it first",
        "model 'qwen2.5:14b-instruct-q4_K_M' not found, try pulling it first",
    ),
    (
        "request 550e8400-e29b-41d4-a716-446655440000 failed reading /var/lib/ollama/models/x.gguf",
        "request 123e4567-e89b-12d3-a456-426614174000 failed reading /home/me/.ollama/y.gguf",
    ),
    (
        "segfault at 0x7f3a2b in worker-17, digest 9f86d081884c",
        "segfault at 0xdeadbeef in worker-3, digest 2c26b46b68ff",
    ),
    ("error in src/loader.py line 40 after 250ms", "error in lib/io/read.py line 7 after 1.5h"),
]


@pytest.mark.parametrize("group", REWORDINGS)
def test_fingerprint_groups_rewordings(group: tuple[str, ...]) -> None:
    prints = {generate_fingerprint("ERROR", "qwen2.5:7b", text) for text in group}
    assert len(prints) == 1


def test_fingerprint_separates_different_failures() -> None:
    texts = [
        "Model response timeout after 30 seconds",
        "CUDA out of memory (tried to allocate 512 MiB)",
        "connection refused: ollama server at 127.0.0.1:11434",
        "model 'qwen2.5:7b' not found, try pulling it first",
        "Expected JSON but the model answered in Markdown",
    ]
    prints = {generate_fingerprint("ERROR", "qwen2.5:7b", t) for t in texts}
    assert len(prints) == len(texts)
    base = "Model response timeout after 30 seconds"
    assert generate_fingerprint("TIMEOUT", "qwen2.5:7b", base) != generate_fingerprint(
        "ERROR", "qwen2.5:7b", base
    )
    # the model family is part of the fingerprint; its tag is not
    assert generate_fingerprint("TIMEOUT", "qwen2.5:7b", base) == generate_fingerprint(
        "TIMEOUT", "qwen2.5:14b", base
    )
    assert generate_fingerprint("TIMEOUT", "qwen2.5:7b", base) != generate_fingerprint(
        "TIMEOUT", "llama3.1:8b", base
    )
    # versions glued to names are names, not noise
    assert generate_fingerprint("ERROR", "m", "qwen2.5 crashed") != generate_fingerprint(
        "ERROR", "m", "qwen3.5 crashed"
    )


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=10**9),
    m=st.integers(min_value=0, max_value=10**6),
    seconds=st.integers(min_value=1, max_value=10**5),
)
def test_fingerprint_ignores_numbers_property(n: int, m: int, seconds: int) -> None:
    template = "job #{} failed after {}s with exit status {}"
    a = generate_fingerprint("ERROR", "phi3:mini", template.format(n, seconds, m))
    b = generate_fingerprint("ERROR", "phi3:mini", template.format(1, 30, 2))
    assert a == b


def test_similar_has_fingerprint_matches_after_design_keys(memory: AIMemory) -> None:
    first = record(memory, ["# a"], False, description="Model response timeout after 30 seconds")
    second = record(memory, ["# b"], True, at=1, description="model response timeout after 90s")
    record(memory, ["# c"], True, at=2, description="Expected JSON but got Markdown")
    found = memory.query_similar_issues(
        issue(description="Model response timeout after 61 seconds")
    )
    assert list(found) == ["exact_matches", "model_matches", "type_matches", "fingerprint_matches"]
    assert [r["id"] for r in found["fingerprint_matches"]] == [second, first]
    assert memory.query_similar_issues(issue(description=None))["fingerprint_matches"] == []


def test_fingerprint_patterns_kind(memory: AIMemory) -> None:
    for minute, seconds in enumerate((30, 45, 60)):
        record(
            memory,
            ["# raise timeout"],
            minute != 0,
            at=minute,
            description=f"Model response timeout after {seconds} seconds",
        )
    record(memory, ["# x"], False, at=5, description="a one-off failure")
    found = memory.patterns(kind="fingerprint")
    assert len(found) == 1
    (pattern,) = found
    assert pattern["kind"] == "fingerprint"
    assert (pattern["attempts"], pattern["successes"]) == (3, 2)
    assert pattern["best_fix"] == ["# raise timeout"]
    assert pattern["issue_type"] == "TIMEOUT" and pattern["model_family"] == "qwen2.5"
    assert pattern["detail"]["fingerprint"] == memory.generate_fingerprint(
        issue(description="Model response timeout after 99 seconds")
    )
    with pytest.raises(InvalidInputError):
        memory.patterns(kind="nonsense")


def test_migration_recomputes_fingerprints_made_without_response(repo_dir: Path) -> None:
    with AIMemory(repo_dir) as memory:
        plain = record(memory, ["# a"], False, description="timeout at 2026-01-02T03:04:05Z")
        with_response = memory.record_fix_attempt(
            issue(description="timeout at 2026-01-02T03:04:05Z", actual_response="partial"),
            response("# a"),
            False,
            False,
            1.0,
        )
    from aimem.learn.signatures import _legacy_fingerprint_v1

    old = _legacy_fingerprint_v1("TIMEOUT", "qwen2.5:7b", "timeout at 2026-01-02T03:04:05Z")
    conn = sqlite3.connect(repo_dir / "ai_memory.db")
    with conn:
        conn.execute("UPDATE fix_history SET fingerprint = ? WHERE id = ?", (old, plain))
        conn.execute(
            "UPDATE fix_history SET fingerprint = 'feedfacefeedface' WHERE id = ?", (with_response,)
        )
        conn.execute("DROP TABLE aimem_cost")
        conn.execute(f"PRAGMA user_version = {BEFORE_ADVICE}")
    conn.close()
    with AIMemory(repo_dir) as memory:
        rows = {r["id"]: r["fingerprint"] for r in memory.recent(36500)}
        assert rows[plain] == generate_fingerprint(
            "TIMEOUT", "qwen2.5:7b", "timeout at 2026-01-02T03:04:05Z"
        )
        assert rows[plain] != old
        assert rows[with_response] == "feedfacefeedface"  # made with a response: kept
        assert memory.get_cost_analysis()["by_fixer"][0]["attempts"] == 2
        assert memory.patterns(kind="fingerprint") == []  # 1 attempt each: not recurring


# ---- honest confidence: Wilson ranking ---------------------------------------


def wilson_history(memory: AIMemory) -> None:
    """LUCKY worked 1/1, SOLID 40/50, BUSY 45/150 (same model, type and signature).

    Ranking by rate puts LUCKY first, by successes BUSY; the Wilson lower bound
    (0.21, 0.67, 0.23) gives SOLID, BUSY, LUCKY.
    """
    items = [
        {
            "issue_data": issue(),
            "ai_response": response("# lucky"),
            "fix_success": True,
            "verification_success": True,
            "execution_time": 1.0,
            "timestamp": stamp(100),
        }
    ]
    for i in range(50):
        ok = i % 5 != 0
        items.append(
            {
                "issue_data": issue(),
                "ai_response": response("# solid"),
                "fix_success": ok,
                "verification_success": ok,
                "execution_time": 1.0,
                "timestamp": stamp(i),
            }
        )
    for i in range(150):
        ok = i % 10 < 3
        items.append(
            {
                "issue_data": issue(),
                "ai_response": response("# busy"),
                "fix_success": ok,
                "verification_success": ok,
                "execution_time": 1.0,
                "timestamp": stamp(200 + i),
            }
        )
    memory.record_many(items)


def test_wilson_ranking_everywhere(memory: AIMemory) -> None:
    wilson_history(memory)
    successful = memory.successful_strategies("TIMEOUT")
    assert [s["fix_commands"] for s in successful] == [["# solid"], ["# busy"], ["# lucky"]]
    assert [s["successes"] for s in successful] == [40, 45, 1]
    assert successful[0]["wilson_low"] > successful[1]["wilson_low"] > successful[2]["wilson_low"]
    assert {"confidence", "wilson_low", "wilson_high", "success_rate"} <= set(successful[0])
    for kind in ("exact", "model", "general"):
        (pattern,) = memory.patterns(kind=kind)
        assert pattern["best_fix"] == ["# solid"], kind
    insights = memory.get_model_insights("qwen2.5:7b")
    assert insights["effective_fixes"] == ["# solid", "# busy", "# lucky"]
    stats = insights["effective_fix_stats"]
    assert [s["fix_commands"] for s in stats] == [["# solid"], ["# busy"], ["# lucky"]]
    assert stats[0]["confidence"] == 1.0 and stats[2]["confidence"] == 0.1
    text = memory.build_context(issue())
    strategies = text.split("## Strategies that worked")[1]
    assert strategies.index("`# solid`") < strategies.index("`# busy`")
    assert strategies.index("`# busy`") < strategies.index("`# lucky`")
    assert "Do not repeat (known failure here): `# busy`" in text
    assert "95% CI" in text and "confidence" in text
    advice = memory.suggest(issue(), seed=1)
    means = {f["fix_commands"][0]: f["estimate"]["mean"] for f in advice["ranked_fixes"]}
    assert set(means) == {"# solid", "# lucky"}
    assert means["# solid"] > means["# lucky"]
    # 45/150 next to 40/50: a known failure, not worth trying again
    assert advice["avoid"] == [["# busy"]]


def _aggregates(memory: AIMemory) -> Any:
    return (
        [(p["name"], p["attempts"], p["successes"], p["best_fix"]) for p in memory.patterns()],
        memory.get_model_insights("qwen2.5:7b")["effective_fixes"],
        memory.get_cost_analysis(),
    )


def test_incremental_equals_batch_with_wilson_ranking(tmp_path: Path) -> None:
    # A failure alone demotes a fix (A 4/4 then failing 3 times ranks under B 3/3):
    # the incremental tables must follow, as a recomputation would.
    outcomes = [("# A", True)] * 4 + [("# B", True)] * 3 + [("# A", False)] * 3
    items = [
        {
            "issue_data": issue(),
            "ai_response": {**response(cmd), "cost_usd": 0.01},
            "fix_success": ok,
            "verification_success": ok,
            "execution_time": 1.0,
            "timestamp": stamp(i),
        }
        for i, (cmd, ok) in enumerate(outcomes)
    ]
    with AIMemory(tmp_path / "one") as one, AIMemory(tmp_path / "batch") as batch:
        for item in items:
            one.record_many([item])
        batch.record_many(list(reversed(items)))
        assert _aggregates(one) == _aggregates(batch)
        assert one.get_model_insights("qwen2.5:7b")["effective_fixes"][0] == "# B"
    # and a full recomputation (what check --repair does) agrees
    from aimem.store.connection import atomic
    from aimem.store.rebuild import rebuild_aggregates

    with AIMemory(tmp_path / "one") as again:
        before = _aggregates(again)
        with atomic(again.store.conn):
            rebuild_aggregates(again.store.conn)
        assert _aggregates(again) == before


# ---- suggest ---------------------------------------------------------------

SUGGEST_KEYS = [
    "model",
    "issue_type",
    "model_family",
    "issue_signature",
    "fingerprint",
    "max_failures",
    "seed",
    "history",
    "ranked_fixes",
    "explore",
    "new_fix",
    "avoid",
    "failed_for_fingerprint",
    "recommendation",
]
RANKED_KEYS = [
    "rank",
    "fix_commands",
    "template",
    "basis",
    "successes",
    "attempts",
    "success_rate",
    "confidence",
    "wilson_low",
    "wilson_high",
    "estimate",
    "score",
    "last_success",
    "fixers",
    "evidence",
]
FAILED_KEYS = [
    "fix_commands",
    "failures",
    "successes",
    "attempts",
    "last_attempt",
    "last_success",
    "repeated_failure",
]


@pytest.mark.filterwarnings("ignore::aimem.learn.advice.RepeatedFixWarning")
def test_suggest_contract_and_ranking(memory: AIMemory) -> None:
    desc = "Model response timeout after 30 seconds"
    for i in range(4):
        record(memory, ["# restart"], False, at=i, description=desc)
    for i in range(6):
        record(memory, ["# raise timeout"], True, at=10 + i, description=desc, fixer="qwen")
    record(memory, ["# raise timeout"], False, at=20, description=desc)
    record(memory, ["# pull"], True, at=30, description="other failure", fixer="gpt")
    result = memory.suggest(issue(description="Model response timeout after 90s"), seed=3)
    assert list(result) == SUGGEST_KEYS
    assert result == memory.suggest(issue(description="Model response timeout after 90s"), seed=3)
    ranked = result["ranked_fixes"]
    assert [list(r) for r in ranked] == [RANKED_KEYS] * len(ranked)
    by_fix = {r["fix_commands"][0]: r for r in ranked}
    assert set(by_fix) == {"# raise timeout", "# pull"}
    assert [r["score"] for r in ranked] == sorted((r["score"] for r in ranked), reverse=True)
    top = by_fix["# raise timeout"]
    assert top["estimate"]["mean"] > by_fix["# pull"]["estimate"]["mean"]
    assert (top["basis"], top["successes"], top["attempts"]) == ("model", 6, 7)
    assert top["evidence"]["fingerprint"]["attempts"] == 7
    assert top["fixers"] == [{"fixer_type": "qwen", "fixer_model": None, "successes": 6}]
    assert by_fix["# pull"]["basis"] == "model"
    assert result["explore"] is (result["new_fix"]["score"] > ranked[0]["score"])
    assert result["avoid"] == [["# restart"]]
    # over many draws the better-supported fix comes first most of the time
    firsts = [
        memory.suggest(issue(description="Model response timeout after 90s"), seed=s)[
            "ranked_fixes"
        ][0]["fix_commands"][0]
        for s in range(40)
    ]
    assert firsts.count("# raise timeout") > firsts.count("# pull")
    result = memory.suggest(issue(description="Model response timeout after 90s"), seed=4)
    assert result["ranked_fixes"][0]["fix_commands"] == ["# raise timeout"]
    assert result["explore"] is False
    failed = result["failed_for_fingerprint"]
    assert [list(f) for f in failed] == [FAILED_KEYS] * 2
    assert failed[0]["fix_commands"] == ["# restart"]
    assert failed[0]["failures"] == 4 and failed[0]["repeated_failure"] is True
    assert failed[1]["repeated_failure"] is False  # it also worked here
    assert result["recommendation"].startswith("Try `# raise timeout`: estimated ")
    assert "(6/7 verified on this model and issue type)" in result["recommendation"]
    assert "do not repeat `# restart`" in result["recommendation"]
    assert result["history"]["fingerprint"]["attempts"] == 11
    text = memory.build_context(issue(description="Model response timeout after 90s"))
    tried = text.split("## Already tried for this failure (same fingerprint)")[1]
    assert "`# restart` — failed 4x, verified 0x — **repeated failure" in tried
    assert "Already tried" not in memory.build_context(issue(description=None))


def test_suggest_without_history_and_bad_input(memory: AIMemory) -> None:
    result = memory.suggest(issue(issue_type="NO_OUTPUT"))
    assert result["ranked_fixes"] == [] and result["failed_for_fingerprint"] == []
    assert "first attempt" in result["recommendation"]
    with pytest.raises(InvalidInputError, match=r"issue_data\.model"):
        memory.suggest({"issue_type": "TIMEOUT"})
    with pytest.raises(InvalidInputError, match="max_failures"):
        memory.suggest(issue(), max_failures=0)


def test_a_model_that_never_tried_a_fix_is_not_surer_than_the_evidence(memory: AIMemory) -> None:
    # The issue type's whole record: one fix, 27 verified successes in 27, all
    # on another family. For a model that never tried it the estimate borrows
    # that record; its interval must not be narrower than the record's own.
    for i in range(27):
        record(memory, ["ollama pull {model}"], True, at=i, model="gemma2:9b")
    own = memory.suggest(issue(model="gemma2:9b"))["ranked_fixes"][0]
    borrowed = memory.suggest(issue(model="phi3:mini"))["ranked_fixes"][0]
    assert borrowed["fix_commands"] == ["ollama pull phi3:mini"]
    evidence_low = wilson_interval(27, 27)[0]  # 0.87
    assert borrowed["estimate"]["low"] < evidence_low
    assert borrowed["estimate"]["low"] < own["estimate"]["low"]
    assert borrowed["estimate"]["mean"] <= 5 / 6 + 1e-4
    # on the model that has the record, the interval is about the record's own
    assert abs(own["estimate"]["low"] - evidence_low) < 0.05


def test_a_fixs_own_record_is_not_counted_again_in_its_prior(memory: AIMemory) -> None:
    # One fix worked 5 times in 5, another failed 3 times in 3, both on this
    # model. The prior a fix starts from is the type's other fixes: counting
    # the fix's own five successes there too would count them twice.
    for i in range(3):
        record(memory, ["# restart"], False, at=i)
    for i in range(5):
        record(memory, ["# raise timeout"], True, at=10 + i, description="slow start")
    ranked = {tuple(f["fix_commands"]): f for f in memory.suggest(issue())["ranked_fixes"]}
    mine = Counts(5, 5)
    expected = pooled(mine, mine, mine, base_rate(3, 0))
    assert ranked[("# raise timeout",)]["estimate"]["mean"] == round(expected.mean, 4)


# ---- gate ----------------------------------------------------------------


def test_gate_decisions_and_exit_codes(memory: AIMemory) -> None:
    # no history at all: try
    verdict = memory.gate(issue(), min_rate=0.5)
    assert (verdict["decision"], verdict["exit_code"], verdict["reason"]) == (
        "try",
        EXIT_TRY,
        "no-history",
    )
    # one failure, no verified fix, min_rate 0: try something new
    record(memory, ["# restart"], False)
    assert memory.gate(issue())["reason"] == "no-known-fix"
    # ... but with a bar to clear: low confidence, exit 4
    low = memory.gate(issue(), min_rate=0.2)
    assert (low["decision"], low["exit_code"], low["reason"]) == (
        "skip",
        EXIT_SKIP_LOW_CONFIDENCE,
        "low-confidence",
    )
    # the same fix failed 3 times for this fingerprint: exit 3
    record(memory, ["# restart"], False, at=1)
    record(memory, ["# restart"], False, at=2)
    repeated = memory.gate(issue())
    assert (repeated["decision"], repeated["exit_code"], repeated["reason"]) == (
        "skip",
        EXIT_SKIP_REPEATED,
        "repeated-failure",
    )
    assert repeated["repeated_failures"][0]["fix_commands"] == ["# restart"]
    assert memory.gate(issue(), max_failures=4)["exit_code"] == EXIT_TRY
    # a fix with evidence elsewhere (same family and type): try it
    for i in range(5):
        record(memory, ["# raise timeout"], True, at=10 + i, description="slow start")
    ok = memory.gate(issue(), min_rate=0.3)
    assert (ok["decision"], ok["exit_code"], ok["reason"]) == ("try", EXIT_TRY, "evidence")
    assert ok["best_fix"]["fix_commands"] == ["# raise timeout"]
    assert memory.gate(issue(), min_rate=0.9)["exit_code"] == EXIT_SKIP_REPEATED
    with pytest.raises(InvalidInputError, match="min_rate"):
        memory.gate(issue(), min_rate=1.5)


# ---- repeat guard ----------------------------------------------------------


def test_repeat_guard_warns_after_n_failures(memory: AIMemory) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepeatedFixWarning)
        for i in range(3):
            record(memory, ["# restart"], False, at=i)  # no warning yet
    with pytest.warns(RepeatedFixWarning, match=r"already failed 3 times"):
        record(memory, ["# restart"], False, at=3, description="Model response timeout after 45 s")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepeatedFixWarning)
        record(memory, ["# other"], False, at=4)  # other commands
        record(memory, ["# restart"], False, at=5, description="a different failure")
        record(memory, [], False, at=6)  # no commands: never a repeat
    with pytest.warns(RepeatedFixWarning, match="attempt 2"):
        memory.record_many(
            [
                {
                    "issue_data": issue(),
                    "ai_response": response(cmd),
                    "fix_success": False,
                    "verification_success": False,
                }
                for cmd in ("# fresh", "# restart")
            ]
        )


def test_repeat_guard_strict_refuses_and_writes_nothing(memory: AIMemory) -> None:
    record(memory, ["# restart"], False)
    with pytest.warns(RepeatedFixWarning):
        record(memory, ["# restart"], False, at=1, max_failures=1)
    before = memory.get_memory_stats()["total_fixes_attempted"]
    generation = memory.store.generation()
    with pytest.raises(RepeatedFixError, match="nothing was recorded"):
        record(memory, ["# restart"], True, at=2, max_failures=2, strict=True)
    assert memory.get_memory_stats()["total_fixes_attempted"] == before
    assert memory.store.generation() == generation
    record(memory, ["# restart"], True, at=3, max_failures=3, strict=True)  # 2 < 3: allowed


def test_repeat_guard_quiet_once_fix_worked_for_fingerprint(memory: AIMemory) -> None:
    record(memory, ["# restart"], True)
    for i in range(4):
        record(memory, ["# restart"], False, at=1 + i, strict=True)  # never refused


# ---- cost -------------------------------------------------------------------


def test_cost_per_verified_success_on_known_history(memory: AIMemory) -> None:
    def paid(usd: float | None, tin: int | None = None, tout: int | None = None) -> dict[str, Any]:
        extra: dict[str, Any] = {"fixer_model": "claude-3-5-sonnet"}
        if usd is not None:
            extra["cost_usd"] = usd
        if tin is not None:
            extra.update(tokens_in=tin, tokens_out=tout)
        return extra

    record(memory, ["# a"], False, at=0, cost=paid(0.10, 1000, 100))
    record(memory, ["# a"], False, at=1, cost=paid(0.20, 2000, 200))
    record(memory, ["# b"], True, at=2, cost=paid(0.30, 3000, 300))
    record(
        memory, ["# b"], True, at=3, fixer="gpt", cost={"cost_usd": 0.5, "fixer_model": "gpt-4o"}
    )
    record(
        memory, ["# b"], True, at=4, fixer="gpt", cost={"cost_usd": 0.5, "fixer_model": "gpt-4o"}
    )
    record(memory, ["# c"], False, at=5, fixer="gpt", issue_type="ERROR", description="boom")
    cost = memory.get_cost_analysis()
    assert list(cost) == ["by_fixer", "by_fixer_model", "by_issue_type", "by_fixer_and_issue_type"]
    by_fixer = {row["fixer_type"]: row for row in cost["by_fixer"]}
    claude, gpt = by_fixer["claude"], by_fixer["gpt"]
    assert (claude["attempts"], claude["successes"], claude["failed_attempts"]) == (3, 1, 2)
    assert claude["cost_usd"] == pytest.approx(0.6)
    assert claude["cost_per_success"] == pytest.approx(0.6)  # failed attempts' cost counted
    assert claude["cost_per_attempt"] == pytest.approx(0.2)
    assert claude["tokens_per_success"] == pytest.approx(6600)
    assert gpt["cost_per_success"] == pytest.approx(0.5)
    assert gpt["cost_coverage"] == 0.6667
    pairs = {(r["fixer_type"], r["issue_type"]): r for r in cost["by_fixer_and_issue_type"]}
    assert pairs[("gpt", "ERROR")]["cost_per_success"] is None
    assert pairs[("gpt", "TIMEOUT")]["cost_per_success"] == pytest.approx(0.5)
    models = {r["fixer_model"]: r for r in cost["by_fixer_model"]}
    assert set(models) == {"claude-3-5-sonnet", "gpt-4o", None}
    assert memory.analytics()["cost"] == cost
    assert [r["fixer_type"] for r in cost["by_fixer"]] == ["gpt", "claude"]  # cheapest first


# ---- outcome-aware retention -----------------------------------------------


def test_retention_plan_keeps_successes_and_latest_failures(memory: AIMemory) -> None:
    desc = "Model response timeout after 30 seconds"
    failures = [record(memory, [f"# try {i}"], False, at=i, description=desc) for i in range(5)]
    wins = [record(memory, ["# win"], True, at=10 + i, description=desc) for i in range(2)]
    other = record(memory, ["# z"], False, at=20, description="another failure")
    plan = memory.retention_plan(2)
    assert plan["row_ids"] == failures[:3]
    assert not set(plan["row_ids"]) & {*wins, other, *failures[3:]}
    assert (plan["rows"], plan["fingerprints"]) == (3, 1)
    assert plan["by_issue_type"] == {"TIMEOUT": 3}
    assert plan["learning_changed"] is False
    assert [f["fix_commands"] for f in plan["fixes_without_hot_rows"]] == [
        ["# try 0"],
        ["# try 1"],
        ["# try 2"],
    ]
    assert len(plan["explanation"]) == 3
    assert memory.retention_plan(0)["rows"] == 6
    assert memory.retention_plan(5)["rows"] == 0
    with pytest.raises(InvalidInputError):
        memory.retention_plan(-1)


# ---- the demo repository ---------------------------------------------------


def test_demo_repository_advice(demo_dir: Path) -> None:
    with AIMemory(demo_dir) as memory:
        result = memory.suggest(
            issue("qwen2.5:7b", "TIMEOUT", "Model response timeout after 30 seconds")
        )
        assert result["ranked_fixes"], result
        scores = [r["score"] for r in result["ranked_fixes"]]
        assert scores == sorted(scores, reverse=True)
        for fix in result["ranked_fixes"]:
            assert fix["estimate"]["low"] <= fix["estimate"]["mean"] <= fix["estimate"]["high"]
        assert memory.gate(issue("qwen2.5:7b", "TIMEOUT", "timeout"))["exit_code"] in (0, 3, 4)
        cost = memory.get_cost_analysis()["by_fixer"]
        assert {r["fixer_type"] for r in cost} == {"claude", "qwen", "gpt"}
        assert all(r["cost_coverage"] == 1.0 for r in cost)
        assert memory.patterns(kind="fingerprint")
        assert memory.alerts()["exit_code"] in (0, 3)
        assert memory.retention_plan(3)["learning_changed"] is False


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 5)),
        max_size=40,
    ),
    st.integers(1, 6),
)
def test_wilson_ranking_early_stop_matches_full_sort(
    raw: list[tuple[int, int, int]], limit: int
) -> None:
    from aimem.learn.stats_math import rank_by_wilson

    rows = [
        (min(s, a), max(s, a, 1), None if day == 0 else f"2025-01-0{day}", f"k{i}")
        for i, (s, a, day) in enumerate(raw)
    ]
    rows.sort(key=lambda r: -r[0])  # the store's index order: successes descending

    def counts(r: tuple[int, int, str | None, str]) -> tuple[int, int, str | None, str]:
        return r

    assert rank_by_wilson(rows, counts, limit) == rank_by_wilson(rows, counts)[:limit]

    from aimem.learn.stats_math import wilson_low

    def rank(r: tuple[int, int, str | None, str]) -> tuple[float, int, list[int], str]:
        # bound, successes, latest success descending (negated code points), key
        return (-wilson_low(r[0], r[1]), -r[0], [-ord(c) for c in r[2] or ""] + [1], r[3])

    assert rank_by_wilson(rows, counts) == sorted(rows, key=rank)


def _derived(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        return {
            "outcomes": conn.execute(
                "SELECT * FROM aimem_fix_outcomes ORDER BY scope, scope_key, fix_key"
            ).fetchall(),
            "cost": conn.execute(
                "SELECT fixer_type, fixer_model, issue_type, attempts, successes, "
                "round(cost_sum, 9), cost_n, tokens_in_sum, tokens_out_sum, tokens_n "
                "FROM aimem_cost ORDER BY 1, 2, 3"
            ).fetchall(),
            "patterns": conn.execute(
                "SELECT issue_signature, best_fix FROM issue_patterns ORDER BY id"
            ).fetchall(),
            "models": conn.execute(
                "SELECT model_name, effective_fixes FROM model_characteristics ORDER BY 1"
            ).fetchall(),
            "fingerprints": conn.execute("SELECT id, fingerprint FROM fix_history").fetchall(),
        }
    finally:
        conn.close()


def test_advice_migration_equals_a_full_recomputation(repo_dir: Path) -> None:
    from aimem.learn.signatures import _legacy_fingerprint_v1
    from aimem.ops.demo import demo_attempts
    from aimem.store.rebuild import rebuild_aggregates
    from tests.oracle import assert_aggregates_match

    items = list(demo_attempts(count=300, seed=11))
    for n, item in enumerate(items[:40]):  # wordings the old normalization split or missed
        item["issue_data"]["description"] = (
            f"model 'qwen2.5:7b' failed at 2026-01-0{1 + n % 9}T03:04:05Z in src/x{n}.py."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with AIMemory(repo_dir) as memory:
            memory.record_many(items)
    db = repo_dir / "ai_memory.db"
    # Rewind to what schema version 9 stored: legacy fingerprints and their
    # outcomes, no cost rollup, best fixes ranked by the old rule (scrambled here).
    conn = sqlite3.connect(db, isolation_level=None)
    rows = conn.execute("SELECT id, issue_type, model_name, description FROM fix_history")
    legacy = [(_legacy_fingerprint_v1(t, m, d), i) for i, t, m, d in rows.fetchall()]
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("UPDATE fix_history SET fingerprint = ? WHERE id = ?", legacy)
    rebuild_aggregates(conn)
    conn.execute("DROP TABLE aimem_cost")
    conn.execute("UPDATE issue_patterns SET best_fix = NULL")
    conn.execute("UPDATE model_characteristics SET effective_fixes = '[]'")
    conn.execute(f"PRAGMA user_version = {BEFORE_ADVICE}")
    conn.execute("COMMIT")
    conn.close()
    AIMemory(repo_dir).close()  # runs the advice migration
    migrated = _derived(db)
    assert migrated["fingerprints"] != [(i, fp) for fp, i in legacy]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    rebuild_aggregates(conn)
    conn.execute("COMMIT")
    conn.close()
    assert _derived(db) == migrated
    assert_aggregates_match(db)


def test_an_imported_fingerprint_is_kept_and_a_missing_one_is_computed() -> None:
    from aimem.records import attempt_from_row

    text = "timeout at 2026-01-02T03:04:05Z"
    row = {
        "timestamp": "2025-06-01T00:00:00Z",
        "model_name": "qwen2.5:7b",
        "issue_type": "TIMEOUT",
        "issue_signature": "0123456789abcdef",
        "description": text,
        "fixer_type": "claude",
        "fix_success": False,
        "verification_success": False,
        "uid": "0" * 32,
    }
    assert attempt_from_row(row).fingerprint == generate_fingerprint("TIMEOUT", "qwen2.5:7b", text)
    assert attempt_from_row({**row, "fingerprint": "feedfacefeedface"}).fingerprint == (
        "feedfacefeedface"
    )


@pytest.mark.parametrize("purge", [False, True])
def test_cost_survives_cleanup_and_check_agrees(demo_dir: Path, purge: bool) -> None:
    # Archived and purged attempts keep counting in the cost rollup, and check's
    # recomputation from the segments agrees with it.
    with AIMemory(demo_dir) as memory:
        before = memory.get_cost_analysis()
        result = memory.cleanup(20, purge=purge)
        assert result["rows"] > 0
        assert memory.get_cost_analysis() == before
        report = memory.check()
        assert report.ok, [f.to_dict() for f in report.findings]
