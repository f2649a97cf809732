"""Typer-free paths for the read commands CI calls thousands of times.

``aimem [--dir D] stats [--json]`` is answered here without importing typer
(about 60 ms of a 170 ms run, measured with ``python -X importtime``). The
output and every error are the typer command's own: both call the same
library function, the same renderer (``aimem.cli._output``) and the same error
reporting (``aimem.cli._errors``); a test compares them. Anything else, or any
other option, goes to typer.
"""

from __future__ import annotations

STATS_TITLE = "🧠 Claude Memory Statistics:"


def split_directory(args: list[str]) -> tuple[str | None, list[str]] | None:
    """Peel a leading ``--dir D`` / ``-C D`` / ``--dir=D``; None when malformed."""
    if args and args[0].startswith("--dir="):
        value = args[0].split("=", 1)[1]
        return (value, args[1:]) if value else None
    if args and args[0] in ("--dir", "-C"):
        if len(args) < 2 or args[1].startswith("-"):
            return None
        return args[1], args[2:]
    return None, args


def try_fast(args: list[str]) -> int | None:
    """Run ``args`` here if this module handles them; return the exit code, else None."""
    split = split_directory(args)
    if split is None:
        return None
    directory, rest = split
    if rest not in (["stats"], ["stats", "--json"]):
        return None
    from aimem.cli._errors import run_guarded

    def stats() -> None:
        from aimem.cli._output import emit_json, emit_mapping
        from aimem.memory import AIMemory

        with AIMemory(directory, create=False) as memory:
            values = memory.get_memory_stats()
        if rest == ["stats", "--json"]:
            emit_json(values)
        else:
            emit_mapping(values, STATS_TITLE)

    return run_guarded(stats)
