"""The typer-free path of ``aimem [--dir D] [-C D] stats [--json]``.

Scripts call ``stats`` after every run and pay for the whole process, and
typer + click are most of a short one (60-100 ms, ``python -X importtime``);
see docs/performance.md, "Speed paths", for what this path gains. The output
and every error are the typer command's own: both call the same library
function, the same renderer (``aimem.cli._output``) and the same error
reporting (``aimem.cli._errors``); tests compare them. Anything else (another
command, an unknown or repeated option, --help) returns None and goes to typer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aimem.paths import Location

# The seed's title; an output encoding without the emoji gets it without
# (aimem.cli._output.ASCII_FALLBACKS).
STATS_TITLE = "🧠 Claude Memory Statistics:"
STATS_UNITS = {"knowledge_base_size": "bytes"}


def split_directory(args: list[str]) -> tuple[str | None, str | None, list[str]] | None:
    """Peel leading ``--dir D`` / ``--dir=D`` and ``-C D`` (each at most once):
    (``--dir``, ``-C``, the rest); None when malformed."""
    found: dict[str, str] = {}
    while args:
        if args[0].startswith("--dir="):
            name, value, args = "--dir", args[0].split("=", 1)[1], args[1:]
        elif args[0] in ("--dir", "-C"):
            if len(args) < 2 or args[1].startswith("-"):
                return None
            name, value, args = args[0], args[1], args[2:]
        else:
            break
        if name in found or not _plain_directory(value):
            return None
        if name == "-C" and not os.path.isdir(value):
            return None  # typer words the usage error
        found[name] = value
    if "-C" in found and "--dir" in found and not os.path.isabs(found["--dir"]):
        return None  # --dir is then read from -C's folder: typer checks it there
    return found.get("--dir"), found.get("-C"), args


def _plain_directory(value: str) -> bool:
    # typer refuses a --dir that is a file or lies under one, and '' (exit 2):
    # leave those to typer, which words the usage error.
    if not value.strip():
        return False
    head = value
    while head and not os.path.lexists(head):
        head = os.path.dirname(head.rstrip("/"))
    return not head or os.path.isdir(head)


def try_fast(args: list[str]) -> int | None:
    """Run ``args`` here if this module handles them; return the exit code, else None."""
    split = split_directory(args)
    if split is None:
        return None
    directory, start, rest = split
    if rest not in (["stats"], ["stats", "--json"]):
        return None
    if start is not None:
        os.chdir(start)  # as typer's -C: the command runs in DIR
        start = os.getcwd()
    location = _location(directory, start)
    from aimem.cli._errors import run_guarded

    def stats() -> None:
        from aimem.cli._output import emit_json, emit_mapping
        from aimem.memory import AIMemory

        with AIMemory(location, create=False) as memory:
            values = memory.get_memory_stats()
        if rest == ["stats", "--json"]:
            emit_json(values)
        else:
            emit_mapping(values, STATS_TITLE, STATS_UNITS)

    return run_guarded(stats)


def _location(directory: str | None, start: str | None) -> Location:
    from aimem.cli._context import RepoHandle

    handle = RepoHandle(
        Path(directory).expanduser().absolute() if directory is not None else None,
        Path(start) if start is not None else None,
    )
    return handle.location()
