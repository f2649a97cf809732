"""The root of the typer application: the group, global options, error translation.

Command modules register on ``app`` here; ``aimem.cli.commands`` imports them
all, so the complete command line is ``aimem.cli.commands.app``.

Exceptions become exit codes in exactly one place, ``AimemGroup.main``:
``AimemError`` -> ``aimem: error: ...`` (plus ``hint: ...``) and its exit code;
usage errors -> exit 2; Ctrl-C -> 130; anything unexpected -> exit 1 with a
one-line internal error (``AIMEM_DEBUG=1`` re-raises for a traceback).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from aimem._version import __version__
from aimem.cli._click import click, click_exceptions, click_types
from aimem.cli._context import RepoHandle
from aimem.cli._errors import (
    aftermath_warnings,
    debug,
    error_line,
    internal_error_line,
    quiet_stdout,
)
from aimem.cli._values import path as value_path
from aimem.errors import AimemError

HELP_WIDTH = 80


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
            with aftermath_warnings():
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
            given = list(sys.argv[1:] if args is None else args)
            hint = misplaced_global_hint(usage, given) or f"see '{command} --help'"
            error_line(usage.format_message(), hint)
            code = 2
        except click_exceptions.ClickException as failure:
            error_line(failure.format_message())
            code = failure.exit_code
        except typer.Abort:
            error_line("aborted")
            code = 1
        except AimemError as failure:
            if debug():
                raise
            error_line(failure.message, failure.hint)
            code = failure.exit_code
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            code = 130
        except BrokenPipeError:
            quiet_stdout()
            code = 141
        except Exception as failure:
            if debug():
                raise
            internal_error_line(failure)
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: click.Context) -> Any:
        # typer turns a closed pipe into a silent exit 1 before main() sees it;
        # report it as the shell does for SIGPIPE (141), like git and cat.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            quiet_stdout()
            raise typer.Exit(141) from None


def _range_text(low: Any, high: Any, low_open: bool, high_open: bool) -> str:
    above = f"more than {low}" if low_open else f"at least {low}"
    below = f"less than {high}" if high_open else f"at most {high}"
    if low is None:
        return below
    if high is None:
        return above
    if not low_open and not high_open:
        return f"{low} to {high}"
    return f"{above} and {below}"


class _IntRange(click_types.IntRange):
    def _describe_range(self) -> str:
        return _range_text(self.min, self.max, self.min_open, self.max_open)


class _FloatRange(click_types.FloatRange):
    def _describe_range(self) -> str:
        return _range_text(self.min, self.max, self.min_open, self.max_open)


class AimemCommand(TyperCommand):
    """A command whose usage line names required arguments as Click does
    (``aimem show ID``), not in typer's braces (``{ID}``), which read like a
    set of choices, and whose ranges read ``1 to 10000``, not ``1<=x<=10000``
    (in the help and in the error for a value outside)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            bounds = param.type
            if type(bounds) is click_types.IntRange:
                param.type = _IntRange(
                    bounds.min, bounds.max, bounds.min_open, bounds.max_open, bounds.clamp
                )
            elif type(bounds) is click_types.FloatRange:
                param.type = _FloatRange(
                    bounds.min, bounds.max, bounds.min_open, bounds.max_open, bounds.clamp
                )

    def invoke(self, ctx: click.Context) -> Any:
        from aimem.cli._pager import paged

        with paged(" ".join(ctx.command_path.split()[1:])):
            return super().invoke(ctx)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [_unbraced(piece) for piece in pieces]


def _unbraced(piece: str) -> str:
    if piece.startswith("{") and piece.endswith("}") and "," not in piece:
        return piece[1:-1]
    return piece


# The root's options that take a value; --version and -V take none.
GLOBAL_VALUES = ("--dir", "-C", "--db")
GLOBAL_FLAGS = ("--version", "-V", "--no-pager")


