"""knowledge_base.json: derived, atomic, never silently overwritten, mergeable."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from aimem import AIMemory, CorruptRepositoryError, InvalidInputError
from tests.conftest import issue, response


def _record(memory: AIMemory, ok: bool = True, notes: str | None = "worked") -> int:
    return memory.record_fix_attempt(issue(), response("ollama pull x"), ok, ok, 3.0, notes)


def test_file_follows_recorded_attempts(repo_dir: Path) -> None:
    with AIMemory(repo_dir) as memory:
        _record(memory)
    kb = json.loads((repo_dir / "knowledge_base.json").read_text())
    assert kb["format"] == "aimem-knowledge-base"
    timeout = kb["issue_types"]["TIMEOUT"]
    assert timeout["attempts"] == 1 and timeout["successes"] == 1
    assert timeout["best_fixes"][0]["fix_commands"] == ["ollama pull x"]
    assert timeout["notes"] == ["worked"]
    assert len(kb["signatures"]) == 1
    mode = stat.S_IMODE((repo_dir / "knowledge_base.json").stat().st_mode)
    assert mode == 0o600
    with AIMemory(repo_dir) as memory:
        _record(memory, ok=False)
        assert memory.knowledge_base["issue_types"]["TIMEOUT"]["attempts"] == 2
    kb = json.loads((repo_dir / "knowledge_base.json").read_text())
    assert kb["issue_types"]["TIMEOUT"]["attempts"] == 2


def test_corrupt_file_is_reported_never_overwritten(repo_dir: Path) -> None:
    with AIMemory(repo_dir) as memory:
        _record(memory)
    path = repo_dir / "knowledge_base.json"
    path.write_text('{"format": "aimem-knowledge-base",\n  "broken": ')
    damaged = path.read_bytes()
    with AIMemory(repo_dir) as memory:
        _record(memory)
        assert memory.knowledge_file.state() == "corrupt"
        with pytest.raises(CorruptRepositoryError) as caught:
            memory.knowledge_file.load()
        assert "knowledge_base.json:2:" in str(caught.value)
    assert path.read_bytes() == damaged
    with AIMemory(repo_dir) as memory:
        assert memory.sync_knowledge_base(force=True) == "current"
    assert json.loads(path.read_text())["issue_types"]["TIMEOUT"]["attempts"] == 2
    kept = list(repo_dir.glob("knowledge_base.json.corrupt-*"))
    assert kept and kept[0].read_bytes() == damaged


def test_hand_edited_file_is_not_overwritten(repo_dir: Path) -> None:
    with AIMemory(repo_dir) as memory:
        _record(memory)
    path = repo_dir / "knowledge_base.json"
    edited = json.loads(path.read_text())
    edited["my_notes"] = "keep me"
    path.write_text(json.dumps(edited))
    with AIMemory(repo_dir) as memory:
        _record(memory)
        assert memory.knowledge_file.state() == "modified"
    assert json.loads(path.read_text())["my_notes"] == "keep me"


def test_import_merges_external_knowledge(memory: AIMemory, tmp_path: Path) -> None:
    external = tmp_path / "external.json"
    external.write_text(
        json.dumps(
            {
                "successful_strategies": {"TIMEOUT": ["raise timeout"]},
                "issue_types": {"TIMEOUT": {"notes": ["from another machine"]}},
            }
        )
    )
    summary = memory.import_knowledge_base(external)
    assert summary["entries"] == 2
    second = tmp_path / "second.json"
    second.write_text(json.dumps({"successful_strategies": {"ERROR": ["restart"]}}))
    memory.import_knowledge_base(second)
    imported = memory.knowledge_base["imported"]
    assert imported["successful_strategies"] == {"TIMEOUT": ["raise timeout"], "ERROR": ["restart"]}
    text = memory.build_context(issue())
    assert "from another machine" in text


def test_import_rejects_bad_files_naming_the_line(memory: AIMemory, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "a": 1,\n  oops\n}')
    with pytest.raises(InvalidInputError) as caught:
        memory.import_knowledge_base(bad)
    assert str(caught.value).startswith(f"{bad}:3:")
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(InvalidInputError):
        memory.import_knowledge_base(listing)
    assert memory.knowledge_base["imported"] == {}


def test_legacy_knowledge_base_is_adopted_with_a_copy(repo_dir: Path) -> None:
    repo_dir.mkdir(mode=0o700)
    legacy = {"patterns": {"TIMEOUT": "increase the timeout"}, "version": "legacy"}
    (repo_dir / "knowledge_base.json").write_text(json.dumps(legacy))
    with AIMemory(repo_dir) as memory:
        assert memory.knowledge_base["imported"]["patterns"] == {"TIMEOUT": "increase the timeout"}
    assert json.loads((repo_dir / "knowledge_base.json.legacy").read_text()) == legacy
    assert (
        json.loads((repo_dir / "knowledge_base.json").read_text())["format"]
        == "aimem-knowledge-base"
    )


def test_export_knowledge_base(memory: AIMemory, tmp_path: Path) -> None:
    _record(memory)
    target = tmp_path / "out" / "kb.json"
    target.parent.mkdir()
    memory.export_knowledge_base(target)
    assert json.loads(target.read_text())["issue_types"]["TIMEOUT"]["successes"] == 1
