"""``aimem kb show|import|export``: the knowledge base."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimem.cli._context import repo
from aimem.cli._output import emit_json, note
from aimem.cli._values import path
from aimem.cli.app import app

kb_app = typer.Typer(
    help="Show, import and export the knowledge base.\n\n"
    "The knowledge base is what aimem has learned, per issue type and model, as JSON\n"
    "(AIMemory/knowledge_base.json is kept up to date from the database).\n\n"
    "\b\nExamples:\n  aimem kb show\n  aimem kb export kb.json\n  aimem kb import kb.json",
    no_args_is_help=True,
)
app.add_typer(kb_app, name="kb")


@kb_app.command(name="show")
def kb_show(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON output (the only format; accepted for scripts).")
    ] = False,
) -> None:
    """Print the knowledge base as JSON (always current).

    \b
    Example:
      aimem kb show | jq '.issue_types.TIMEOUT.best_fixes'
    """
    emit_json(repo(ctx).knowledge_base, stored=True)


@kb_app.command(name="import")
def kb_import(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="A knowledge base JSON file.", click_type=path(dir_okay=False), metavar="FILE"
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Merge a knowledge base file into this repository's.

    \b
    Example:
      aimem kb import other-machine/knowledge_base.json
    """
    summary = repo(ctx).import_knowledge_base(file)
    if as_json:
        emit_json(summary)
    else:
        note(f"merged {summary['entries']} entries from {file}")


@kb_app.command(name="export")
def kb_export(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="Where to write the knowledge base.",
            click_type=path(dir_okay=False),
            metavar="FILE",
        ),
    ],
) -> None:
    """Write the knowledge base to FILE (atomically).

    \b
    Example:
      aimem kb export kb-backup.json
    """
    path = repo(ctx).export_knowledge_base(file)
    note(f"wrote {path}")
