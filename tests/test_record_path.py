"""The single-record fast path keeps every aggregate equal to a recomputation.

``record_fix_attempt`` re-ranks a signature's best fix and a model's effective
fixes only when the counts that decide them changed. These tests
drive long runs of single records over a wide vocabulary of fixes, including
fixes whose ``effective_fixes`` lines look alike (``["a && b"]`` and
``["a", "b"]``), so that every branch of that decision is taken, and compare
the tables with the independent oracle after every few records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimem import AIMemory
from tests.conftest import issue, response
from tests.oracle import assert_aggregates_match

COMMANDS = [[], ["a"], ["b"], ["a", "b"], ["a && b"], ["c"], ["d"], ["e"]]

step = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["qwen2.5:7b", "llama3.1:8b"]),
        "prompt": st.sampled_from(["p1", "p2"]),
        "commands": st.integers(min_value=0, max_value=len(COMMANDS) - 1),
        "ok": st.booleans(),
        "minute": st.integers(min_value=0, max_value=59),
    }
)


def _record(memory: AIMemory, s: dict[str, Any], hour: int) -> None:
    ok = s["ok"]
    memory.record_fix_attempt(
        issue(s["model"], "TIMEOUT", "went wrong", test_prompt=s["prompt"]),
        response(*COMMANDS[s["commands"]]),
        ok,
        ok,
        1.0,
        timestamp=f"2025-03-01T{hour % 24:02d}:{s['minute']:02d}:00Z",
    )


@pytest.mark.slow
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(step, min_size=1, max_size=80))
def test_single_records_keep_rankings_equal_to_recomputation(
    tmp_path_factory: Any, steps: list[dict[str, Any]]
) -> None:
    folder = tmp_path_factory.mktemp("repo")
    with AIMemory(folder) as memory:
        for n, s in enumerate(steps):
            _record(memory, s, n)
            if n % 15 == 14:
                assert_aggregates_match(folder / "ai_memory.db")
    assert_aggregates_match(folder / "ai_memory.db")


def test_failures_of_a_listed_fix_can_demote_it(repo_dir: Path) -> None:
    # "a" leads with 5 in 5 over "b" with 4 in 4. Two failures of "a" must
    # re-rank though they add no success (the skip applies to unlisted fixes only).
    with AIMemory(repo_dir) as memory:
        plan = [(["a"], True)] * 5 + [(["b"], True)] * 4 + [(["a"], False)] * 2
        for n, (commands, ok) in enumerate(plan):
            memory.record_fix_attempt(
                issue(),
                response(*commands),
                ok,
                ok,
                1.0,
                timestamp=f"2025-03-01T10:{n:02d}:00Z",
            )
        insights = memory.get_model_insights("qwen2.5:7b")
        assert insights["effective_fixes"][0] == "b"
        best = memory.patterns(kind="exact")[0]
        assert best["best_fix"] == ["b"]
    assert_aggregates_match(repo_dir / "ai_memory.db")


def test_repeated_failures_of_an_unlisted_fix_change_nothing_learned(repo_dir: Path) -> None:
    with AIMemory(repo_dir) as memory:
        memory.record_fix_attempt(issue(), response("a"), True, True, 1.0)
        memory.record_fix_attempt(issue(), response("b"), True, True, 1.0)
        before = memory.get_model_insights("qwen2.5:7b")["effective_fixes"]
        for _ in range(4):
            memory.record_fix_attempt(issue(), response("z"), False, False, 1.0)
        after = memory.get_model_insights("qwen2.5:7b")
        assert after["effective_fixes"] == before
        assert after["total_tests"] == 6
    assert_aggregates_match(repo_dir / "ai_memory.db")


def test_writers_take_turns_and_a_stuck_turn_falls_back(repo_dir: Path) -> None:
    import fcntl
    import os
    import threading

    from aimem.store.connection import WRITE_QUEUE_NAME

    with AIMemory(repo_dir) as memory:
        memory.record_fix_attempt(issue(), response("a"), True, True, 1.0)
        queue = memory.store.write_queue
        assert (repo_dir / WRITE_QUEUE_NAME).exists()
        # Another process's writer holds the turn and is stuck: the wait gives up
        # (bounded) and the write goes ahead under SQLite's own lock.
        fd = os.open(repo_dir / WRITE_QUEUE_NAME, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        with queue.turn(timeout=0.2):
            memory.store.set_meta("probe", "1")
        fcntl.flock(fd, fcntl.LOCK_UN)
        # The abandoned wait must not keep the lock once it gets it.
        for _ in range(200):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                threading.Event().wait(0.01)
        else:
            raise AssertionError("an abandoned wait kept the write queue")
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        # Turns nest (a transaction helper inside another) without releasing early.
        with queue.turn(), queue.turn():
            pass
        memory.record_fix_attempt(issue(), response("b"), False, False, 1.0)
        assert memory.get_memory_stats()["total_fixes_attempted"] == 2
    assert_aggregates_match(repo_dir / "ai_memory.db")
