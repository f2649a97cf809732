"""Bad input raises a field-named InvalidInputError and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from aimem import AimemError, AIMemory, InvalidInputError
from tests.conftest import issue, response, sql


def _count(memory: AIMemory) -> int:
    return memory.store.count_rows()


@pytest.mark.parametrize(
    ("issue_data", "field"),
    [
        ({"issue_type": "TIMEOUT", "description": "d"}, "issue_data.model"),
        ({"model": "", "issue_type": "TIMEOUT", "description": "d"}, "issue_data.model"),
        ({"model": "m", "description": "d"}, "issue_data.issue_type"),
        ({"model": "m", "issue_type": "timeout now", "description": "d"}, "issue_data.issue_type"),
        ({"model": "m", "issue_type": "TIMEOUT"}, "issue_data.description"),
        ({"model": "m", "issue_type": "TIMEOUT", "description": "   "}, "issue_data.description"),
        ({"model": "m", "issue_type": "TIMEOUT", "description": 5}, "issue_data.description"),
        (
            {"model": "m", "issue_type": "TIMEOUT", "description": "a\x00b"},
            "issue_data.description",
        ),
        (
            {"model": "m", "issue_type": "TIMEOUT", "description": "x" * 20_001},
            "issue_data.description",
        ),
        ({"model": "m" * 300, "issue_type": "TIMEOUT", "description": "d"}, "issue_data.model"),
        (
            {"model": "m", "issue_type": "TIMEOUT", "description": "\udcff"},
            "issue_data.description",
        ),
    ],
)
def test_bad_issue_data_names_the_field(
    memory: AIMemory, issue_data: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        memory.record_fix_attempt(issue_data, response("x"), True, True, 1.0)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert _count(memory) == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fix_success": "true"}, "fix_success"),
        ({"fix_success": 1}, "fix_success"),
        ({"verification_success": None}, "verification_success"),
        ({"execution_time": "fast"}, "execution_time"),
        ({"execution_time": -1.0}, "execution_time"),
        ({"execution_time": float("nan")}, "execution_time"),
        ({"execution_time": 1e300}, "execution_time"),
        ({"fixer_type": ""}, "fixer_type"),
        ({"fixer_type": "bad fixer; rm -rf /"}, "fixer_type"),
        ({"notes": 12}, "notes"),
        ({"ai_response": {"fix_commands": "ollama pull x"}}, "ai_response.fix_commands"),
        ({"ai_response": {"fix_commands": [1, 2]}}, "ai_response.fix_commands[0]"),
        ({"ai_response": {"fix_commands": ["x"] * 501}}, "ai_response.fix_commands"),
        ({"ai_response": "oops"}, "ai_response"),
        ({"issue_data": ["not", "a", "dict"]}, "issue_data"),
    ],
)
def test_bad_arguments_name_the_field(memory: AIMemory, kwargs: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {
        "issue_data": issue(),
        "ai_response": response("x"),
        "fix_success": True,
        "verification_success": True,
        "execution_time": 3.0,
    }
    arguments.update(kwargs)
    with pytest.raises(InvalidInputError) as caught:
        memory.record_fix_attempt(**arguments)
    assert caught.value.field == field
    assert isinstance(caught.value, AimemError)
    assert _count(memory) == 0


def test_standard_types_are_case_insensitive_and_custom_names_accepted(memory: AIMemory) -> None:
    first = memory.record_fix_attempt(issue(issue_type="timeout"), response(), False, False, None)
    second = memory.record_fix_attempt(
        issue(issue_type="GPU_DRIVER_CRASH"), response(), False, False, None
    )
    rows = [memory.store.get_row(first), memory.store.get_row(second)]
    assert [r["issue_type"] for r in rows if r] == ["TIMEOUT", "GPU_DRIVER_CRASH"]


def test_record_many_is_all_or_nothing(memory: AIMemory) -> None:
    good = {
        "issue_data": issue(),
        "ai_response": response("a"),
        "fix_success": True,
        "verification_success": True,
        "execution_time": 1.0,
    }
    bad = {**good, "fix_success": "yes"}
    with pytest.raises(InvalidInputError) as caught:
        memory.record_many([good, good, bad], source="batch.ndjson", lines=[1, 2, 7])
    assert str(caught.value).startswith("batch.ndjson:7: fix_success")
    assert _count(memory) == 0
    assert memory.get_memory_stats()["total_fixes_attempted"] == 0


def test_every_fix_history_column_is_an_insert_parameter_and_round_trips() -> None:
    from aimem.store.schema import ATTEMPT_COLUMNS, INSERT_ATTEMPT

    memory = AIMemory()
    memory.record_fix_attempt(
        issue(),
        response("ollama pull qwen2.5:7b"),
        True,
        False,
        execution_time=2.5,
        notes="kept",
    )
    database = memory.layout_info.database
    memory.close()
    stored = [r[1] for r in sql(database, "PRAGMA table_info(fix_history)")]
    assert [c for c in stored if c != "id"] == list(ATTEMPT_COLUMNS)
    assert INSERT_ATTEMPT.count("?") == len(ATTEMPT_COLUMNS)
    row = sql(database, f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM fix_history")[0]
    values = dict(zip(ATTEMPT_COLUMNS, row, strict=True))
    assert values["model_name"] == "qwen2.5:7b"
    assert values["issue_type"] == "TIMEOUT"
    assert (values["fix_success"], values["verification_success"]) == (1, 0)
    assert values["execution_time_seconds"] == 2.5
    assert values["notes"] == "kept"
    assert values["uid"] and values["fingerprint"]
