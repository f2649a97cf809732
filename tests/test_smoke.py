"""The README's first command works: init --demo, then real queries."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_aimem


def test_demo_then_stats(tmp_path: Path) -> None:
    created = run_aimem("init", "--demo")
    assert created.returncode == 0, created.stderr
    stats = run_aimem("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert b'"total_fixes_attempted": 480' in stats.stdout


def test_version_is_fast_path() -> None:
    result = run_aimem("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(b"aimem ")
