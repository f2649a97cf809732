"""aimem kb show|import|export."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.cli.conftest import fails, ok, ok_json


def test_kb_show_on_demo_and_empty(demo: Path, tmp_path: Path) -> None:
    kb = ok_json("kb", "show")
    assert kb["format"] == "aimem-knowledge-base"
    assert {"TIMEOUT", "MODEL_NOT_AVAILABLE"} <= set(kb["issue_types"])
    assert kb["issue_types"]["TIMEOUT"]["best_fixes"]
    other = tmp_path / "other"
    ok("--dir", str(other), "init")
    empty_kb = ok_json("--dir", str(other), "kb", "show")
    assert empty_kb["format"] == "aimem-knowledge-base"
    assert empty_kb["issue_types"] == {}


def test_kb_export_then_import(demo: Path, tmp_path: Path) -> None:
    target = tmp_path / "kb.json"
    result = ok("kb", "export", str(target))
    assert result.stdout == ""
    assert result.stderr == f"wrote {target}\n"
    assert orjson.loads(target.read_bytes()) == ok_json("kb", "show")
    other = tmp_path / "other"
    ok("--dir", str(other), "init")
    notes = tmp_path / "notes.json"
    notes.write_bytes(orjson.dumps({"TIMEOUT": {"notes": ["raise the timeout first"]}}))
    summary = ok_json("--dir", str(other), "kb", "import", str(notes), "--json")
    assert summary == {"source": str(notes), "entries": 1, "keys": ["TIMEOUT"]}
    plain = ok("--dir", str(other), "kb", "import", str(notes))
    assert plain.stderr.startswith("merged 1 entries from ")


def test_kb_import_errors_name_the_file(demo: Path, tmp_path: Path) -> None:
    before = ok_json("kb", "show")
    missing = tmp_path / "missing.json"
    assert str(missing) in fails(1, "kb", "import", str(missing)).stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert fails(1, "kb", "import", str(broken)).stderr.startswith(f"aimem: error: {broken}")
    assert ok_json("kb", "show") == before
    fails(2, "kb", "import")
    fails(2, "kb", "nosuch")