def misplaced_global_hint(usage: click_exceptions.UsageError, args: list[str]) -> str | None:
    """``aimem stats --dir X``: say that --dir goes before the command, and show where."""
    if not isinstance(usage, click_exceptions.NoSuchOption) or usage.ctx is None:
        return None
    name = usage.option_name
    if usage.ctx.parent is None or name not in GLOBAL_VALUES + GLOBAL_FLAGS:
        return None
    if name == "--no-pager":
        import shlex

        rest = [arg for arg in args if arg != name]
        return f"{name} is a global option: aimem {shlex.join([name, *rest])}"
    if name in GLOBAL_FLAGS:
        return f"{name} is a global option: aimem {name}"
    # The misplaced one is the last: a leading -C/--dir is the real global option.
    for index in reversed(range(len(args))):
        arg = args[index]
        if arg == name and index + 1 < len(args):
            moved, rest = args[index : index + 2], args[:index] + args[index + 2 :]
            break
        if arg.startswith(name + "=") and name.startswith("--"):
            moved, rest = [arg], args[:index] + args[index + 1 :]
            break
    else:
        return f"{name} is a global option: aimem {name} DIR COMMAND ..."
    import shlex

    return f"{name} is a global option: aimem {shlex.join(moved + rest)}"


app = typer.Typer(
    cls=AimemGroup,
    name="aimem",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    # A fixed width makes help identical everywhere: aimem/cli/_helptext.py
    # serves the root help without typer, and the man pages reuse the text.
    context_settings={
        "help_option_names": ["-h", "--help"],
        "terminal_width": HELP_WIDTH,
        "max_content_width": HELP_WIDTH,
    },
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"aimem {__version__}\n")
        raise typer.Exit()


def _chdir(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> Path | None:
    # -C goes first (is_eager): --dir and every later path argument are then
    # read from DIR, as git does with -C.
    if value is None:
        return None
    import os

    before = os.getcwd()
    try:
        os.chdir(value)
    except OSError as error:
        raise click_exceptions.BadParameter(
            f"cannot change to {str(value)!r}: {error.strerror or error}"
        ) from None
    ctx.call_on_close(lambda: os.chdir(before))
    return Path.cwd()


def _no_pager(ctx: typer.Context, param: typer.CallbackParam, value: bool) -> bool:
    if value:
        from aimem.cli._pager import NO_PAGER

        token = NO_PAGER.set(True)
        ctx.call_on_close(lambda: NO_PAGER.reset(token))
    return value


@app.callback()
def root(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            metavar="DIR",
            help="The repository folder (AIMemory/) or the folder that holds it. "
            "Default: $AIMEM_DIR, else the nearest AIMemory/ here or in a parent.",
            click_type=value_path(file_okay=False),
        ),
    ] = None,
    start: Annotated[
        Path | None,
        typer.Option(
            "-C",
            metavar="DIR",
            help="Run as if aimem was started in DIR: relative paths start there, and "
            "the repository is the nearest AIMemory/ there or in a parent (unless "
            "--dir; $AIMEM_DIR is not used).",
            click_type=value_path(file_okay=False),
            callback=_chdir,
            is_eager=True,
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="A PostgreSQL database (postgresql://USER@HOST:PORT/DBNAME) to use instead "
            "of the one AIMemory/config.json names; no folder is needed. The password comes "
            "from PGPASSWORD, ~/.pgpass or the URL, and is never shown. Default: $AIMEM_DB.",
            show_default=False,
        ),
    ] = None,
    no_pager: Annotated[
        bool,
        typer.Option(
            "--no-pager",
            help="Write long listings straight to the terminal, not through "
            "$AIMEM_PAGER (else $PAGER, else less).",
            callback=_no_pager,
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Show the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """aimem: the memory and learning system of an AI auto-fix framework.

    Records every fix attempt, learns which fixes work for which issue and model,
    and hands a fixer the history that helps it next time. Run 'aimem COMMAND
    --help' for a command's options, or 'man aimem'.

    \b
    Examples:
      aimem init --demo && aimem stats
      aimem context --model qwen2.5:7b --issue-type TIMEOUT
    """
    absolute = directory.expanduser().absolute() if directory is not None else None
    if database is not None:
        from aimem.store.url import is_database_url

        if not is_database_url(database):
            raise click_exceptions.BadParameter(
                "must be a URL starting with postgresql:// or postgres://", param_hint="'--db'"
            )
    handle = RepoHandle(absolute, start, database)
    ctx.obj = handle
    ctx.call_on_close(handle.close)
