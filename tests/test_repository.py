"""Repository discovery, layout and permissions; the query API on a demo history."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aimem import AIMemory, InvalidInputError, NotARepositoryError, NotFoundError
from aimem.paths import find_repository, resolve_repository
from tests.conftest import issue, response


def test_private_permissions(repo_dir: Path) -> None:
    with AIMemory(repo_dir) as memory:
        memory.record_fix_attempt(issue(), response(), True, True, 1.0)
    assert stat.S_IMODE(repo_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((repo_dir / "archive").stat().st_mode) == 0o700
    assert stat.S_IMODE((repo_dir / "ai_memory.db").stat().st_mode) == 0o600


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIMEM_DIR")
    project = tmp_path / "project"
    deep = project / "a" / "b"
    deep.mkdir(parents=True)
    AIMemory(project / "AIMemory").close()
    monkeypatch.chdir(deep)
    assert find_repository() == (project / "AIMemory").resolve()
    assert resolve_repository() == (project / "AIMemory").resolve()
    monkeypatch.setenv("AIMEM_DIR", str(tmp_path / "elsewhere"))
    # A new repository is always a folder named AIMemory (aimem.paths.repository_to_create).
    assert resolve_repository() == tmp_path / "elsewhere" / "AIMemory"
    monkeypatch.setenv("AIMEM_DIR", str(project))  # the folder holding AIMemory/
    assert resolve_repository() == project / "AIMemory"
    assert resolve_repository(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("AIMEM_DIR")
    monkeypatch.chdir(tmp_path)
    assert resolve_repository() == tmp_path / "AIMemory"


def test_missing_repository_is_not_created_when_reading(repo_dir: Path) -> None:
    with pytest.raises(NotARepositoryError):
        AIMemory(repo_dir, create=False)
    assert not repo_dir.exists()


def test_design_api_on_demo(demo_dir: Path) -> None:
    with AIMemory(demo_dir) as memory:
        stats = memory.get_memory_stats()
        assert list(stats) == [
            "total_fixes_attempted",
            "successful_fixes",
            "success_rate",
            "models_encountered",
            "issue_types_seen",
            "recent_activity_7days",
            "knowledge_base_size",
            "memory_directory",
        ]
        assert stats["total_fixes_attempted"] == 480
        assert stats["models_encountered"] == 7 and stats["issue_types_seen"] == 6
        if memory.database_url is None:
            kb_file = demo_dir / "knowledge_base.json"
            assert stats["knowledge_base_size"] == kb_file.stat().st_size
        else:  # on PostgreSQL the knowledge base is in the database: 'kb export' writes it
            assert stats["knowledge_base_size"] > 1000
        similar = memory.query_similar_issues(
            {
                "model": "qwen2.5:7b",
                "issue_type": "TIMEOUT",
                "test_prompt": "Write a haiku about the sea",
            },
            limit=3,
        )
        assert set(similar) >= {"exact_matches", "model_matches", "type_matches"}
        assert all(len(v) <= 3 for v in similar.values())
        assert all(
            r["model_name"] == "qwen2.5:7b" and r["issue_type"] == "TIMEOUT"
            for r in similar["model_matches"]
        )
        insights = memory.get_model_insights("qwen2.5:7b")
        assert insights["total_tests"] == sum(
            m["attempts"] for m in memory.models() if m["model_name"] == "qwen2.5:7b"
        )
        assert len(insights["recent_history"]) == 10
        with pytest.raises(NotFoundError):
            memory.get_model_insights("nope:1b", strict=True)
        recent = memory.recent(7)
        assert len(recent) == stats["recent_activity_7days"]
        assert recent == sorted(recent, key=lambda r: r["timestamp"], reverse=True)
        strategies = memory.successful_strategies("TIMEOUT", limit=3)
        assert len(strategies) == 3 and all(s["issue_type"] == "TIMEOUT" for s in strategies)
        analytics = memory.analytics()
        assert set(analytics) == {
            "daily_stats",
            "model_performance",
            "issue_trends",
            "fixer_comparison",
            "cost",  # cost per verified success
        }
        assert sum(r["attempts"] for r in memory.get_model_performance_matrix()) == 480
        assert sum(f["total_attempts"] for f in memory.get_fixer_effectiveness()) == 480
        hits = memory.search("out of memory")
        assert hits and all(
            "memory" in (h["description"] + h["claude_analysis"]).lower() for h in hits
        )
        assert "[" in hits[0]["snippet"]
        with pytest.raises(InvalidInputError):
            memory.search("!!!")
        report = demo_dir.parent / "report.json"
        memory.export_insights(report)
        assert report.stat().st_size > 1000
        assert os.access(report, os.R_OK)


def test_search_quotes_user_syntax(memory: AIMemory) -> None:
    memory.record_fix_attempt(
        issue(description='quote " and OR NEAR( * stuff'), response("x"), True, True, 1.0
    )
    assert len(memory.search('NEAR( " OR')) == 1
