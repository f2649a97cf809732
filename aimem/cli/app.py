"""The typer application: the root group, global options, error translation.

Exceptions become exit codes in exactly one place, ``AimemGroup.main``:
``AimemError`` -> ``aimem: error: ...`` (plus ``hint: ...``) and its exit code;
usage errors -> exit 2; Ctrl-C -> 130; anything unexpected -> exit 1 with a
one-line internal error (``AIMEM_DEBUG=1`` re-raises for a traceback).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from aimem._version import __version__
from aimem.cli._click import click_exceptions
from aimem.cli._context import RepoHandle
from aimem.errors import AimemError


def _debug() -> bool:
    return os.environ.get("AIMEM_DEBUG", "") not in ("", "0")


def _error(message: str, hint: str | None = None) -> None:
    sys.stderr.write(f"aimem: error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    sys.stderr.flush()


class AimemGroup(TyperGroup):
    """The root group: translates every failure into one line and an exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        code = 0
        try:
            result = super().main(
                args=args,
                prog_name=prog_name or "aimem",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = result if isinstance(result, int) else 0
        except typer.Exit as stop:
            code = stop.exit_code
        except click_exceptions.NoArgsIsHelpError as bare:
            # A group called without a subcommand: show its help, as git does.
            bare.show()
            code = bare.exit_code
        except click_exceptions.UsageError as usage:
            command = usage.ctx.command_path if usage.ctx is not None else "aimem"
            _error(usage.format_message(), f"see '{command} --help'")
            code = 2
        except click_exceptions.ClickException as failure:
            _error(failure.format_message())
            code = failure.exit_code
        except typer.Abort:
            _error("aborted")
            code = 1
        except AimemError as failure:
            if _debug():
                raise
            _error(failure.message, failure.hint)
            code = failure.exit_code
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            code = 130
        except BrokenPipeError:
            # A closed pipe (aimem ... | head) is not an error worth a traceback.
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            code = 141
        except Exception as failure:
            if _debug():
                raise
            _error(
                f"internal error: {type(failure).__name__}: {failure} "
                "(set AIMEM_DEBUG=1 for a traceback)"
            )
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=AimemGroup,
    name="aimem",
    help="aimem: the memory and learning system of an AI auto-fix framework.\n\n"
    "Records every fix attempt, learns which fixes work for which issue and model, "
    "and hands a fixer the history that helps it next time.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"aimem {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            "-C",
            help="The repository folder (AIMemory/). Default: $AIMEM_DIR, else the nearest "
            "AIMemory/ here or in a parent.",
            file_okay=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Show the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """aimem: the memory and learning system of an AI auto-fix framework.

    Records every fix attempt, learns which fixes work for which issue and model,
    and hands a fixer the history that helps it next time.
    """
    handle = RepoHandle(directory)
    ctx.obj = handle
    ctx.call_on_close(handle.close)


def _register() -> None:
    # Each module adds its commands to ``app``; imported here so that the fast
    # paths in aimem.cli (--version, --help, completion) never load them.
    from aimem.cli import backup, init, kb, query, record, transfer  # noqa: F401


_register()
