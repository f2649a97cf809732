"""Command-line values, checked before anything is opened.

A bad value is a usage error (exit 2) that names the option or argument as
typed: ``Invalid value for '--drift-days': ...``. The checks are the
library's (an AIMemory caller gets the same refusal as an InvalidInputError);
run here first, they can name the flag instead of the library's field.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from aimem.cli._click import click, click_exceptions, click_types

# Upper bounds of numeric flags the library bounds too (aimem.records,
# aimem.timeutil.MAX_DAYS): past them a value is a typo, not a request.
MAX_DAYS = 36500
MAX_AMOUNT = 1e12
MAX_COUNT = 1_000_000


def _bad(problem: str) -> NoReturn:
    raise click_exceptions.BadParameter(problem)


def finite(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """A float flag: NaN passes click's range checks (every comparison is false)."""
    if isinstance(value, float) and not math.isfinite(value):
        _bad(f"{value} is not a number")
    return value


def filled(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """A name, type, prefix or text: empty or blank is refused (an unset variable)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if value is not None and all(isinstance(v, str) and not v.strip() for v in values):
        _bad("must not be empty")
    return value


def since(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """``--since``: a date from 1970 on, or a duration (30d, 12h, 2w) up to 36500 days."""
    from aimem.timeutil import since_timestamp

    if value is None:
        return None
    if not value.strip():
        _bad("must not be empty")
    try:
        since_timestamp(value)
    except ValueError as error:
        _bad(f"{error}; use 2025-01-15, 2025-01-15T12:00:00Z, 30d or 12h")
    return value


def since_window(value: str) -> float:
    """A ``--since`` already checked by ``since``, as the days back it names (a
    duration, or the time since a date); a date in the future is a usage error."""
    from aimem.timeutil import since_days

    try:
        return since_days(value)
    except ValueError as error:
        raise click_exceptions.BadParameter(
            f"{error}; use 2025-01-15, 2025-01-15T12:00:00Z, 30d or 12h", param_hint="'--since'"
        ) from None


def moment(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """An ISO 8601 time from 1970-01-01 to 9999-01-01."""
    from aimem.timeutil import bounded_moment

    if value is None:
        return None
    try:
        bounded_moment(value)
    except ValueError as error:
        problem = str(error) if "outside" in str(error) else f"{value!r} is not an ISO 8601 time"
        _bad(f"{problem}; use e.g. 2025-01-15T12:00:00Z")
    return value


def output_file(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    """A file to write ('-' for stdout): not empty, not a folder."""
    filled(ctx, param, value)
    if value != "-" and os.path.isdir(value):
        _bad(f"{value} is a folder; name a file (e.g. {os.path.join(value, 'export.ndjson')})")
    return value


def one_of(*choices: str) -> Any:
    """A callback for a repeatable option whose every value must be one of ``choices``."""

    def check(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
        for item in value or ():
            if item not in choices:
                _bad(f"{item!r} is not one of {', '.join(choices)}")
        return value

    return check


class NamedPath(click_types.ParamType):
    """A path that must be named (``''`` is not the current folder), is a file
    or a folder as the parameter wants, and whose nearest existing part is a
    folder (``FILE/x`` cannot be created). The value is a ``pathlib.Path``."""

    def __init__(self, file_okay: bool = True, dir_okay: bool = True) -> None:
        self.file_okay = file_okay
        self.dir_okay = dir_okay
        self.name = "directory" if not file_okay else ("file" if not dir_okay else "path")

    def convert(self, value: Any, param: click.Parameter | None, ctx: Any) -> Path:
        if isinstance(value, Path):
            return value
        text = os.fspath(value)
        if not text.strip():
            self.fail("must not be empty", param, ctx)
        path = Path(text)
        if path.exists():
            if not self.file_okay and not path.is_dir():
                self.fail(f"Directory {text!r} is a file.", param, ctx)
            if not self.dir_okay and path.is_dir():
                self.fail(f"File {text!r} is a directory.", param, ctx)
            return path
        for part in path.parents:
            if part.exists():
                if not part.is_dir():
                    self.fail(f"{part} is a file, not a folder", param, ctx)
                break
        return path


def path(file_okay: bool = True, dir_okay: bool = True) -> NamedPath:
    """The click type of a path argument or option (a ``pathlib.Path`` value)."""
    return NamedPath(file_okay=file_okay, dir_okay=dir_okay)


def _quiet(ctx: typer.Context, param: typer.CallbackParam, value: bool) -> bool:
    if value:
        from aimem.cli._output import QUIET

        token = QUIET.set(True)
        ctx.call_on_close(lambda: QUIET.reset(token))
    return value


QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Print only errors, warnings and requested data: no progress or summary.",
        callback=_quiet,
        is_eager=True,
    ),
]
