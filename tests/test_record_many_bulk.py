"""record_many of many attempts takes the bulk path (one executemany, the search
index built at the end): the result equals recording the same attempts one by one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from aimem import AIMemory
from aimem.store.sqlite import BULK_MIN_ROWS
from tests.conftest import issue, response
from tests.oracle import assert_aggregates_match
from tests.transfer_helpers import learned_state


def _items(count: int) -> list[dict[str, Any]]:
    start = datetime(2025, 3, 1, tzinfo=timezone.utc)
    models = ["qwen2.5:7b", "llama3.1:8b", "mistral:7b"]
    return [
        {
            "issue_data": issue(
                model=models[n % 3],
                issue_type=("TIMEOUT", "ERROR", "NO_OUTPUT")[n % 3],
                description=f"failure {n % 11} after {n % 7} retries",
                test_prompt=f"prompt {n % 5}",
            ),
            "ai_response": response(f"fix {n % 4}", analysis=f"analysis {n}"),
            "fix_success": n % 2 == 0,
            "verification_success": n % 3 != 0,
            "execution_time": float(n % 13),
            "notes": f"note {n}" if n % 5 else None,
            "fixer_type": ("claude", "qwen")[n % 2],
            "timestamp": (start + timedelta(minutes=37 * n)).isoformat(),
        }
        for n in range(count)
    ]


@pytest.mark.slow
def test_bulk_record_many_equals_one_by_one(tmp_path: Path) -> None:
    items = _items(BULK_MIN_ROWS * 3 + 5)
    with AIMemory(tmp_path / "one") as one:
        one_ids = [one.record_many([item])[0] for item in items]
        expected = learned_state(one)
    with AIMemory(tmp_path / "bulk") as bulk:
        bulk.record_many(items[:3])  # rows already there: the bulk ids follow them
        ids = bulk.record_many(items[3:])
        assert ids == list(range(4, len(items) + 1))
        assert [r["id"] for r in bulk.store.iter_rows()] == one_ids
        assert learned_state(bulk) == expected
        assert bulk.search("analysis 100")[0]["id"] == 101
    assert_aggregates_match(tmp_path / "bulk" / "ai_memory.db")
