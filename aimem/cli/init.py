"""``aimem init``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimem.cli._output import emit_json, note, write
from aimem.cli._values import path as path_type
from aimem.cli.app import app


@app.command(name="init")
def init_command(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Folder in which to create AIMemory/ (default: --dir, else here).",
            click_type=path_type(file_okay=False),
            metavar="PATH",
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Fill the new repository with a realistic generated history."),
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed of the demo history.", metavar="N")
    ] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Create an aimem repository (AIMemory/), optionally with demo history.

    \b
    Examples:
      aimem init
      aimem init --demo && aimem stats
      aimem init ~/project --demo
    """
    from aimem.setup import init_repository

    handle = ctx.find_root().obj
    explicit = handle.directory if handle is not None else None
    summary = init_repository(path=path, directory=explicit, demo=demo, seed=seed)
    if as_json:
        emit_json(summary)
        return
    verb = "Reinitialized existing" if summary["existed"] else "Initialized empty"
    if summary["demo_records"]:
        verb = "Initialized"
        write(
            f"{verb} aimem repository in {summary['memory_directory']} "
            f"with {summary['demo_records']} demo attempts\n"
        )
    else:
        write(f"{verb} aimem repository in {summary['memory_directory']}\n")
    if summary["demo_records"]:
        note(
            "try: aimem stats; aimem patterns; aimem context --model qwen2.5:7b --issue-type TIMEOUT"
        )
