"""Context for a fixer: deterministic, bounded, useful without history."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimem import AIMemory, InvalidInputError


def test_context_without_history_is_useful(memory: AIMemory) -> None:
    text = memory.build_context({"model": "qwen2.5:7b", "issue_type": "TIMEOUT"})
    assert text.startswith("# Historical context: TIMEOUT on qwen2.5:7b")
    assert "first attempt" in text
    assert "No attempts recorded for `qwen2.5:7b` yet." in text


def test_context_on_demo_has_every_section(demo_dir: Path) -> None:
    with AIMemory(demo_dir) as memory:
        data = {
            "model": "qwen2.5:7b",
            "issue_type": "TIMEOUT",
            "test_prompt": "Write a haiku about the sea",
        }
        text = memory.build_context(data)
        again = memory.build_context_for_claude(data)
    assert text == again
    for heading in (
        "## Model record: qwen2.5:7b",
        "## Exact matches",
        "## Same model and issue type",
        "## Patterns",
        "## Strategies that worked for TIMEOUT",
    ):
        assert heading in text
    assert "95% CI" in text
    assert "temporal: TIMEOUT concentrates" in text


@pytest.mark.parametrize("limit", [200, 500, 1000, 3000])
def test_context_respects_the_size_limit(demo_dir: Path, limit: int) -> None:
    with AIMemory(demo_dir) as memory:
        text = memory.build_context(
            {"model": "qwen2.5:7b", "issue_type": "TIMEOUT"}, max_chars=limit
        )
    assert len(text) <= limit
    assert text.startswith("# Historical context")
    assert "truncated" in text


def test_context_rejects_bad_arguments(memory: AIMemory) -> None:
    with pytest.raises(InvalidInputError):
        memory.build_context({"issue_type": "TIMEOUT"})
    with pytest.raises(InvalidInputError):
        memory.build_context({"model": "m", "issue_type": "TIMEOUT"}, max_chars=10)
