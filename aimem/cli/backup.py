"""``aimem backup`` (create, list, prune), ``aimem verify`` and ``aimem restore``: bundles."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from aimem.cli import transfer as _transfer  # noqa: F401 (export/import are listed first)
from aimem.cli._click import click, click_exceptions
from aimem.cli._context import handle_of, repo
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
from aimem.cli._values import MAX_COUNT, QuietOpt, path
from aimem.cli.app import app

if TYPE_CHECKING:
    from aimem.ops.backup import Retention

JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_ONLY_HELP)]
FromOpt = Annotated[
    Path | None,
    typer.Option(
        "--from",
        help="With 'latest': the folder of bundles (default: $AIMEM_BACKUP_DIR, else the "
        "one set with 'aimem backup --set-default').",
        click_type=path(file_okay=False),
        metavar="DIR",
    ),
]


class BackupGroup(TyperGroup):
    """``aimem backup [DEST] [OPTIONS]`` runs ``aimem backup create``: the common form
    stays short, and ``list``/``prune`` sit beside it as git's ``stash list`` does."""

    default_command = "create"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


backup_app = typer.Typer(
    cls=BackupGroup,
    name="backup",
    help="Write, list and prune backup bundles; 'aimem backup DEST' is 'aimem backup create "
    "DEST'.\n\n"
    "\b\nExamples:\n"
    "  aimem backup /backups/aimem --keep-daily 7 --keep-weekly 8 --quiet\n"
    "  aimem backup list /backups/aimem\n"
    "  aimem backup prune /backups/aimem --keep-last 3 --dry-run",
    no_args_is_help=False,
)
app.add_typer(backup_app, name="backup")


def _retention(
    keep: int | None,
    last: int | None,
    daily: int | None,
    weekly: int | None,
    within: str | None,
) -> Retention | None:
    from aimem.ops.backup import Retention, parse_duration

    if keep is not None and last is not None:
        raise click_exceptions.UsageError("--keep is --keep-last; give one of them")
    last = keep if last is None else last
    if last is None and daily is None and weekly is None and within is None:
        return None
    span = None
    if within is not None:
        try:
            span = parse_duration(within)
        except ValueError as error:
            raise click_exceptions.BadParameter(str(error), param_hint="'--keep-within'") from None
    return Retention(last=last or 0, daily=daily or 0, weekly=weekly or 0, within=span)


def _count_option(name: str, text: str) -> Any:
    return typer.Option(name, help=text, min=1, max=MAX_COUNT, metavar="N")


KeepLast = Annotated[int | None, _count_option("--keep-last", "Keep the N newest bundles.")]
KeepDaily = Annotated[
    int | None,
    _count_option("--keep-daily", "Keep the newest bundle of each of the last N days (UTC)."),
]
KeepWeekly = Annotated[
    int | None,
    _count_option("--keep-weekly", "Keep the newest bundle of each of the last N ISO weeks."),
]
KeepWithin = Annotated[
    str | None,
    typer.Option(
        "--keep-within",
        help="Keep every bundle this close to the newest: 7d, 12h, 2w, 1d12h.",
        metavar="DURATION",
    ),
]


