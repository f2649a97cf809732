"""``aimem backup``, ``aimem verify`` and ``aimem restore``: bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimem.cli import transfer as _transfer  # noqa: F401 (export/import are listed first)
from aimem.cli._click import click_exceptions
from aimem.cli._context import RepoHandle, repo
from aimem.cli._output import emit_json, interactive, note, write
from aimem.cli._values import MAX_COUNT, path
from aimem.cli.app import app

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command(name="backup")
def backup_command(
    ctx: typer.Context,
    dest: Annotated[
        Path | None,
        typer.Argument(
            help="A folder (default: here) or the bundle's file name.",
            click_type=path(),
            metavar="DEST",
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep",
            help="Then keep only the N newest bundles of this repository in DEST.",
            min=1,
            max=MAX_COUNT,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write one bundle file: database snapshot, knowledge base, segments, manifest.

    Prints the bundle's path (--json: the manifest summary).

    \b
    Examples:
      aimem backup /backups/aimem
      aimem backup /backups/aimem --keep 7 --json   # from cron
    """
    summary = repo(ctx).backup(dest, keep)
    if as_json:
        emit_json(summary)
    else:
        write(f"{summary['bundle']}\n")
        for old in summary["removed"]:
            note(f"removed {old}")


@app.command(name="verify")
def verify_command(
    bundle: Annotated[
        Path,
        typer.Argument(
            help="A bundle written by 'aimem backup'.", click_type=path(), metavar="BUNDLE"
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Check a bundle: checksums, decompression, integrity_check, counts. Exit 0 or 1.

    \b
    Example:
      aimem verify /backups/aimem/aimem-3f2a9c0d1e4b-20250115T020000.000000Z.tar
    """
    from aimem.backup import verify_bundle

    report = verify_bundle(bundle)
    if as_json:
        emit_json(report)
    elif report["ok"]:
        write(f"ok {bundle}\n")
    else:
        write("".join(f"{p}\n" for p in report["problems"]))
    if not report["ok"]:
        raise typer.Exit(1)


@app.command(name="restore")
def restore_command(
    ctx: typer.Context,
    bundle: Annotated[
        Path,
        typer.Argument(
            help="A bundle written by 'aimem backup'.", click_type=path(), metavar="BUNDLE"
        ),
    ],
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
) -> None:
    """Restore a bundle into the repository folder (--dir), verified and atomic.

    Refuses to replace an existing repository without --force; --force asks
    for confirmation on a terminal and needs --yes otherwise.

    \b
    Examples:
      aimem --dir ~/AIMemory restore backup.tar
      aimem restore backup.tar --force --yes
    """
    from aimem.backup import restore_bundle
    from aimem.paths import resolve_repository

    handle = ctx.find_root().obj
    target = resolve_repository(handle.directory if isinstance(handle, RepoHandle) else None)
    if force and not dry_run and not yes:
        if not interactive():
            raise click_exceptions.UsageError("--force without a terminal needs --yes")
        if (target / "ai_memory.db").exists() and not typer.confirm(
            f"Replace the repository in {target}?", err=True
        ):
            raise typer.Abort()
    summary = restore_bundle(bundle, target, force=force, dry_run=dry_run)
    if as_json:
        emit_json(summary)
    elif dry_run:
        action = "would replace" if summary["replaced"] else "would create"
        write(f"{action} {summary['target']} from {bundle}\n")
    else:
        write(f"restored {bundle} into {summary['target']}\n")
