"""Maintenance commands: cleanup, archive list/thaw, check, gc."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aimem.cli._click import click_exceptions
from aimem.cli._context import repo
from aimem.cli._listing import ColumnsOpt, NoHeadersOpt, WideOpt, table_view
from aimem.cli._output import (
    FORMAT_HELP,
    JSON_HELP,
    JSON_ONLY_HELP,
    Format,
    emit_json,
    emit_rows,
    interactive,
    note,
    quiet,
    resolve_format,
    write,
)
from aimem.cli._values import MAX_COUNT, MAX_DAYS, QuietOpt, filled, finite, since_window
from aimem.cli._values import since as since_option
from aimem.cli.app import app

JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_ONLY_HELP)]
ListJsonOpt = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", "-n", help="Show what would change.")]

archive_app = typer.Typer(
    name="archive",
    help="List and thaw archive segments (old rows moved out by 'aimem cleanup').\n\n"
    "\b\nExamples:\n  aimem archive list\n  aimem archive thaw seg-20250101T000000Z",
    no_args_is_help=True,
)
app.add_typer(archive_app, name="archive")


def _confirm(what: str, yes: bool) -> None:
    """Ask before ``what`` (a phrase: 'purge 12 rows older than ...'); refuse off a terminal."""
    if yes:
        return
    if not interactive():
        raise click_exceptions.UsageError(
            f"this would {what}, and there is no terminal to ask: pass --yes (or --dry-run)"
        )
    if not typer.confirm(f"{what[0].upper()}{what[1:]}?", err=True):
        raise typer.Abort()


def _minute(stamp: str) -> str:
    """A stored UTC timestamp as people read it: ``2026-11-26 07:57 UTC``."""
    return f"{stamp[:10]} {stamp[11:16]} UTC"


@app.command(name="cleanup")
def cleanup_command(
    ctx: typer.Context,
    days: Annotated[
        float | None,
        typer.Argument(
            help="Move rows older than this many days (--older-than says it any way).",
            min=0,
            max=MAX_DAYS,
            metavar="DAYS",
            callback=finite,
        ),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Move rows older than this: a duration (90d, 12h, 2w) or a date (2026-01-15).",
            metavar="WHEN",
            callback=since_option,
        ),
    ] = None,
    keep_successful: Annotated[
        float | None,
        typer.Option(
            "--keep-successful",
            help="Keep verified successes hot this many days.",
            min=0,
            max=MAX_DAYS,
            metavar="DAYS",
            callback=finite,
        ),
    ] = None,
    purge: Annotated[
        bool, typer.Option("--purge", help="Delete the rows instead of archiving them.")
    ] = False,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    keep_failures: Annotated[
        int | None,
        typer.Option(
            "--keep-failures-per-fingerprint",
            help="Only archive failures older than the latest N of their fingerprint; "
            "every success stays hot.",
            min=0,
            max=MAX_COUNT,
            metavar="N",
        ),
    ] = None,
    quiet_: QuietOpt = False,
) -> None:
    """Archive rows older than --older-than (or DAYS) into compressed segments
    (statistics are unchanged).

    \b
    Examples:
      aimem cleanup --older-than 90d
      aimem cleanup --older-than 30d --keep-successful 365 --dry-run
      aimem cleanup --older-than 365d --purge --yes
      aimem cleanup --older-than 0d --keep-failures-per-fingerprint 3 --dry-run
      aimem cleanup 90 --dry-run
    """
    if (days is None) == (older_than is None):
        raise typer.BadParameter(
            "give DAYS or --older-than (e.g. --older-than 90d), one of them",
            param_hint="'--older-than'",
        )
    cutoff_days = days if days is not None else since_window(older_than or "")
    memory = repo(ctx)
    if purge and not dry_run and not yes:
        # The question names what goes; nothing to purge asks nothing.
        preview = memory.cleanup(
            cutoff_days,
            keep_successful=keep_successful,
            purge=True,
            dry_run=True,
            keep_failures_per_fingerprint=keep_failures,
        )
        if preview["rows"]:
            _confirm(
                f"purge {preview['rows']} rows older than {_minute(preview['cutoff'])} "
                "(deleted for good; the statistics keep their counts)",
                yes,
            )
    result = memory.cleanup(
        cutoff_days,
        keep_successful=keep_successful,
        purge=purge,
        dry_run=dry_run,
        keep_failures_per_fingerprint=keep_failures,
    )
    if as_json:
        emit_json(result)
        return
    if quiet():
        return
    verb = "would move" if dry_run else ("purged" if purge else "archived")
    span = f" ({result['min_timestamp']} .. {result['max_timestamp']})" if result["rows"] else ""
    write(f"{verb} {result['rows']} rows older than {result['cutoff']}{span}\n")
    if result["kept_successful"]:
        write(f"kept {result['kept_successful']} verified successes hot\n")
    for line in result.get("retention", {}).get("explanation", []):
        write(line + "\n")
    for segment in result["segments"]:
        write(f"wrote {segment['name']}\n")


@archive_app.command(name="list")
def archive_list(
    ctx: typer.Context,
    fmt: Annotated[Format | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
    as_json: ListJsonOpt = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    no_headers: NoHeadersOpt = False,
) -> None:
    """List archive segments (the segment index).

    \b
    Example:
      aimem archive list --format json
    """
    from aimem.store.sqlite import SEGMENT_FIELDS

    view = table_view(wide, columns, no_headers, (*SEGMENT_FIELDS, "ratio"))
    rows: list[dict[str, Any]] = repo(ctx).archive_segments()
    for row in rows:
        row["ratio"] = round(row["raw_bytes"] / row["compressed_bytes"], 2)
    emit_rows(
        rows,
        [
            "name",
            "kind",
            "row_count",
            "min_timestamp",
            "max_timestamp",
            "compressed_bytes",
            "ratio",
        ],
        resolve_format(fmt, as_json),
        ["segment", "kind", "rows", "from", "to", "bytes", "ratio"],
        "no archive segments",
        (*SEGMENT_FIELDS, "ratio"),
        view=view,
        drop=("ratio", "compressed_bytes", "kind", "min_timestamp", "max_timestamp"),
        whole=("name",),
    )


@archive_app.command(name="thaw")
def archive_thaw(
    ctx: typer.Context,
    segment: Annotated[
        str,
        typer.Argument(
            help="Segment name (or a unique prefix).", metavar="SEGMENT", callback=filled
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Move a segment's rows back into the hot table, then retire the segment.

    \b
    Example:
      aimem archive thaw seg-20250101T000000Z
    """
    result = repo(ctx).thaw(segment)
    if as_json:
        emit_json(result)
    else:
        write(f"thawed {result['rows']} rows from {result['segment']}\n")


