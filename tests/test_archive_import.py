"""Importing records that now live in the archive (or were purged) adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimem import AIMemory


@pytest.mark.parametrize("purge", [False, True])
def test_reimporting_archived_rows_counts_nothing_twice(
    demo_dir: Path, tmp_path: Path, purge: bool
) -> None:
    export = tmp_path / "all.ndjson"
    with AIMemory(demo_dir) as memory:
        memory.export_records(export, "ndjson")
        before = memory.get_memory_stats()
        moved = memory.cleanup(7, purge=purge)
        assert moved["rows"] > 0
        summary = memory.import_records(export, "ndjson")
        after = memory.get_memory_stats()
        hot_after_import = memory.store.count_rows()
    assert summary["added"] == 0
    assert {k: v for k, v in after.items() if k != "knowledge_base_size"} == {
        k: v for k, v in before.items() if k != "knowledge_base_size"
    }
    assert hot_after_import == 480 - moved["rows"]


def test_thawed_rows_are_known_as_hot_again(demo_dir: Path, tmp_path: Path) -> None:
    export = tmp_path / "all.ndjson"
    with AIMemory(demo_dir) as memory:
        memory.export_records(export, "ndjson")
        memory.cleanup(7)
        (segment,) = memory.archive_segments()
        memory.thaw(segment["name"])
        assert memory.store.count_rows() == 480
        assert memory.import_records(export, "ndjson")["added"] == 0
        assert memory.check().ok


def test_search_reads_the_archive_on_request(demo_dir: Path) -> None:
    with AIMemory(demo_dir) as memory:
        memory.record_fix_attempt(
            {"model": "m:1", "issue_type": "ERROR", "description": "zanzibar quokka failure"},
            {"analysis": "rare words", "fix_commands": ["quokka --fix"]},
            True,
            True,
            1.0,
            timestamp="2020-01-01T00:00:00Z",
        )
        assert [r["archived"] for r in memory.search("quokka")] == [False]
        memory.cleanup(30)
        assert memory.search("quokka") == []
        found = memory.search("zanzibar quok", include_archive=True)
        assert len(found) == 1
        hit = found[0]
        assert hit["archived"] is True and hit["rank"] is None
        assert hit["description"] == "zanzibar quokka failure"
        assert "[zanzibar]" in hit["snippet"]
        assert memory.search("zanzibar walrus", include_archive=True) == []
        hot = memory.search("ollama", limit=5, include_archive=True)
        assert len(hot) == 5
