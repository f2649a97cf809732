"""Dynamic completion values: ``aimem __complete KIND [PREFIX]``.

The shell scripts in completions/ know every command and option statically
and call this only for values that live in the repository (model names, issue
types, fixer types, segment names). It opens the database read-only with the
standard library alone, prints one value per line, and never fails loudly: a
completion request must not print errors into the user's prompt.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

STANDARD_ISSUE_TYPES = (
    "MODEL_NOT_AVAILABLE",
    "TIMEOUT",
    "UNEXPECTED_RESPONSE",
    "NO_OUTPUT",
    "ERROR",
    "CUSTOM",
)
KNOWN_FIXERS = ("claude", "qwen", "gpt", "gemini", "custom")
QUERIES = {
    "models": (
        "SELECT DISTINCT model_name FROM aimem_totals",
        "SELECT DISTINCT model_name FROM fix_history",
    ),
    "issue-types": (
        "SELECT DISTINCT issue_type FROM aimem_totals",
        "SELECT DISTINCT issue_type FROM fix_history",
    ),
    "fixers": (
        "SELECT DISTINCT fixer_type FROM aimem_totals",
        "SELECT DISTINCT fixer_type FROM fix_history",
    ),
    "segments": ("SELECT name FROM aimem_segments ORDER BY name", None),
}


def _database(directory: str | None) -> Path | None:
    from aimem.paths import DATABASE_NAME, find_repository

    if directory:
        path = Path(directory).expanduser() / DATABASE_NAME
        return path if path.is_file() else None
    env = os.environ.get("AIMEM_DIR")
    if env:
        path = Path(env).expanduser() / DATABASE_NAME
        return path if path.is_file() else None
    found = find_repository()
    return found / DATABASE_NAME if found else None


def values(kind: str, directory: str | None = None) -> list[str]:
    """The completion candidates of one kind (unsorted duplicates removed)."""
    found: list[str] = []
    if kind == "issue-types":
        found.extend(STANDARD_ISSUE_TYPES)
    if kind == "fixers":
        found.extend(KNOWN_FIXERS)
    database = _database(directory)
    queries = QUERIES.get(kind)
    if database is not None and queries is not None:
        try:
            conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.5)
            try:
                for sql in queries:
                    if sql is None:
                        continue
                    try:
                        found.extend(str(r[0]) for r in conn.execute(sql + " LIMIT 1000"))
                        break
                    except sqlite3.OperationalError:
                        continue
            finally:
                conn.close()
        except sqlite3.Error:
            pass
    seen: set[str] = set()
    unique = []
    for value in found:
        if value not in seen:
            seen.add(value)
            unique.append(value)
    return unique


def complete(args: list[str]) -> None:
    """``__complete KIND [PREFIX] [--dir DIR]``: print matching values, one per line."""
    directory = None
    if "--dir" in args:
        index = args.index("--dir")
        directory = args[index + 1] if index + 1 < len(args) else None
        args = args[:index] + args[index + 2 :]
    if not args:
        return
    kind = args[0]
    prefix = args[1] if len(args) > 1 else ""
    out = [v for v in values(kind, directory) if v.startswith(prefix)]
    sys.stdout.write("".join(v + "\n" for v in out))
