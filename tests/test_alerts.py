"""Each alert fires on a history built to trigger it, and not on one built not to."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from aimem import AIMemory
from aimem.errors import InvalidInputError
from aimem.learn.alerts import EXIT_FOUND, EXIT_NONE, two_proportion_z
from tests.conftest import issue, response

# These histories repeat one failing fix on purpose; the repeat guard has its own tests.
pytestmark = pytest.mark.filterwarnings("ignore::aimem.learn.advice.RepeatedFixWarning")

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=timezone.utc)
NOW_TEXT = "2025-06-15T12:00:00Z"
ALERT_KEYS = ["checked_at", "window_days", "drift_days", "kinds", "count", "exit_code", "alerts"]


def ago(days: float = 0, hours: float = 0) -> str:
    return (NOW - timedelta(days=days, hours=hours)).isoformat()


def item(
    ok: bool,
    when: str,
    *,
    commands: tuple[str, ...] = ("# fix",),
    fixer: str = "claude",
    issue_type: str = "TIMEOUT",
    description: str = "Model response timeout after 30 seconds",
) -> dict[str, Any]:
    return {
        "issue_data": issue(issue_type=issue_type, description=description),
        "ai_response": response(*commands),
        "fix_success": ok,
        "verification_success": ok,
        "execution_time": 1.0,
        "fixer_type": fixer,
        "timestamp": when,
    }


def found(memory: AIMemory, kind: str) -> list[dict[str, Any]]:
    result = memory.alerts(now=NOW_TEXT, kinds=[kind])
    assert list(result) == ALERT_KEYS
    assert result["exit_code"] == (EXIT_FOUND if result["alerts"] else EXIT_NONE)
    return list(result["alerts"])


# ---- regressions ------------------------------------------------------------


def test_regression_when_fixed_failure_fails_again(memory: AIMemory) -> None:
    memory.record_many(
        [
            item(False, ago(days=20)),
            item(True, ago(days=10), commands=("# raise timeout",)),
            item(False, ago(days=2), description="Model response timeout after 45 seconds"),
            item(False, ago(hours=3)),
        ]
    )
    (alert,) = found(memory, "regression")
    assert alert["kind"] == "regression"
    detail = alert["detail"]
    assert detail["fingerprint"] == memory.generate_fingerprint(issue())
    assert detail["fixed_by"] == ["# raise timeout"]
    assert detail["failures_since_fix"] == 2
    assert detail["fixed_at"].startswith("2025-06-05")
    assert "fails again" in alert["message"]


def test_no_regression_when_fixed_or_never_fixed_or_old(memory: AIMemory) -> None:
    memory.record_many(
        [
            # failed, then fixed: resolved
            item(False, ago(days=3)),
            item(True, ago(days=1)),
            # never had a verified fix: not a regression
            item(False, ago(days=2), description="CUDA out of memory"),
            item(False, ago(days=1), description="CUDA out of memory"),
            # fixed, failed again, but outside the 7-day window
            item(True, ago(days=30), description="empty output"),
            item(False, ago(days=20), description="empty output"),
        ]
    )
    assert found(memory, "regression") == []
    wider = memory.alerts(now=NOW_TEXT, kinds=["regression"], days=25)
    assert [a["detail"]["description"] for a in wider["alerts"]] == ["empty output"]


# ---- drift ----------------------------------------------------------------


def drift_history(recent_successes: int) -> list[dict[str, Any]]:
    items = [item(i % 10 < 8, ago(days=10 + i * 0.5), fixer="qwen") for i in range(50)]
    items += [item(i < recent_successes, ago(days=1, hours=i), fixer="qwen") for i in range(20)]
    # a second fixer, steady all along
    items += [item(i % 2 == 0, ago(days=10 + i), fixer="gpt") for i in range(30)]
    items += [item(i % 2 == 0, ago(days=2, hours=i), fixer="gpt") for i in range(12)]
    return items


def test_drift_when_fixer_rate_falls(memory: AIMemory) -> None:
    memory.record_many(drift_history(recent_successes=6))  # 80% -> 30%
    (alert,) = found(memory, "drift")
    assert alert["subject"] == "qwen"
    detail = alert["detail"]
    assert detail["recent"]["attempts"] == 20 and detail["recent"]["successes"] == 6
    assert detail["baseline"]["attempts"] == 50 and detail["baseline"]["successes"] == 40
    assert detail["z"] < -3 and detail["p_value"] < 0.01
    assert detail["test"].startswith("two-proportion z-test")


def test_no_drift_when_rate_holds(memory: AIMemory) -> None:
    memory.record_many(drift_history(recent_successes=15))  # 80% -> 75%
    assert found(memory, "drift") == []


def test_two_proportion_z() -> None:
    assert two_proportion_z(5, 10, 5, 10) == 0
    assert two_proportion_z(0, 0, 5, 10) == 0
    assert two_proportion_z(6, 20, 40, 50) == pytest.approx(-3.981, abs=0.001)


# ---- spikes -----------------------------------------------------------------


def spike_history(today: int) -> list[dict[str, Any]]:
    items = [
        item(True, ago(days=d, hours=1), issue_type="ERROR", description="boom")
        for d in range(1, 15)
        for _ in range(2)
    ]
    items += [
        item(False, ago(hours=1 + i * 0.1), issue_type="ERROR", description="boom")
        for i in range(today)
    ]
    return items


def test_spike_when_daily_count_jumps(memory: AIMemory) -> None:
    memory.record_many(spike_history(today=20))
    (alert,) = found(memory, "spike")
    assert alert["subject"] == "ERROR"
    assert alert["detail"]["count"] == 20
    assert alert["detail"]["baseline_mean"] == 2.0
    assert alert["detail"]["threshold"] == pytest.approx(2 + 3 * 2**0.5, abs=1e-3)


def test_no_spike_on_a_normal_day(memory: AIMemory) -> None:
    memory.record_many(spike_history(today=4))
    assert found(memory, "spike") == []


def test_new_issue_type_in_volume_is_a_spike_but_a_few_are_not(memory: AIMemory) -> None:
    memory.record_many([item(False, ago(hours=1), issue_type="CUSTOM") for _ in range(4)])
    assert found(memory, "spike") == []
    memory.record_many([item(False, ago(hours=2), issue_type="CUSTOM") for _ in range(2)])
    assert [a["subject"] for a in found(memory, "spike")] == ["CUSTOM"]


# ---- all together -----------------------------------------------------------


def test_quiet_history_has_no_alerts(memory: AIMemory) -> None:
    memory.record_many([item(True, ago(days=d)) for d in range(30)] + [item(False, ago(days=40))])
    result = memory.alerts(now=NOW_TEXT)
    assert result["alerts"] == [] and result["exit_code"] == EXIT_NONE
    assert result["kinds"] == ["regression", "drift", "spike"]


def test_alert_arguments_are_checked(memory: AIMemory) -> None:
    with pytest.raises(InvalidInputError, match="kind"):
        memory.alerts(kinds=["nope"])
    with pytest.raises(InvalidInputError, match="now"):
        memory.alerts(now="yesterday")
    with pytest.raises(InvalidInputError, match="days"):
        memory.alerts(days=0)
