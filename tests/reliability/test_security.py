"""Security: private files, no secret survives into storage or context, no shell."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from aimem import AIMemory
from tests.reliability.conftest import aimem_argv, child_env, items, ndjson

SECRETS = {
    "openai": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234567890",
    "anthropic": "sk-ant-api03-ZyXwVuTsRqPoNmLkJiHgFeDcBa0987654321",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "token": "TOKEN=ghs_supersecretvalue123456",
    "bearer": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc123def456",
    "password": "DB_PASSWORD=hunter2hunter2",
    "url": "postgres://admin:s3cr3tpass@db.internal:5432/app",
}
# The part of each secret that must not appear anywhere afterwards.
SECRET_PARTS = (
    b"AbCdEfGhIjKlMnOpQrStUvWx1234567890",
    b"ZyXwVuTsRqPoNmLkJiHgFeDcBa0987654321",
    b"AKIAIOSFODNN7EXAMPLE",
    b"ghs_supersecretvalue123456",
    b"eyJhbGciOiJIUzI1NiJ9",
    b"hunter2hunter2",
    b"s3cr3tpass",
)


def _leaky_items() -> list[dict[str, object]]:
    rows = items(len(SECRETS), seed=41, tag="leak")
    for row, (name, secret) in zip(rows, SECRETS.items(), strict=True):
        row["issue_data"]["description"] = f"{name} failure, log said {secret}"  # type: ignore[index]
        row["issue_data"]["system_info"] = {"env": secret, "api_key": "plainvalue123"}  # type: ignore[index]
        row["ai_response"]["analysis"] = f"the request carried {secret}"  # type: ignore[index]
        row["ai_response"]["fix_commands"] = [f"export {secret}", f"curl -H '{secret}' x"]  # type: ignore[index]
        row["notes"] = f"rotated {secret}"
    return rows


def test_files_and_folders_are_private(repo_dir: Path) -> None:
    os.umask(0o022)  # a typical, permissive umask must not leak through
    with AIMemory(repo_dir) as memory:
        memory.record_many(items(5, seed=42))
        memory.export_knowledge_base(repo_dir / "exported_kb.json")
    found = list(repo_dir.rglob("*"))
    assert any(p.name == "ai_memory.db" for p in found)
    for path in [repo_dir, *found]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


@pytest.mark.slow
def test_no_secret_survives_into_storage_or_context(repo_dir: Path, tmp_path: Path) -> None:
    import subprocess

    AIMemory(repo_dir).close()
    batch = tmp_path / "leaky.ndjson"
    batch.write_bytes(ndjson(_leaky_items()))
    env = child_env(AIMEM_DIR=str(repo_dir))
    done = subprocess.run(aimem_argv("record", "--input", str(batch)), env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    flags = subprocess.run(
        aimem_argv(
            "record",
            "-m",
            "qwen2.5:7b",
            "-t",
            "ERROR",
            "-d",
            SECRETS["aws"],
            "--analysis",
            SECRETS["bearer"],
            "-c",
            SECRETS["token"],
            "--notes",
            SECRETS["url"],
            "--failure",
        ),
        env=env,
        capture_output=True,
    )
    assert flags.returncode == 0, flags.stderr
    outputs = [
        subprocess.run(aimem_argv(*args), env=env, capture_output=True).stdout
        for args in (
            ("context", "-m", "qwen2.5:7b", "-t", "ERROR"),
            ("similar", "-m", "qwen2.5:7b", "-t", "ERROR", "--json"),
            ("recent", "--json"),
            ("kb", "show"),
            ("search", "failure", "--json"),
        )
    ]
    assert all(outputs), "a read command printed nothing"
    with AIMemory(repo_dir, create=False) as memory:
        memory.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        outputs.append(
            memory.build_context({"model": "llama3.1:8b", "issue_type": "ERROR"}).encode()
        )
        outputs.append(orjson.dumps(memory.insights_report()))
    stored = b"".join(p.read_bytes() for p in repo_dir.rglob("*") if p.is_file())
    for part in SECRET_PARTS:
        assert part not in stored, f"{part!r} is stored"
        for out in outputs:
            assert part not in out, f"{part!r} is printed"
    assert b"plainvalue123" not in stored  # values under secret-named keys go entirely


@pytest.mark.slow
@pytest.mark.parametrize(
    "hostile",
    ["$(touch pwned) `touch pwned`", "x; touch pwned && touch pwned | touch pwned"],
)
def test_no_argument_reaches_a_shell(repo_dir: Path, tmp_path: Path, hostile: str) -> None:
    import subprocess

    AIMemory(repo_dir).close()
    env = child_env(AIMEM_DIR=str(repo_dir))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    model = "qwen2.5:7b" if "(" in hostile or "`" in hostile else hostile
    runs = [
        (
            "record",
            "-m",
            hostile,
            "-t",
            "ERROR",
            "-d",
            hostile,
            "-c",
            hostile,
            "--analysis",
            hostile,
            "--notes",
            hostile,
            "--fixer",
            "claude",
            "--failure",
        ),
        ("similar", "-m", hostile, "-t", "ERROR", "-d", hostile),
        ("context", "-m", model, "-t", "ERROR", "-d", hostile),
        ("search", hostile),
        ("model", hostile),
    ]
    for args in runs:
        subprocess.run(aimem_argv(*args), env=env, capture_output=True, cwd=cwd, timeout=60)
    assert not (cwd / "pwned").exists()
    assert not (tmp_path / "pwned").exists()
    assert not list(tmp_path.rglob("pwned"))
