"""Export rows and repository snapshots for the hostile-input tests."""

from __future__ import annotations

import hashlib
import random
import sqlite3
from pathlib import Path
from typing import Any

import orjson

TYPES = ("TIMEOUT", "ERROR", "NO_OUTPUT", "UNEXPECTED_RESPONSE", "MODEL_NOT_AVAILABLE")
MODELS = ("qwen2.5:7b", "qwen2.5:14b", "llama3.1:8b", "mistral:7b", "phi3:mini")


def export_rows(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """``count`` valid export rows (the import format), each with its own uid."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        model = rng.choice(MODELS)
        issue_type = rng.choice(TYPES)
        variant = f"{issue_type}|{model}|{rng.randrange(50)}".encode()
        ok = rng.random() < 0.6
        rows.append(
            {
                "id": n + 1,
                "timestamp": f"2025-0{1 + n % 9}-1{n % 10}T0{n % 10}:00:00.{n % 1000000:06d}Z",
                "model_name": model,
                "issue_type": issue_type,
                "issue_signature": hashlib.md5(variant).hexdigest()[:16],
                "description": f"{issue_type.lower()} on {model} run {rng.randrange(10**6)}",
                "fixer_type": rng.choice(("claude", "qwen", "gpt")),
                "claude_analysis": "needs more time",
                "fix_commands": [f"ollama pull {model}"],
                "fix_success": ok,
                "verification_success": ok,
                "execution_time_seconds": round(rng.uniform(1, 100), 2),
                "system_info": {"os": "Linux", "ram_gb": rng.choice((8, 16))},
                "notes": None,
                "uid": f"{rng.getrandbits(128):032x}",
                "fingerprint": hashlib.sha256(variant).hexdigest()[:16],
                "tokens_in": None,
                "tokens_out": None,
                "cost_usd": None,
                "fixer_model": None,
            }
        )
    return rows


def ndjson(rows: list[Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def snapshot(repo: Path) -> dict[str, bytes]:
    """Every file of the repository by name, with its bytes.

    The WAL is folded into the database first (a checkpoint, which changes no
    content), so two snapshots are equal exactly when nothing was written.
    """
    database = repo / "ai_memory.db"
    if database.exists():
        conn = sqlite3.connect(database)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()  # the last connection removes the -wal and -shm files
    return {
        str(path.relative_to(repo)): path.read_bytes()
        for path in sorted(repo.rglob("*"))
        if path.is_file()
    }
