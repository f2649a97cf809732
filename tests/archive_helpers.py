"""Shared helpers for the archive, check and cleanup-crash tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aimem import AIMemory
from aimem.ops.demo import demo_attempts


def seeded(path: Path, count: int = 400, days: int = 120, seed: int = 5) -> None:
    with AIMemory(path) as mem:
        mem.record_many(list(demo_attempts(count=count, days=days, seed=seed)))


def learned(mem: AIMemory) -> dict[str, Any]:
    """Everything aggregates feed, through the public API."""
    stats = mem.get_memory_stats()
    stats.pop("knowledge_base_size")
    return {
        "stats": stats,
        "patterns": mem.patterns(limit=10000),
        "models": mem.models(),
        "strategies": mem.successful_strategies(limit=50),
        "matrix": mem.get_model_performance_matrix(),
        "fixers": mem.get_fixer_effectiveness(),
        "insights": {
            m["model_name"]: {
                k: round(v, 6) if isinstance(v, float) else v
                for k, v in mem.get_model_insights(m["model_name"]).items()
                if k not in ("recent_history", "last_updated")
            }
            for m in mem.models()
        },
    }


def all_rows(mem: AIMemory) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(hot rows, archived rows), each sorted by uid."""
    hot = sorted(mem.store.iter_rows(), key=lambda r: r["uid"])
    cold = sorted(mem.iter_archived_rows(), key=lambda r: r["uid"])
    return hot, cold
