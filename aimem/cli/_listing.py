"""The options every listing command shares: ``--wide``, ``--columns``, ``--no-headers``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from aimem.cli._output import TableView, parse_columns

WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide", "-w", help="Show every column and whole cells, whatever the terminal's width."
    ),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns",
        "-c",
        help="Only these columns, by their JSON key names, comma-separated (every format).",
        metavar="KEY,KEY...",
    ),
]
NoHeadersOpt = Annotated[
    bool, typer.Option("--no-headers", help="Leave out the header row (table and CSV).")
]


def table_view(
    wide: bool, columns: str | None, no_headers: bool, valid: Sequence[str]
) -> TableView:
    """The listing options as a TableView; a bad --columns is a usage error (exit 2)."""
    try:
        chosen = parse_columns(columns, valid)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="'--columns'") from None
    return TableView(wide=wide, columns=chosen, headers=not no_headers)
