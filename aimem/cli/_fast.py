"""Typer-free paths for the commands CI calls thousands of times.

``aimem [--dir D] [-C D] stats [--json]`` and the common forms of ``aimem [--dir D]
export FILE [--format X] [--since S] [--include-archive] [--json]`` are
answered here without importing typer (typer + click are 60-100 ms of a run,
measured with ``python -X importtime``; a script pays for the whole
process). The output and every error are the typer command's own: both call
the same function (the library call, ``aimem.cli._export_run``), the same
renderer (``aimem.cli._output``) and the same error reporting
(``aimem.cli._errors``); tests compare them. Anything this module does not
recognise exactly (an unknown or repeated option, --help, a missing value, a
value starting with '-') returns None and goes to typer, which then gives its
own usage error.
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


# export's options that take a value, and the flags; --format's values are
# ExportFormat's (aimem.cli._export_run), exactly as typer's choice spells them.
_EXPORT_VALUES = {"--format": "format", "-f": "format", "--since": "since"}
_EXPORT_FLAGS = {"--include-archive": "include_archive", "--json": "json"}


def parse_export(rest: list[str]) -> dict[str, str] | None:
    """``export FILE [options]`` as {'file', 'format', 'since', 'include_archive', 'json'}.

    Options may come before or after FILE, as click allows. None for anything
    else; every present key appears once. FILE is '-' or does not start with
    '-'; values are non-empty and do not start with '-'. ``--json`` with FILE
    '-' (a usage error) is left to typer.
    """
    if len(rest) < 2 or rest[0] != "export":
        return None
    found: dict[str, str] = {}
    index = 1
    while index < len(rest):
        arg = rest[index]
        index += 1
        if arg in _EXPORT_FLAGS:
            key, value = _EXPORT_FLAGS[arg], ""
        elif arg.startswith(("--format=", "--since=")):
            name, value = arg.split("=", 1)
            key = _EXPORT_VALUES[name]
        elif arg in _EXPORT_VALUES:
            if index == len(rest):
                return None
            key, value = _EXPORT_VALUES[arg], rest[index]
            index += 1
        elif arg == "-" or (arg != "" and not arg.startswith("-")):
            key, value = "file", arg
        else:
            return None
        if key in found or (key in ("format", "since") and (value == "" or value[0] == "-")):
            return None
        found[key] = value
    if "file" not in found or ("json" in found and found["file"] == "-"):
        return None
    if os.path.isdir(found["file"]) or not _valid_since(found.get("since")):
        return None  # a usage error: typer words it (aimem.cli._values)
    if "format" in found:
        from aimem.cli._export_run import ExportFormat

        if found["format"] not in {choice.value for choice in ExportFormat}:
            return None
    return found


def _valid_since(value: str | None) -> bool:
    from aimem.timeutil import since_timestamp

    try:
        return value is None or since_timestamp(value) is not None
    except ValueError:
        return False


def try_fast(args: list[str]) -> int | None:
    """Run ``args`` here if this module handles them; return the exit code, else None."""
    split = split_directory(args)
    if split is None:
        return None
    directory, start, rest = split
    if rest[:1] != ["export"] and rest not in (["stats"], ["stats", "--json"]):
        return None
    before = os.getcwd()
    if start is not None:
        os.chdir(start)  # as typer's -C: the command runs in DIR
        start = os.getcwd()
    location = _location(directory, start)
    if rest[:1] == ["export"]:
        export = parse_export(rest)
        if export is None:
            os.chdir(before)  # typer reads the arguments again, from the start
            return None
        return _export(location, export)
    from aimem.cli._errors import run_guarded

    def stats() -> None:
        from aimem.cli._output import emit_json, emit_mapping
        from aimem.memory import AIMemory

        with AIMemory(location, create=False, db=_database()) as memory:
            values = memory.get_memory_stats()
        if rest == ["stats", "--json"]:
            emit_json(values)
        else:
            emit_mapping(values, STATS_TITLE, STATS_UNITS)

    return run_guarded(stats)


def _database() -> str | None:
    from aimem.paths import DATABASE_VARIABLE

    return os.environ.get(DATABASE_VARIABLE) or None


def _location(directory: str | None, start: str | None) -> Location:
    from aimem.cli._context import RepoHandle

    handle = RepoHandle(
        Path(directory).expanduser().absolute() if directory is not None else None,
        Path(start) if start is not None else None,
    )
    return handle.location()


def _export(location: Location, options: dict[str, str]) -> int:
    from aimem.cli._errors import run_guarded
    from aimem.cli._export_run import ExportFormat, run_export

    def export() -> None:
        from aimem.memory import AIMemory

        fmt = ExportFormat(options["format"]) if "format" in options else None
        with AIMemory(location, create=False, db=_database()) as memory:
            run_export(
                memory,
                options["file"],
                fmt,
                options.get("since"),
                "include_archive" in options,
                "json" in options,
            )

    return run_guarded(export)
