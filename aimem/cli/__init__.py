"""The ``aimem`` command line.

``main`` answers ``--version``, ``--help`` and completion requests without
importing typer or opening the database (start-up is part of the product:
CI calls aimem thousands of times and people tab-complete). Everything else
goes to the typer app in ``aimem.cli.commands``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``aimem`` console script."""
    try:
        _main(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:  # --version and --help write without the typer app
        from aimem.cli._errors import quiet_stdout

        quiet_stdout()
        sys.exit(141)


def _main(args: list[str]) -> None:
    if args in (["--version"], ["-V"]):
        from aimem._version import __version__

        sys.stdout.write(f"aimem {__version__}\n")
        return
    if args in (["--help"], ["-h"]):
        from aimem.cli._helptext import ROOT_HELP

        sys.stdout.write(ROOT_HELP)
        return
    if not args:
        # No command is a usage error: help on stderr, exit 2 (as ``aimem kb``).
        from aimem.cli._helptext import ROOT_HELP

        sys.stderr.write(ROOT_HELP)
        sys.exit(2)
    if args and args[0] == "__complete":
        from aimem.cli._complete import complete

        complete(args[1:])
        return
    from aimem.cli.commands import for_args

    for_args(args)(args=args, prog_name="aimem")
