"""Every byte the command line writes goes through here.

stdout carries data only; messages, warnings and progress go to stderr. JSON
is plumbing (stable keys, ISO 8601 UTC timestamps); tables are porcelain.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any


class Format(str, Enum):
    table = "table"
    json = "json"
    ndjson = "ndjson"
    csv = "csv"


FORMAT_HELP = "Output format: table, json, ndjson or csv."
JSON_HELP = "Shortcut for --format json."


def resolve_format(fmt: Format | None, as_json: bool, default: Format = Format.table) -> Format:
    """Combine --format and --json; contradicting values are a usage error."""
    if as_json and fmt not in (None, Format.json):
        from aimem.cli._click import click_exceptions  # typer only on the typer path

        raise click_exceptions.UsageError(f"--json contradicts --format {fmt.value if fmt else ''}")
    if as_json:
        return Format.json
    return fmt or default


def colour_allowed(stream: Any = None) -> bool:
    """Colour and progress only on a terminal and without NO_COLOR."""
    stream = stream or sys.stderr
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def write(text: str) -> None:
    sys.stdout.write(text)


def json_bytes(value: Any, pretty: bool = True) -> bytes:
    import orjson

    option = orjson.OPT_INDENT_2 if pretty else 0
    try:
        return orjson.dumps(value, option=option | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as error:
        if "bytes" not in str(error):
            raise
        raise _stored_bytes("JSON") from None


def _stored_bytes(what: str) -> Exception:
    """A BLOB another program stored in a column of text (aimem never writes one)."""
    from aimem.errors import AimemError

    return AimemError(
        f"a stored value is a BLOB (binary value), which {what} cannot hold",
        hint="'aimem check' names the row and column",
    )


def emit_json(value: Any, pretty: bool = True) -> None:
    sys.stdout.buffer.write(json_bytes(value, pretty) + b"\n") if hasattr(
        sys.stdout, "buffer"
    ) else sys.stdout.write(json_bytes(value, pretty).decode() + "\n")
    sys.stdout.flush()


_TIMESTAMP_LENGTH = len("2026-01-15 12:34:56Z")


def _cell(value: Any, width: int | None = 60) -> str:
    if value is None:
        return ""
    if (
        isinstance(value, str)
        and len(value) >= _TIMESTAMP_LENGTH
        and value.endswith("Z")
        and value[4] == "-"
        and value[10] in " T"
        and value[13] == ":"
    ):
        # Tables are for people: UTC to the minute (JSON keeps the full timestamp).
        return value[:10] + " " + value[11:16]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json_bytes(value, pretty=False).decode()
    text = " ".join(str(value).split())
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def emit_rows(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    headers: Sequence[str] | None = None,
    empty_message: str = "(nothing to show)",
) -> None:
    """Render rows: a table of ``columns``; JSON/NDJSON/CSV with every key of each row."""
    if fmt is Format.json:
        emit_json(list(rows))
    elif fmt is Format.ndjson:
        out = sys.stdout
        for row in rows:
            out.write(json_bytes(row, pretty=False).decode() + "\n")
        out.flush()
    elif fmt is Format.csv:
        import csv

        materialized = list(rows)
        keys = list(materialized[0].keys()) if materialized else list(columns)
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(keys)
        for row in materialized:
            if any(isinstance(value, bytes) for value in row.values()):
                raise _stored_bytes("CSV")
            writer.writerow(
                [
                    json_bytes(row.get(k), pretty=False).decode()
                    if isinstance(row.get(k), (list, dict))
                    else ("" if row.get(k) is None else row.get(k))
                    for k in keys
                ]
            )
    else:
        from tabulate import tabulate

        table = [[_cell(row.get(c)) for c in columns] for row in rows]
        if not table:
            sys.stderr.write(empty_message + "\n")
            return
        write(tabulate(table, headers=list(headers or columns), tablefmt="simple") + "\n")


def emit_mapping(pairs: dict[str, Any], title: str | None = None) -> None:
    """``key: value`` lines (used by ``stats``)."""
    lines = [title] if title else []
    lines += [f"  {key}: {value}" for key, value in pairs.items()]
    write("\n".join(lines) + "\n")


def note(message: str) -> None:
    """A message for people, on stderr."""
    sys.stderr.write(message + "\n")
