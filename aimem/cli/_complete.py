"""Dynamic completion values: ``aimem __complete KIND [PREFIX] [--dir DIR]``.

The shell scripts in completions/ know every command and option statically
and call this only for values that live in the repository (model names, issue
types, fixer types, segment names, remote names). It finds the repository with the standard
library alone (no typer, no pathlib: a completion request runs on every Tab),
reads the values through ``aimem.store.completion`` (the small aggregate
table rather than the history), prints one value per line, and never fails
loudly: a completion request must not print errors into the user's prompt.
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
KINDS = ("models", "issue-types", "fixers", "segments", "remotes")
CONFIG_NAME = "config.json"


def _in_folder(folder: str) -> str | None:
    """The database of the repository ``folder``: its file, or the URL its config names."""
    path = os.path.join(folder, DATABASE_NAME)
    if os.path.isfile(path):
        return path
    config = os.path.join(folder, CONFIG_NAME)
    if os.path.isfile(config):
        import json

        try:
            with open(config, "rb") as file:
                url = json.load(file).get("database")
        except (OSError, ValueError, AttributeError):
            return None
        return url if isinstance(url, str) else None
    return None


def _find_database(start: str) -> str | None:
    here = os.path.abspath(start)
    while True:
        found = _in_folder(os.path.join(here, REPOSITORY_NAME))
        if found is not None:
            return found
        if os.path.basename(here) == REPOSITORY_NAME:
            found = _in_folder(here)
            if found is not None:
                return found
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _database(directory: str | None) -> str | None:
    """``$AIMEM_DB``, else the database of ``--dir``, else ``$AIMEM_DIR``, else the
    nearest ``AIMemory/`` (a file path or a PostgreSQL URL)."""
    url = os.environ.get("AIMEM_DB")
    if url:
        return url
    chosen = directory or os.environ.get("AIMEM_DIR")
    if chosen:
        # --dir and $AIMEM_DIR may name the folder that holds AIMemory/.
        for folder in (chosen, os.path.join(chosen, REPOSITORY_NAME)):
            found = _in_folder(os.path.expanduser(folder))
            if found is not None:
                return found
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
    if kind in KINDS:
        database = _database(directory)
        if database is not None:
            from aimem.store.completion import stored_values

            found.extend(stored_values(kind, database))
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
