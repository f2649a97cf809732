"""``aimem export`` and ``aimem import``: moving records between machines."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from aimem.cli._click import click_exceptions
from aimem.cli._context import repo
from aimem.cli._output import emit_json, note, quiet, write
from aimem.cli._progress import counter, done
from aimem.cli._values import QuietOpt, filled, output_file, since
from aimem.cli.app import app


class ExportFormat(str, Enum):
    report = "report"
    json = "json"
    ndjson = "ndjson"
    csv = "csv"


class ImportFormat(str, Enum):
    auto = "auto"
    ndjson = "ndjson"
    json = "json"
    csv = "csv"
    sqlite = "sqlite"


@app.command(name="export")
def export_command(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            help="Where to write ('-' for stdout).", metavar="FILE", callback=output_file
        ),
    ],
    fmt: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="report (default for *.json), json, ndjson (default otherwise) or csv.",
        ),
    ] = None,
    since_date: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only records since then: a date (2025-01-15) or a duration (30d, 12h).",
            metavar="WHEN",
            callback=since,
        ),
    ] = None,
    include_archive: Annotated[
        bool, typer.Option("--include-archive", help="Also export archived records.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary (not with FILE '-').")
    ] = False,
    quiet_: QuietOpt = False,
) -> None:
    """Export records (ndjson, json, csv) or the full report (report).

    \b
    Examples:
      aimem export insights_2025_01_15.json
      aimem export history.ndjson --since 30d
      aimem export - --format csv > history.csv
    """
    if as_json and file == "-":
        raise click_exceptions.UsageError("--json needs FILE; with '-' stdout carries the export")
    target = sys.stdout.buffer if file == "-" else file
    if file == "-" and fmt is None:
        fmt = ExportFormat.ndjson
    progress = counter("exported") if file != "-" else None
    summary = repo(ctx).export_records(
        target, fmt.value if fmt else None, since_date, include_archive, progress
    )
    done(progress)
    summary["file"] = file
    if as_json:
        emit_json(summary)
    elif file == "-":
        return  # stdout carried the export; nothing to add in a pipe
    elif summary["records"] is None:
        note(f"wrote the {summary['format']} to {file}")
    else:
        note(f"exported {summary['records']} records to {file} ({summary['format']})")


@app.command(name="import")
def import_command(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            help="An export (ndjson, json, csv), a database, or '-' for stdin.",
            metavar="FILE",
            callback=filled,
        ),
    ],
    fmt: Annotated[
        ImportFormat,
        typer.Option("--format", "-f", help="auto (default), ndjson, json, csv or sqlite."),
    ] = ImportFormat.auto,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Report what would be added; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    quiet_: QuietOpt = False,
) -> None:
    """Import records, all or nothing; records already present are skipped.

    Reads aimem's exports and old ai_memory.db files (the seed schema).

    \b
    Examples:
      aimem import other-runner.ndjson
      aimem import old/AIMemory/ai_memory.db --dry-run
      ssh ci-3 aimem export - | aimem import -
    """
    progress = counter("imported")
    # A real import creates the repository on a new machine; a dry run creates nothing.
    summary = repo(ctx, create=not dry_run).import_records(file, fmt.value, dry_run, progress)
    done(progress)
    if as_json:
        emit_json(summary)
        return
    if quiet():
        return
    verb = "would add" if dry_run else "added"
    write(
        f"{verb}: {summary['added']}\nalready present: {summary['already_present']}\n"
        f"records read: {summary['records']}\n"
    )
