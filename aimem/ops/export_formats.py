"""Which format an export writes (a light module: the command line asks early)."""

from __future__ import annotations

import os
from pathlib import Path

from aimem.errors import InvalidInputError

EXPORT_FORMATS = ("report", "json", "ndjson", "csv")


def export_format_for(file: str | os.PathLike[str], fmt: str | None) -> str:
    """The export format: as given, else by suffix (.json = report, .csv, else ndjson)."""
    if fmt:
        if fmt not in EXPORT_FORMATS:
            raise InvalidInputError(
                "format", f"unknown export format {fmt!r}", hint="use " + ", ".join(EXPORT_FORMATS)
            )
        return fmt
    suffix = Path(str(file)).suffix.lower()
    if suffix == ".json":
        return "report"
    if suffix == ".csv":
        return "csv"
    return "ndjson"
