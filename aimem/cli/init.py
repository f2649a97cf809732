"""``aimem init``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimem.cli._context import handle_of
from aimem.cli._output import emit_json, note, password_not_stored, write
from aimem.cli._values import path as path_type
from aimem.cli.app import app


@app.command(name="init")
def init_command(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Folder in which to create AIMemory/, or the AIMemory/ folder itself "
            "(default: --dir, else -C or $AIMEM_DIR, else here).",
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
    database: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="Keep the history in this PostgreSQL database "
            "(postgresql://USER@HOST:PORT/DBNAME): create aimem's tables there and write "
            "AIMemory/config.json naming it (without any password). Default: the global "
            "--db, else $AIMEM_DB, else SQLite (AIMemory/ai_memory.db).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Create an aimem repository (AIMemory/), optionally with demo history.

    The repository is always a folder named AIMemory, so that aimem finds it
    from the folder above: PATH (or --dir, or $AIMEM_DIR) is used as it is
    when it is named AIMemory or already holds a repository; otherwise
    AIMemory/ is created inside it. Without any of them: ./AIMemory.

    \b
    Examples:
      aimem init
      aimem init --demo && aimem stats
      aimem init ~/project --demo
      aimem -C ~/project init
      aimem init --db postgresql://aimem@db.example:5432/aimem
    """
    from aimem.ops.setup import init_repository

    handle = handle_of(ctx)
    if database is not None:
        from aimem.store.url import is_database_url

        if not is_database_url(database):
            raise typer.BadParameter(
                "must be a URL starting with postgresql:// or postgres://", param_hint="'--db'"
            )
    db = database or handle.database
    summary = init_repository(
        path=path,
        location=handle.location(),
        demo=demo,
        seed=seed,
        db=db,
    )
    if db is not None:
        password_not_stored(db)
    if as_json:
        emit_json(summary)
        return
    where = summary["memory_directory"]
    if summary.get("database"):
        where += f" (database {summary['database']})"
    verb = "Reinitialized existing" if summary["existed"] else "Initialized empty"
    if summary["demo_records"]:
        verb = "Initialized"
        write(f"{verb} aimem repository in {where} with {summary['demo_records']} demo attempts\n")
    else:
        write(f"{verb} aimem repository in {where}\n")
    if summary["demo_records"]:
        note(
            "try: aimem stats; aimem patterns; aimem context --model qwen2.5:7b --issue-type TIMEOUT"
        )
