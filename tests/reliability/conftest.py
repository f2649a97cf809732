"""Helpers for the reliability suite: seeded repositories and a consistency oracle."""

from __future__ import annotations

import os
import random
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from aimem import AIMemory

ROOT = Path(__file__).resolve().parents[2]
TYPES = ("TIMEOUT", "ERROR", "NO_OUTPUT", "UNEXPECTED_RESPONSE", "MODEL_NOT_AVAILABLE")
MODELS = ("qwen2.5:7b", "qwen2.5:14b", "llama3.1:8b", "mistral:7b", "phi3:mini")
FIXES = (
    ["ollama pull {m}"],
    ["systemctl restart ollama"],
    ["# Increase timeout to 120 seconds"],
    ["export OLLAMA_KEEP_ALIVE=30m", "systemctl restart ollama"],
)


def attempt_item(rng: random.Random, tag: str = "") -> dict[str, Any]:
    """One ``record_many`` / ``record --input`` item."""
    model = rng.choice(MODELS)
    issue_type = rng.choice(TYPES)
    ok = rng.random() < 0.6
    return {
        "issue_data": {
            "model": model,
            "issue_type": issue_type,
            "description": f"{issue_type.lower()} on prompt {rng.randrange(50)} {tag}".strip(),
            "test_prompt": f"prompt {rng.randrange(20)}",
            "actual_response": "x" * rng.randrange(4),
        },
        "ai_response": {
            "analysis": rng.choice(("needs more time", "service down", "template mismatch")),
            "fix_commands": [c.format(m=model) for c in rng.choice(FIXES)],
        },
        "fix_success": ok,
        "verification_success": ok and rng.random() < 0.8,
        "execution_time": round(rng.uniform(1, 100), 1),
        "notes": rng.choice((None, "worked after a restart")),
        "fixer_type": rng.choice(("claude", "qwen", "gpt")),
    }


def items(count: int, seed: int, tag: str = "") -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [attempt_item(rng, tag) for _ in range(count)]


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


@pytest.fixture
def seeded(repo_dir: Path) -> Path:
    """A repository holding 40 attempts and an up-to-date knowledge base file."""
    with AIMemory(repo_dir) as memory:
        memory.record_many(items(40, seed=1, tag="seed"))
    return repo_dir


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def aimem_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "aimem", *args]


def run_aimem_in(
    repo: Path, *args: str, limit_bytes: int | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``aimem ARGS`` on ``repo`` in a child process; with ``limit_bytes``, writes past
    that size fail with EFBIG as on a full disk (Python ignores SIGXFSZ)."""

    def limit() -> None:  # runs in the child only
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        aimem_argv(*args),
        env=child_env(AIMEM_DIR=str(repo)),
        capture_output=True,
        input=stdin,
        timeout=120,
        preexec_fn=limit,
    )


def read_only(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)


def row_count(repo: Path) -> int:
    conn = read_only(repo / "ai_memory.db")
    try:
        return int(conn.execute("SELECT count(*) FROM fix_history").fetchone()[0])
    finally:
        conn.close()


def _table(conn: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    rows = []
    for row in conn.execute(sql):
        rows.append(tuple(round(v, 6) if isinstance(v, float) else v for v in row))
    return sorted(rows, key=repr)


def assert_consistent(repo: Path) -> None:
    """The repository is sound: integrity, one row per uid, aggregates = recomputation."""
    from aimem.store.connection import connect
    from aimem.store.rebuild import rebuild_aggregates

    conn = connect(repo / "ai_memory.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total, uids = conn.execute(
            "SELECT count(*), count(DISTINCT uid) FROM fix_history"
        ).fetchone()
        assert total == uids, "a record is stored twice"
        conn.execute("BEGIN")
        rebuild_aggregates(conn, schema_name="temp")
        for table, columns in (
            ("aimem_totals", "*"),
            ("aimem_daily", "*"),
            ("aimem_temporal", "*"),
            ("aimem_fix_outcomes", "*"),
            (
                "issue_patterns",
                "issue_signature, success_count, failure_count, best_fix, last_seen, "
                "confidence_score, issue_type, model_family",
            ),
            (
                "model_characteristics",
                "model_name, total_tests, success_rate, common_issues, effective_fixes",
            ),
        ):
            main = _table(conn, f"SELECT {columns} FROM main.{table}")
            temp = _table(conn, f"SELECT {columns} FROM temp.{table}")
            assert main == temp, f"{table} differs from a recomputation"
        (patterns_total,) = conn.execute(
            "SELECT coalesce(sum(success_count + failure_count), 0) FROM main.issue_patterns"
        ).fetchone()
        assert patterns_total == total
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def assert_one_line_error(stderr: bytes) -> None:
    text = stderr.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and lines[0].startswith("aimem: error: "), text
    assert all(line.startswith(("aimem: error: ", "hint: ")) for line in lines), text
