"""``aimem remote``, ``aimem push`` and ``aimem pull``: records moved between repositories."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aimem.cli._context import repo
from aimem.cli._output import emit_json, note, password_not_stored, quiet, write
from aimem.cli._progress import bar, done
from aimem.cli._values import QuietOpt, filled
from aimem.cli.app import app

JsonOpt = Annotated[bool, typer.Option("--json", help="Output JSON.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", "-n", help="Count what would be sent; change nothing.")
]
RemoteArg = Annotated[
    str | None,
    typer.Argument(help="The remote (default: origin, or the only one).", metavar="[NAME]"),
]

remote_app = typer.Typer(
    name="remote",
    help="Add, list, rename and remove remotes (repositories to push to and pull from).\n\n"
    "A remote is a folder holding a repository, or a postgresql:// URL (stored\n"
    "without its password: PGPASSWORD or ~/.pgpass supplies it).\n\n"
    "\b\nExamples:\n  aimem remote add origin /mnt/fleet/AIMemory\n"
    "  aimem remote add fleet postgresql://aimem@db.example:5432/aimem\n  aimem remote -v",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(remote_app, name="remote")


def _listing(ctx: typer.Context, verbose: bool, as_json: bool) -> None:
    remotes = repo(ctx).remotes()
    if as_json:
        emit_json(remotes)
    elif verbose:
        write("".join(f"{r['name']}\t{r['url']}\n" for r in remotes))
    else:
        write("".join(f"{r['name']}\n" for r in remotes))


VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show each remote's target.")]


@remote_app.callback()
def remote_root(ctx: typer.Context, verbose: VerboseOpt = False) -> None:
    """The remotes: with no command, their names (-v: with targets)."""
    if ctx.invoked_subcommand is None:
        _listing(ctx, verbose, False)


@remote_app.command(name="list")
def remote_list(ctx: typer.Context, verbose: VerboseOpt = False, as_json: JsonOpt = False) -> None:
    """List the remotes, one name per line (-v: name, tab, target).

    \b
    Examples:
      aimem remote list -v
      aimem remote list --json
    """
    _listing(ctx, verbose, as_json)


@remote_app.command(name="add")
def remote_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the remote.", metavar="NAME")],
    target: Annotated[
        str,
        typer.Argument(
            help="A folder holding a repository, or a postgresql:// URL.",
            metavar="TARGET",
            callback=filled,
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Add a remote named NAME for the repository at TARGET.

    \b
    Examples:
      aimem remote add origin ../laptop/AIMemory
      aimem remote add fleet postgresql://aimem@db.example:5432/aimem
    """
    added = repo(ctx).add_remote(name, target)
    password_not_stored(target)
    if as_json:
        emit_json(added)
    else:
        note(f"added remote {added['name']}: {added['url']}")


@remote_app.command(name="remove")
def remote_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The remote to forget.", metavar="NAME")],
    as_json: JsonOpt = False,
) -> None:
    """Forget the remote NAME (the remote repository itself is untouched).

    \b
    Example:
      aimem remote remove origin
    """
    removed = repo(ctx).remove_remote(name)
    if as_json:
        emit_json(removed)
    else:
        note(f"removed remote {removed['name']} ({removed['url']})")


@remote_app.command(name="rename")
def remote_rename(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="The remote's name.", metavar="OLD")],
    new: Annotated[str, typer.Argument(help="Its new name.", metavar="NEW")],
    as_json: JsonOpt = False,
) -> None:
    """Rename the remote OLD to NEW.

    \b
    Example:
      aimem remote rename origin fleet
    """
    renamed = repo(ctx).rename_remote(old, new)
    if as_json:
        emit_json(renamed)
    else:
        note(f"renamed remote {old} to {renamed['name']}")


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(summary)
        return
    if quiet():
        return
    if summary["direction"] == "pull":
        verb = "would receive" if summary["dry_run"] else "received"
    else:
        verb = "would send" if summary["dry_run"] else "sent"
    write(
        f"{summary['direction']} {summary['remote']} ({summary['url']})\n"
        f"{verb}: {summary['sent']}\nalready there: {summary['skipped']}\n"
        f"records compared: {summary['records']}\nseconds: {summary['seconds']}\n"
    )


def _transfer(
    ctx: typer.Context, direction: str, remote: str | None, dry_run: bool, as_json: bool
) -> None:
    memory = repo(ctx)
    run = memory.push if direction == "push" else memory.pull
    progress = bar(direction)
    try:
        summary = run(remote, dry_run=dry_run, progress=progress)
    finally:
        done(progress)
    _report(summary, as_json)


@app.command(name="push")
def push_command(
    ctx: typer.Context,
    remote: RemoteArg = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    quiet_: QuietOpt = False,
) -> None:
    """Send a remote every record it does not have yet (by uid; archived ones too).

    Safe to repeat and to interrupt: each batch is stored whole, and the next
    push sends what is still missing.

    \b
    Examples:
      aimem push
      aimem push fleet --dry-run
      aimem push origin --json
    """
    _transfer(ctx, "push", remote, dry_run, as_json)


@app.command(name="pull")
def pull_command(
    ctx: typer.Context,
    remote: RemoteArg = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    quiet_: QuietOpt = False,
) -> None:
    """Fetch every record of a remote this repository lacks, learned as if recorded here.

    Safe to repeat and to interrupt: each batch is stored whole, and the next
    pull fetches what is still missing.

    \b
    Examples:
      aimem pull
      aimem pull fleet --dry-run
      aimem pull origin --json
    """
    _transfer(ctx, "pull", remote, dry_run, as_json)
