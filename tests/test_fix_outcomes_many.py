"""Several fix-outcome questions in one statement answer as each asked alone.

``suggest`` asks its four scopes at once (``Store.fix_outcomes_many``); a
union keeps no order, so each answer must come back best first, ties
included, and inside ``memoized_reads`` a later single question must be
answered from the memo without a statement of its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from aimem import AIMemory
from tests.conftest import issue, response

pytestmark = pytest.mark.filterwarnings("ignore::aimem.learn.advice.RepeatedFixWarning")


def _history(memory: AIMemory) -> None:
    """Fixes that tie on successes, some with no success at all (no last success)."""
    fixes = [f"fix {n}" for n in range(7)]
    for round_ in range(3):
        for n, fix in enumerate(fixes):
            worked = n % 3 != 0 and round_ < 2
            memory.record_fix_attempt(
                issue(model="qwen2.5:7b" if n % 2 else "llama3.2:1b", description=f"case {n % 2}"),
                response(fix),
                fix_success=worked,
                verification_success=worked,
                execution_time=1.0,
                # Equal timestamps: the fix key alone breaks the tie.
                timestamp=f"2026-03-0{1 + round_}T10:00:00Z",
            )


QUESTIONS: list[tuple[str, str | None, int | None, int]] = [
    ("type", "TIMEOUT", 3, 1),
    ("type", "TIMEOUT", None, 0),
    ("model_type", "qwen2.5:7b|TIMEOUT", None, 0),
    ("family_type", "llama3.2|TIMEOUT", None, 1),
    ("model", None, 2, 0),
    ("signature", "no such signature", None, 0),
]


def test_many_questions_answer_as_each_alone(memory: AIMemory) -> None:
    _history(memory)
    store = memory.store
    alone = [store.fix_outcomes(*question) for question in QUESTIONS]
    assert all(alone[:4]) and alone[5] == []
    assert store.fix_outcomes_many(QUESTIONS) == alone
    with store.memoized_reads():
        assert store.fix_outcomes_many(QUESTIONS) == alone


def test_inside_a_snapshot_the_single_question_is_answered_from_the_memo(
    memory: AIMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _history(memory)
    store = memory.store
    alone = [store.fix_outcomes(*question) for question in QUESTIONS]
    with store.memoized_reads():
        assert store.fix_outcomes_many(QUESTIONS) == alone
        statements: list[Any] = []
        fetch = store._fetch
        monkeypatch.setattr(store, "_fetch", lambda *a: statements.append(a) or fetch(*a))
        assert [store.fix_outcomes(*question) for question in QUESTIONS] == alone
        assert statements == []


def test_a_context_asks_every_fix_outcome_question_in_one_statement(
    memory: AIMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _history(memory)
    store = memory.store
    reads: list[str] = []
    fetch = store._fetch
    monkeypatch.setattr(
        store, "_fetch", lambda sql, params: reads.append(sql) or fetch(sql, params)
    )
    text = memory.build_context(issue(model="qwen2.5:7b", description="case 1"))
    assert "fix 1" in text
    outcome_reads = [sql for sql in reads if "SELECT fix_key, scope_key, fix_commands" in sql]
    assert len(outcome_reads) == 1, outcome_reads
