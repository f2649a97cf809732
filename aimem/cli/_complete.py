"""Dynamic completion values: ``aimem __complete KIND [PREFIX] [--dir DIR]``.

The shell scripts in completions/ know every command and option statically
and call this only for values that live in the repository (model names, issue
types, fixer types, segment names). It opens the database read-only with the
standard library alone (no typer, no pathlib: a completion request runs on
every Tab), reads the small aggregate table rather than the history, prints
one value per line, and never fails loudly: a completion request must not
print errors into the user's prompt.
"""

from __future__ import annotations

import os
import sys

# The same names as aimem.paths (a test keeps them equal); importing that
# module would load dataclasses and pathlib.
REPOSITORY_NAME = "AIMemory"
DATABASE_NAME = "ai_memory.db"

STANDARD_ISSUE_TYPES = (
    "MODEL_NOT_AVAILABLE",
    "TIMEOUT",
    "UNEXPECTED_RESPONSE",
    "NO_OUTPUT",
    "ERROR",
    "CUSTOM",
)
KNOWN_FIXERS = ("claude", "qwen", "gpt", "gemini", "custom")
KINDS = ("models", "issue-types", "fixers", "segments")
QUERIES: dict[str, tuple[str | None, ...]] = {
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


def _find_database(start: str) -> str | None:
    here = os.path.abspath(start)
    while True:
        candidate = os.path.join(here, REPOSITORY_NAME, DATABASE_NAME)
        if os.path.isfile(candidate):
            return candidate
        if os.path.basename(here) == REPOSITORY_NAME:
            candidate = os.path.join(here, DATABASE_NAME)
            if os.path.isfile(candidate):
                return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _database(directory: str | None) -> str | None:
    """The database of ``--dir``, else ``$AIMEM_DIR``, else the nearest ``AIMemory/``."""
    chosen = directory or os.environ.get("AIMEM_DIR")
    if chosen:
        # --dir and $AIMEM_DIR may name the folder that holds AIMemory/.
        for folder in (chosen, os.path.join(chosen, REPOSITORY_NAME)):
            path = os.path.join(os.path.expanduser(folder), DATABASE_NAME)
            if os.path.isfile(path):
                return path
        return None
    try:
        return _find_database(os.getcwd())
    except OSError:
        return None


def values(kind: str, directory: str | None = None) -> list[str]:
    """The completion candidates of one kind (duplicates removed, first seen first)."""
    found: list[str] = []
    if kind == "issue-types":
        found.extend(STANDARD_ISSUE_TYPES)
    if kind == "fixers":
        found.extend(KNOWN_FIXERS)
    queries = QUERIES.get(kind)
    database = _database(directory) if queries else None
    if database is not None and queries is not None:
        import sqlite3

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
    return list(dict.fromkeys(found))


def complete(args: list[str]) -> None:
    """``__complete KIND [PREFIX] [--dir DIR]``: print matching values, one per line."""
    directory = None
    for flag in ("--dir", "-C"):
        if flag in args:
            index = args.index(flag)
            directory = args[index + 1] if index + 1 < len(args) else None
            args = args[:index] + args[index + 2 :]
    if not args:
        return
    kind = args[0]
    prefix = args[1] if len(args) > 1 else ""
    out = [v for v in values(kind, directory) if v.startswith(prefix)]
    sys.stdout.write("".join(v + "\n" for v in out))