@app.command(name="check")
def check_command(
    ctx: typer.Context,
    quick: Annotated[
        bool, typer.Option("--quick", help="quick_check; segment sizes only; no recomputation.")
    ] = False,
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what can be derived; never deletes rows.")
    ] = False,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    quiet_: QuietOpt = False,
) -> None:
    """Verify the database, the archive and the knowledge base; exit 1 on errors.

    \b
    Examples:
      aimem check
      aimem check --json
      aimem check --repair --yes
    """
    from aimem.errors import CorruptRepositoryError
    from aimem.ops.maintenance import REPAIR, unopenable_report

    try:
        if repair and not dry_run and not yes:
            # Ask only when there is something to repair, and say what.
            report = repo(ctx).check(quick=quick, repair=True, dry_run=True)
            if report.repaired:
                if interactive():
                    for line in report.repaired:
                        note(line)
                kinds = sorted(
                    {f.kind for f in report.findings if (f.remedy or "").startswith(REPAIR)}
                )
                count = len(report.repaired)
                findings = "1 finding" if count == 1 else f"{count} findings"
                _confirm(f"repair {findings} ({', '.join(kinds)})", yes)
                report = repo(ctx).check(quick=quick, repair=True)
        else:
            report = repo(ctx).check(quick=quick, repair=repair, dry_run=dry_run)
    except CorruptRepositoryError as error:
        report = unopenable_report(error)
    if as_json:
        emit_json(report.to_dict())
    else:
        for finding in report.findings:
            if quiet() and finding.severity != "error":
                continue  # a hint is no failure: cron stays silent
            write(finding.line() + "\n")
            if finding.remedy:
                note(f"  {finding.severity}: fix with: {finding.remedy}")
        for action in report.repaired:
            note(action)
        note(f"check: {report.errors} errors, {report.hints} hints")
    if not report.ok:
        raise typer.Exit(1)


@app.command(name="gc")
def gc_command(
    ctx: typer.Context,
    vacuum: Annotated[
        bool | None,
        typer.Option("--vacuum/--no-vacuum", help="Force or skip VACUUM (default: when worth it)."),
    ] = None,
    as_json: JsonOpt = False,
    quiet_: QuietOpt = False,
) -> None:
    """Checkpoint the WAL, optimize, analyze and (when worth it) vacuum the database.

    \b
    Example:
      aimem gc
    """
    result = repo(ctx).gc(vacuum)
    if as_json:
        emit_json(result)
    elif not quiet():
        write(f"reclaimed {result['bytes_reclaimed']} bytes ({result['bytes_after']} now)\n")
