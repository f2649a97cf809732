"""Signatures match the seed system's byte for byte; fingerprints group rewordings."""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aimem import AIMemory
from aimem.learn.signatures import (
    content_uid,
    generate_fingerprint,
    generate_issue_signature,
    normalize_issue_type,
)
from aimem.records import STANDARD_ISSUE_TYPES


def design_signature(issue_data: dict[str, Any]) -> str:
    # The seed system's algorithm, verbatim.
    signature_parts = [
        issue_data.get("issue_type", ""),
        issue_data.get("model", "").split(":")[0],
        issue_data.get("test_prompt", "")[:50],
        str(len(issue_data.get("actual_response", ""))),
    ]
    signature_text = "|".join(signature_parts)
    return hashlib.md5(signature_text.encode()).hexdigest()[:16]


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "issue_type": st.text(max_size=30),
            "model": st.text(max_size=30),
            "test_prompt": st.text(max_size=120),
            "actual_response": st.text(max_size=200),
        },
    )
)
def test_signature_is_the_design_algorithm_on_the_normalized_type(
    issue_data: dict[str, Any],
) -> None:
    # Any spelling signs as the design signs the one spelling; a type already
    # in that spelling is the design's algorithm unchanged.
    normalized = dict(issue_data)
    if "issue_type" in issue_data:
        normalized["issue_type"] = normalize_issue_type(issue_data["issue_type"])
    assert generate_issue_signature(issue_data) == design_signature(normalized)
    if normalized == issue_data:
        assert generate_issue_signature(issue_data) == design_signature(issue_data)


@given(
    st.sampled_from(STANDARD_ISSUE_TYPES),
    st.text(max_size=30),
    st.text(max_size=120),
    st.text(max_size=200),
)
def test_standard_types_sign_byte_for_byte_as_the_design(
    issue_type: str, model: str, prompt: str, answer: str
) -> None:
    data = {"issue_type": issue_type, "model": model, "test_prompt": prompt}
    data["actual_response"] = answer
    assert generate_issue_signature(data) == design_signature(data)


@given(st.text(max_size=40))
def test_normalization_is_idempotent(text: str) -> None:
    once = normalize_issue_type(text)
    assert normalize_issue_type(once) == once
    assert once == text.strip().upper()


def test_every_spelling_of_a_type_is_one_type() -> None:
    spellings = ["timeout", "Timeout", "TIMEOUT", " timeout\t", "TimeOut"]
    assert {normalize_issue_type(s) for s in spellings} == {"TIMEOUT"}
    assert normalize_issue_type("model_not_available") == "MODEL_NOT_AVAILABLE"
    base = {"model": "qwen2.5:7b", "test_prompt": "Hi", "actual_response": "x"}
    assert {generate_issue_signature({**base, "issue_type": s}) for s in spellings} == {
        design_signature({**base, "issue_type": "TIMEOUT"})
    }


def test_known_signature_value() -> None:
    data = {
        "issue_type": "TIMEOUT",
        "model": "qwen2.5:7b",
        "test_prompt": "Hi",
        "actual_response": "",
    }
    expected = hashlib.md5(b"TIMEOUT|qwen2.5|Hi|0").hexdigest()[:16]
    assert generate_issue_signature(data) == expected


def test_recorded_attempt_carries_design_signature(memory: AIMemory) -> None:
    data = {
        "model": "llama3.1:8b",
        "issue_type": "NO_OUTPUT",
        "description": "empty",
        "test_prompt": "Write a haiku about the sea, please, in English, with care",
        "actual_response": "abc",
    }
    record_id = memory.record_fix_attempt(data, {"fix_commands": []}, False, False, 1.0)
    row = memory.store.get_row(record_id)
    assert row is not None
    assert row["issue_signature"] == design_signature(data)
    assert memory.generate_issue_signature(data) == design_signature(data)


def test_fingerprint_groups_rewordings_with_different_numbers() -> None:
    a = generate_fingerprint("TIMEOUT", "qwen2.5:7b", "Model response timeout after 30 seconds")
    b = generate_fingerprint("TIMEOUT", "qwen2.5:14b", "Model response timeout after 45 seconds")
    c = generate_fingerprint("TIMEOUT", "qwen2.5:7b", "CUDA out of memory")
    assert a == b
    assert a != c


def test_content_uid_is_deterministic_and_separates_copies() -> None:
    row = {"id": 5, "timestamp": "2025-01-01 00:00:00.000000Z", "model_name": "m"}
    assert content_uid(row) == content_uid({**row, "id": 9})
    assert content_uid(row, 2) != content_uid(row, 1)
    assert len(content_uid(row)) == 32
