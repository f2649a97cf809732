"""PostgreSQL's one-call record path (``aimem_record_attempts``) against the plain one.

A record of a few attempts on PostgreSQL runs as one server-side function;
SQLite (and PostgreSQL's bulk path) runs ``AggregateWriter``. Both must leave
the same learned state, and the server's Wilson ranking must order fixes as
``aggregates._top_fixes`` does.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimem import AIMemory
from aimem.store.aggregates import _top_fixes
from tests.conftest import issue, response

pytestmark = pytest.mark.filterwarnings("ignore::aimem.learn.advice.RepeatedFixWarning")

# Aggregate tables and the columns that identify a row (ids differ by path).
TABLES = {
    "aimem_totals": "model_name, issue_type, fixer_type",
    "aimem_daily": "day, model_name, issue_type, fixer_type",
    "aimem_temporal": "issue_type, weekday, hour",
    "aimem_fix_outcomes": "scope, scope_key, fix_key",
    "aimem_cost": "fixer_type, fixer_model, issue_type",
    "issue_patterns": "pattern_name",
    "model_characteristics": "model_name",
}
LEFT_OUT = {"id", "last_updated"}  # row ids, and the wall-clock time of the write


def attempts(seed: int, count: int) -> list[dict[str, Any]]:
    """Attempts that collide often: few models, types, failures and fixes.

    Times and costs are multiples of powers of two, so their sums are exact
    in any order."""
    rng = random.Random(seed)
    models = ["qwen2.5:7b", "qwen2.5:14b", "llama3.2:1b", "deepseek-coder:33b"]
    kinds = ["TIMEOUT", "ERROR", "NO_OUTPUT"]
    fixes = [["ollama pull {m}"], ["systemctl restart ollama"], ["export OLLAMA_NUM_GPU=0"], []]
    made = []
    for n in range(count):
        model = rng.choice(models)
        worked = rng.random() < 0.45
        made.append(
            {
                "issue_data": issue(
                    model=model,
                    issue_type=rng.choice(kinds),
                    description=f"failure number {rng.randrange(6)}",
                ),
                "ai_response": {
                    **response(*[c.replace("{m}", model) for c in rng.choice(fixes)]),
                    "cost_usd": rng.randrange(8) / 64,
                    "tokens_in": rng.randrange(900),
                },
                "fix_success": worked or rng.random() < 0.2,
                "verification_success": worked,
                "execution_time": rng.randrange(40) / 4,
                "fixer_type": rng.choice(["claude", "qwen"]),
                "timestamp": f"2026-0{1 + n % 9}-{1 + n % 27:02d}T{n % 24:02d}:15:00Z",
            }
        )
    return made


def table_rows(fetch: Any, table: str) -> list[tuple[Any, ...]]:
    cursor = fetch(f"SELECT * FROM {table} ORDER BY {TABLES[table]}")
    names = [d[0] for d in cursor.description]
    return [
        tuple(
            round(value, 12) if isinstance(value, float) else value
            for name, value in zip(names, row, strict=True)
            if name not in LEFT_OUT
        )
        for row in cursor.fetchall()
    ]


def test_one_call_records_leave_what_the_plain_path_leaves(pg_url: str, tmp_path: Path) -> None:
    made = attempts(seed=7, count=240)
    with AIMemory(db=pg_url) as on_postgres, AIMemory(tmp_path / "lite") as on_sqlite:
        for item in made:
            on_postgres.record_fix_attempt(**item)
            on_sqlite.record_fix_attempt(**item)
        report = on_postgres.check()
        assert report.ok, report.findings
    lite = sqlite3.connect(next((tmp_path / "lite").rglob("ai_memory.db")))
    with psycopg.connect(pg_url) as pg:
        for table in TABLES:
            assert table_rows(pg.execute, table) == table_rows(lite.execute, table), table
    lite.close()


def test_a_batch_recorded_in_one_call_is_counted_as_one_by_one(pg_url: str) -> None:
    made = attempts(seed=11, count=60)
    with AIMemory(db=pg_url) as memory:
        for start in range(0, len(made), 12):
            memory.record_many(made[start : start + 12])
        report = memory.check()
        assert report.ok, report.findings
        assert memory.get_memory_stats()["total_fixes_attempted"] == 60


outcome_rows = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=8),  # attempts
        st.integers(min_value=0, max_value=8),  # successes (clipped to attempts)
        st.sampled_from([None, "2026-01-02T00:00:00Z", "2026-03-04T05:06:07Z"]),
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=outcome_rows, limit=st.integers(min_value=1, max_value=5))
def test_the_server_ranks_fixes_as_python_does(
    pg_url: str, rows: list[tuple[int, int, str | None]], limit: int
) -> None:
    with AIMemory(db=pg_url):
        pass  # the schema and its functions
    key = uuid.uuid4().hex
    stored = [
        (
            f'["fix {n}"]',
            attempts,
            min(successes, attempts),
            seen if successes else None,
            f"k{n:02d}",
        )
        for n, (attempts, successes, seen) in enumerate(rows)
    ]
    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.cursor().executemany(
            "INSERT INTO aimem_fix_outcomes(scope, scope_key, fix_key, fix_commands, attempts, "
            "successes, last_attempt, last_success) VALUES ('model', %s, %s, %s, %s, %s, '', %s)",
            [(key, fix_key, commands, a, s, seen) for commands, a, s, seen, fix_key in stored],
        )
        row = pg.execute("SELECT aimem_top_fixes('model', %s, %s)", (key, limit)).fetchone()
    assert row is not None
    ranked_in_python = _top_fixes(
        sorted(
            (r for r in stored if r[2] > 0),
            key=lambda r: -r[2],
        ),
        limit,
    )
    assert row[0] == ranked_in_python