@backup_app.command(name="create")
def backup_create(
    ctx: typer.Context,
    dest: Annotated[
        Path | None,
        typer.Argument(
            help="A folder or the bundle's file name (default: $AIMEM_BACKUP_DIR, else the "
            "folder set with --set-default).",
            click_type=path(),
            metavar="DEST",
        ),
    ] = None,
    keep_last: KeepLast = None,
    keep_daily: KeepDaily = None,
    keep_weekly: KeepWeekly = None,
    keep_within: KeepWithin = None,
    keep: Annotated[
        int | None,
        typer.Option("--keep", help="Same as --keep-last.", min=1, max=MAX_COUNT, metavar="N"),
    ] = None,
    set_default: Annotated[
        Path | None,
        typer.Option(
            "--set-default",
            help="Remember DIR as this repository's backup folder and exit.",
            click_type=path(file_okay=False),
            metavar="DIR",
        ),
    ] = None,
    as_json: JsonOpt = False,
    quiet_: QuietOpt = False,
) -> None:
    """Write one bundle file: database snapshot, knowledge base, segments, manifest.

    Prints the bundle's path (--json: the manifest summary; --quiet: nothing).
    With --keep-* rules, the new bundle is verified, then this repository's
    older bundles in DEST that no rule keeps are removed (other repositories'
    bundles and other files are never touched).

    \b
    Examples:
      aimem backup /backups/aimem
      aimem backup --set-default /backups/aimem
      aimem backup --keep-daily 7 --keep-weekly 4 --quiet   # from cron
      aimem backup /backups/aimem --keep-last 14 --json
    """
    retention = _retention(keep, keep_last, keep_daily, keep_weekly, keep_within)
    if set_default is not None:
        if dest is not None or retention is not None:
            raise click_exceptions.UsageError("--set-default DIR only stores DIR; write no bundle")
        folder = repo(ctx).set_backup_destination(set_default)
        note(f"backups go to {folder}")
        return
    memory = repo(ctx)
    if dest is None and memory.backup_destination() is None:
        raise click_exceptions.UsageError(
            "missing DEST: name a folder (aimem backup DIR), remember one "
            "(aimem backup --set-default DIR) or set AIMEM_BACKUP_DIR"
        )
    summary = memory.backup(dest, retention)
    if as_json:
        emit_json(summary)
    elif not quiet():
        write(f"{summary['bundle']}\n")
        for old in summary["removed"]:
            note(f"removed {old}")


_LIST_COLUMNS = ["created_at", "size", "records", "repository_id", "verified", "bundle"]


