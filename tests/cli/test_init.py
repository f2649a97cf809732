"""aimem init [PATH] [--demo]."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import fails, invoke, ok, ok_json
from tests.conftest import run_aimem


def test_init_at_aimem_dir(repo_dir: Path) -> None:
    result = ok("init")
    assert result.stdout == f"Initialized empty aimem repository in {repo_dir}\n"
    assert (repo_dir / "ai_memory.db").is_file()
    assert oct((repo_dir).stat().st_mode & 0o777) == "0o700"
    again = ok("init")
    assert again.stdout == f"Reinitialized existing aimem repository in {repo_dir}\n"


def test_init_path_creates_aimemory_inside(tmp_path: Path) -> None:
    target = tmp_path / "project"
    summary = ok_json("init", str(target), "--json")
    assert summary == {
        "memory_directory": str(target / "AIMemory"),
        "existed": False,
        "demo_records": 0,
    }
    assert (target / "AIMemory" / "ai_memory.db").is_file()


def test_init_dir_option(tmp_path: Path) -> None:
    # A folder not named AIMemory gets one inside: the search from it finds that.
    target = tmp_path / "elsewhere" / "mem"
    ok("--dir", str(target), "init")
    assert (target / "AIMemory" / "ai_memory.db").is_file()
    assert not (target / "ai_memory.db").exists()
    named = tmp_path / "elsewhere" / "AIMemory"
    ok("--dir", str(named), "init")
    assert (named / "ai_memory.db").is_file()


def test_init_here_without_aimem_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AIMEM_DIR"}
    done = run_aimem("init", cwd=tmp_path, env={"AIMEM_DIR": ""} | env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "AIMemory" / "ai_memory.db").is_file()


def test_init_demo(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = invoke("init", str(target), "--demo")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Initialized aimem repository in {target / 'AIMemory'} with ")
    assert "try: aimem stats" in result.stderr
    stats = ok_json("--dir", str(target / "AIMemory"), "stats", "--json")
    assert stats["total_fixes_attempted"] >= 300
    assert stats["models_encountered"] >= 3
    assert stats["issue_types_seen"] >= 4
    assert 0 < stats["successful_fixes"] < stats["total_fixes_attempted"]
    assert stats["recent_activity_7days"] > 0
    fixers = ok_json("--dir", str(target / "AIMemory"), "analytics", "--json")["fixer_comparison"]
    assert len(fixers) >= 2


def test_init_demo_refuses_a_repository_with_history(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    ok("init", str(target), "--demo")
    before = ok_json("--dir", str(target / "AIMemory"), "stats", "--json")
    result = fails(1, "init", str(target), "--demo")
    assert "already holds" in result.stderr
    assert result.stderr.splitlines()[1].startswith("hint: ")
    assert ok_json("--dir", str(target / "AIMemory"), "stats", "--json") == before


def test_init_path_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    fails(2, "init", str(blocker))
