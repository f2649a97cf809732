"""Redaction end to end: ordinary commands are stored byte for byte; secrets reach no
file, export, bundle, context or knowledge base (tests/redaction_corpus.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from aimem import AIMemory
from tests.cli.conftest import invoke, ok
from tests.legacy import build_legacy_database
from tests.redaction_corpus import ORDINARY, SECRETS

MODEL = "qwen2.5:7b"
ISSUE = "TIMEOUT"


def _attempt(index: int, text: str, secret: str = "") -> dict[str, Any]:
    system_info: dict[str, Any] = {"shell": text, "MAX_TOKENS": 512}
    if secret:
        system_info["api_key"] = secret  # a secret-named key loses its value entirely
    return {
        "issue_data": {
            "model": MODEL,
            "issue_type": ISSUE,
            "description": f"case {index}: {text}",
            "system_info": system_info,
        },
        "ai_response": {"analysis": text, "fix_commands": [text]},
        "fix_success": index % 2 == 0,
        "verification_success": index % 2 == 0,
        "execution_time": 1.5,
        "notes": text,
    }


def _record_batch(folder: Path, attempts: list[dict[str, Any]], **env: str) -> None:
    batch = folder / "batch.ndjson"
    batch.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in attempts))
    assert invoke("init", **env).exit_code == 0
    result = invoke("record", "--input", str(batch), **env)
    assert result.exit_code == 0, result.stderr


def _rows(repo: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(repo / "ai_memory.db")
    try:
        return conn.execute(
            "SELECT description, claude_analysis, fix_commands, notes, system_info"
            " FROM fix_history ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def test_corpus_sizes() -> None:
    assert len(set(ORDINARY)) >= 200
    assert len({secret for _, secret in SECRETS}) >= 50


def test_ordinary_commands_come_back_byte_for_byte(tmp_path: Path, repo_dir: Path) -> None:
    _record_batch(tmp_path, [_attempt(i, text) for i, text in enumerate(ORDINARY)])
    rows = _rows(repo_dir)
    assert len(rows) == len(ORDINARY)
    for index, (text, row) in enumerate(zip(ORDINARY, rows, strict=True)):
        description, analysis, commands, notes, system_info = row
        assert description == f"case {index}: {text}"
        assert analysis == text
        assert orjson.loads(commands) == [text]
        assert notes == text
        assert orjson.loads(system_info) == {"shell": text, "MAX_TOKENS": 512}


def test_ordinary_knowledge_base_entries_stay(tmp_path: Path, repo_dir: Path) -> None:
    entries = {"tips": {str(i): text for i, text in enumerate(ORDINARY)}, "max_tokens": 512}
    source = tmp_path / "kb.json"
    source.write_bytes(orjson.dumps(entries))
    ok("init")
    ok("kb", "import", str(source))
    with AIMemory(repo_dir, create=False) as memory:
        imported = memory.knowledge_base["imported"]
    assert imported == entries


def _leaked(data: bytes) -> list[str]:
    return [secret for _, secret in SECRETS if secret.encode() in data]


def _folder_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_no_secret_reaches_storage_exports_bundles_context_or_kb(
    tmp_path: Path, repo_dir: Path
) -> None:
    _record_batch(tmp_path, [_attempt(i, text, secret) for i, (text, secret) in enumerate(SECRETS)])
    for text, _ in SECRETS[:10]:  # the flags of 'record' too
        ok("record", "-m", MODEL, "-t", ISSUE, "-d", text, "-c", text, "--notes", text, "--failure")
    kb_source = tmp_path / "their_kb.json"
    kb_source.write_bytes(
        orjson.dumps(
            {
                "tips": [text for text, _ in SECRETS],
                "by_name": {f"k{i}": text for i, (text, _) in enumerate(SECRETS)},
                "credentials": {"password": SECRETS[0][1]},
            }
        )
    )
    ok("kb", "import", str(kb_source))
    assert _leaked(kb_source.read_bytes())  # the source did hold them
    out = tmp_path / "out"
    out.mkdir()
    ok("export", str(out / "rows.ndjson"))
    ok("export", str(out / "rows.csv"), "--format", "csv")
    ok("export", str(out / "rows.json"), "--format", "json")
    ok("export", str(out / "report.json"), "--format", "report")
    ok("kb", "export", str(out / "kb.json"))
    bundle = ok("backup", str(tmp_path / "bundles")).stdout.strip()
    restored = tmp_path / "restored"
    ok("--dir", str(restored), "restore", bundle)
    printed = [
        ok("context", "-m", MODEL, "-t", ISSUE).stdout,
        ok("context", "-m", MODEL, "-t", ISSUE, "-d", SECRETS[5][0]).stdout,
        ok("similar", "-m", MODEL, "-t", ISSUE, "--json").stdout,
        ok("recent", "--json").stdout,
        ok("kb", "show").stdout,
        ok("search", "case", "--json").stdout,
    ]
    assert all(printed)
    assert "case 3" in printed[0] or "case" in printed[3]
    for name, data in [
        ("repository", _folder_bytes(repo_dir)),
        ("exports", _folder_bytes(out)),
        ("bundle", _folder_bytes(tmp_path / "bundles")),
        ("restored repository", _folder_bytes(restored)),
        *[(f"output {i}", text.encode()) for i, text in enumerate(printed)],
    ]:
        assert _leaked(data) == [], name
    assert (repo_dir / "knowledge_base.json").exists()


def test_import_redacts_rows_from_a_repository_that_did_not(tmp_path: Path, repo_dir: Path) -> None:
    plain = tmp_path / "plain"
    _record_batch(
        tmp_path,
        [_attempt(i, text) for i, (text, _) in enumerate(SECRETS)],
        AIMEM_DIR=str(plain),
        AIMEM_REDACT="0",
    )
    exported = tmp_path / "plain.ndjson"
    ok("--dir", str(plain), "export", str(exported))
    assert len(_leaked(exported.read_bytes())) == len(SECRETS)  # stored as given
    ok("init")
    ok("import", str(exported))
    assert len(_rows(repo_dir)) == len(SECRETS)
    assert _leaked(_folder_bytes(repo_dir)) == []


def test_import_of_a_legacy_database_redacts(tmp_path: Path, repo_dir: Path) -> None:
    legacy = tmp_path / "legacy.db"
    build_legacy_database(legacy)
    conn = sqlite3.connect(legacy)
    ids = [row[0] for row in conn.execute("SELECT id FROM fix_history ORDER BY id")]
    for row_id, (text, _) in zip(ids, SECRETS, strict=False):
        conn.execute(
            "UPDATE fix_history SET description = ?, claude_analysis = ?, fix_commands = ?,"
            " notes = ?, system_info = ? WHERE id = ?",
            (
                text,
                text,
                orjson.dumps([text]).decode(),
                text,
                orjson.dumps({"env": text}).decode(),
                row_id,
            ),
        )
    conn.commit()
    conn.close()
    assert _leaked(legacy.read_bytes())
    ok("init")
    ok("import", str(legacy))
    assert _leaked(_folder_bytes(repo_dir)) == []


@pytest.mark.parametrize(("text", "secret"), SECRETS, ids=[s[:24] for _, s in SECRETS])
def test_each_secret_shape_is_redacted_through_the_api(
    repo_dir: Path, text: str, secret: str
) -> None:
    with AIMemory(repo_dir) as memory:
        record_id = memory.record_fix_attempt(
            {"model": MODEL, "issue_type": ISSUE, "description": text},
            {"analysis": text, "fix_commands": [text]},
            False,
            False,
            None,
            notes=text,
        )
        row = memory.store.get_row(record_id)
    assert row is not None
    stored = orjson.dumps(row).decode()
    assert secret not in stored
    assert "[REDACTED]" in row["description"]