@backup_app.command(name="list")
def backup_list(
    folder: Annotated[
        Path,
        typer.Argument(
            help="A folder of bundles.", click_type=path(file_okay=False), metavar="DIR"
        ),
    ],
    verify: Annotated[
        bool,
        typer.Option(
            "--verify", help="Verify each bundle fully (default: its manifest and tar index)."
        ),
    ] = False,
    fmt: Annotated[Format | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List the bundles in a folder, newest first: time, size, records, repository, verified.

    \b
    Examples:
      aimem backup list /backups/aimem
      aimem backup list /backups/aimem --verify --json
    """
    from aimem.memory import AIMemory

    output = resolve_format(fmt, as_json)
    rows = AIMemory.list_bundles(folder, verify=verify)
    if output is Format.table:
        for row in rows:
            row["bundle"] = Path(row["bundle"]).name
    emit_rows(
        rows,
        _LIST_COLUMNS,
        output,
        ["time", "bytes", "records", "repository", "verified", "bundle"],
        f"no bundles in {folder}",
        [*_LIST_COLUMNS, "check", "problems"],
        drop=("repository", "records"),
        whole=("bundle",),
    )


@backup_app.command(name="prune")
def backup_prune(
    ctx: typer.Context,
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="A folder of bundles (default: the backup folder).",
            click_type=path(file_okay=False),
            metavar="DIR",
        ),
    ] = None,
    keep_last: KeepLast = None,
    keep_daily: KeepDaily = None,
    keep_weekly: KeepWeekly = None,
    keep_within: KeepWithin = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Show what would be removed; remove nothing.")
    ] = False,
    as_json: JsonOpt = False,
    quiet_: QuietOpt = False,
) -> None:
    """Remove this repository's bundles that no --keep-* rule keeps.

    Prints one line per bundle: keep (with the rules that keep it) or remove.

    \b
    Examples:
      aimem backup prune /backups/aimem --keep-daily 7 --keep-weekly 4 --dry-run
      aimem backup prune --keep-within 30d
    """
    retention = _retention(None, keep_last, keep_daily, keep_weekly, keep_within)
    if retention is None:
        raise click_exceptions.UsageError(
            "name what to keep: --keep-last, --keep-daily, --keep-weekly or --keep-within"
        )
    result = repo(ctx).prune_bundles(folder, retention, dry_run)
    if as_json:
        emit_json(result)
        return
    if not quiet():
        removing = "would remove" if dry_run else "removed"
        for entry in result["bundles"]:
            verdict = f"keep ({', '.join(entry['reasons'])})" if entry["keep"] else removing
            write(f"{verdict} {entry['name']}\n")
        if not result["bundles"]:
            note(f"no bundles of this repository in {result['folder']}")


def _target_repository(ctx: typer.Context) -> Path:
    """The repository this command line means, or where ``init`` would create it."""
    location = handle_of(ctx).location()
    return location.find() or location.to_create()


def _target_database(ctx: typer.Context) -> str | None:
    # --db or AIMEM_DB: restore into that database rather than a folder
    return handle_of(ctx).database


def _shown(database: str | None, target: Path) -> str:
    from aimem.store.url import display_url

    return str(target) if database is None else display_url(database)


@app.command(name="verify")
def verify_command(
    ctx: typer.Context,
    bundle: Annotated[
        Path,
        typer.Argument(
            help="A bundle, a folder of bundles (each is verified), or 'latest' (this "
            "repository's newest bundle).",
            click_type=path(),
            metavar="BUNDLE",
        ),
    ],
    source: FromOpt = None,
    as_json: JsonOpt = False,
    quiet_: QuietOpt = False,
) -> None:
    """Check bundles: checksums, decompression, integrity_check, counts. Exit 0 or 1.

    One line per bundle: 'ok BUNDLE', or its problems. --quiet prints only problems.

    \b
    Examples:
      aimem verify /backups/aimem/aimem-3f2a9c0d1e4b-20250115T020000.000000Z.tar
      aimem verify /backups/aimem
      aimem verify latest --from /backups/aimem
    """
    from aimem.memory import AIMemory

    folder = str(bundle) != "latest" and source is None and bundle.is_dir()
    if folder:
        reports = AIMemory.verify_bundles(bundle)
    else:
        chosen = AIMemory.find_bundle(bundle, _target_repository(ctx), source)
        reports = [AIMemory.verify_bundle(chosen)]
    if as_json:
        emit_json(reports if folder else reports[0])
    else:
        for report in reports:
            if report["ok"]:
                if not quiet():
                    write(f"ok {report['bundle']}\n")
            elif folder:  # one line per bundle
                write(f"failed {report['bundle']}: {'; '.join(report['problems'])}\n")
            else:
                write("".join(f"{p}\n" for p in report["problems"]))
    if not all(report["ok"] for report in reports):
        raise typer.Exit(1)


@app.command(name="restore")
def restore_command(
    ctx: typer.Context,
    bundle: Annotated[
        Path,
        typer.Argument(
            help="A bundle written by 'aimem backup', or 'latest' (the newest bundle of the "
            "repository being restored).",
            click_type=path(),
            metavar="BUNDLE",
        ),
    ],
    source: FromOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing repository (needs --yes).")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before replacing (scripts).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Check everything; write nothing.")
    ] = False,
    as_json: JsonOpt = False,
    quiet_: QuietOpt = False,
) -> None:
    """Restore a bundle into the repository, verified and atomic.

    The repository is the one --dir, -C or $AIMEM_DIR names (or the nearest);
    where there is none, it goes where 'aimem init' would put it: a folder
    named AIMemory is used as it is, any other folder gets AIMemory/ inside.
    A refused restore creates nothing. Refuses to replace an existing repository without --force; --force asks
    for confirmation on a terminal and needs --yes otherwise. 'latest' picks
    the repository's newest bundle (the only repository's, on a new machine).

    \b
    Examples:
      aimem --dir ~/AIMemory restore backup.tar
      aimem restore latest --from /backups/aimem --force --yes
    """
    from aimem.memory import AIMemory

    target = _target_repository(ctx)
    database = _target_database(ctx)
    if force and not dry_run and not yes and not interactive():
        raise click_exceptions.UsageError("--force without a terminal needs --yes")
    chosen = AIMemory.find_bundle(bundle, target, source)
    if (
        force
        and not dry_run
        and not yes
        and (database is not None or (target / "ai_memory.db").exists())
        and not typer.confirm(
            f"Replace the repository in {database or target} with {chosen}?", err=True
        )
    ):
        raise typer.Abort()
    summary = AIMemory.restore_bundle(chosen, target, force=force, dry_run=dry_run, db=database)
    if as_json:
        emit_json(summary)
    elif quiet():
        return
    elif dry_run:
        action = "would replace" if summary["replaced"] else "would create"
        write(f"{action} {summary['target']} from {chosen}\n")
    else:
        write(f"restored {chosen} into {summary['target']}\n")
