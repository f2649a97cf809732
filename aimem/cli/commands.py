"""The complete command line: every command module registered on the root ``app``.

Command modules import ``app`` from ``aimem.cli.app`` and add their commands to
it; this module imports them, so they never import back the module that lists
them.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Sequence

import typer

from aimem.cli.app import app

__all__ = ["app", "for_args"]


def for_args(args: Sequence[str]) -> typer.Typer:
    """``app`` trimmed to the one command these arguments run.

    typer builds the click object of every registered command before running
    one; trimming the others saves milliseconds on every call. Anything this
    cannot recognise (no command, an unknown one, a root option other than
    --dir) gets the whole app, so help and error messages are unchanged.
    """
    name = None
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--dir", "-C"):
            skip = True
        elif (
            arg.startswith("--dir=")
            or (arg.startswith("-C") and len(arg) > 2)
            or arg == "--no-pager"
        ):
            continue
        elif arg.startswith("-"):
            return app
        else:
            name = arg
            break
    commands = [c for c in app.registered_commands if name is not None and c.name == name]
    groups = [g for g in app.registered_groups if name is not None and g.name == name]
    if len(commands) + len(groups) != 1:
        return app
    trimmed = copy.copy(app)
    trimmed.registered_commands = commands
    trimmed.registered_groups = groups
    return trimmed


def _register() -> None:
    # Each module adds its commands to ``app``; imported here so that the fast
    # paths in aimem.cli (--version, --help, completion) never load them.
    from aimem.cli import init, kb, query, record  # noqa: F401

    # Transfer and backup (export, import, backup, verify, restore), listed after
    # the others; aimem.cli.backup registers aimem.cli.transfer first.
    importlib.import_module("aimem.cli.backup")
    # Remotes, push and pull, after the other ways of moving records.
    importlib.import_module("aimem.cli.sync")
    # Maintenance (cleanup, archive, check, gc), listed after the others.
    importlib.import_module("aimem.cli.maintenance")
    # Advice (suggest, gate, alerts), listed last
    importlib.import_module("aimem.cli.advice")
    from typer.core import TyperCommand

    from aimem.cli.app import AimemCommand

    groups = [app, *(group.typer_instance for group in app.registered_groups)]
    for group in groups:
        for command in group.registered_commands if group is not None else ():
            if command.cls in (None, TyperCommand):
                command.cls = AimemCommand


_register()
