"""Every byte the command line writes goes through here.

stdout carries data only; messages, warnings and progress go to stderr. JSON
is plumbing (stable keys, ISO 8601 UTC timestamps); tables are porcelain.

Stored text is whatever a fixer recorded, terminal escape sequences included.
Everything written for people (tables, text, messages on stderr) shows control
characters escaped (ESC as ``\\x1b``), so a record cannot retitle a window or
clear a screen. JSON and NDJSON stay exact (JSON escapes C0 controls itself),
and so does CSV unless stdout is a terminal (docs/output.md).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
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


# C0 controls, DEL, C1 controls (8-bit CSI and OSC among them), and the bidi
# overrides and isolates that can make shown text differ from stored text.
_OTHER_CONTROLS = "\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x0a{_OTHER_CONTROLS}]")
_CONTROL_IN_LINES = re.compile(f"[\x00-\x08{_OTHER_CONTROLS}]")  # tab and newline kept


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, lines: bool = False) -> str:
    """``text`` with control characters escaped (``\\x1b``); ``lines`` keeps tabs and newlines."""
    return (_CONTROL_IN_LINES if lines else _CONTROL).sub(_escaped, text)


def interactive() -> bool:
    """Whether a person can answer a question: stdin is an open terminal (not closed, ``<&-``)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # a closed file object
        return False


def write(text: str) -> None:
    """Text for people on stdout (control characters escaped; tabs and newlines kept)."""
    sys.stdout.write(printable(text, lines=True))


def json_bytes(value: Any, pretty: bool = True) -> bytes:
    import orjson

    option = orjson.OPT_INDENT_2 if pretty else 0
    try:
        data = orjson.dumps(value, option=option | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as error:
        if "bytes" not in str(error):
            raise
        raise _stored_bytes("JSON") from None
    if data.isascii() and b"\x7f" not in data:
        return data
    return _JSON_CONTROL.sub(_json_escaped, data)


# orjson escapes C0 controls; DEL, C1 controls and bidi overrides it writes as
# they are. Written as \u escapes they parse back to the very same strings.
_JSON_CONTROL = re.compile(b"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def _json_escaped(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode())


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
    text = printable(" ".join(str(value).split()))
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def emit_rows(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    headers: Sequence[str] | None = None,
    empty_message: str = "(nothing to show)",
    csv_columns: Sequence[str] | None = None,
) -> None:
    """Render rows: a table of ``columns``; JSON/NDJSON with every key of each row;
    CSV with the fixed header ``csv_columns`` (default ``columns``), whatever the rows."""
    if fmt is Format.json:
        emit_json(list(rows))
    elif fmt is Format.ndjson:
        out = sys.stdout
        for row in rows:
            out.write(json_bytes(row, pretty=False).decode() + "\n")
        out.flush()
    elif fmt is Format.csv:
        emit_csv(rows, csv_columns or columns)
    else:
        from tabulate import tabulate

        table = [[_cell(row.get(c)) for c in columns] for row in rows]
        if not table:
            note(empty_message)
            return
        write(tabulate(table, headers=list(headers or columns), tablefmt="simple") + "\n")


def emit_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as CSV (aimem.csvformat): this header, then one line per row, streamed."""
    from aimem.csvformat import cell, writer

    out = writer(sys.stdout)
    out.writerow(list(columns))
    # Straight to a terminal the cells are shown, not parsed: escape them there.
    shown = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
    for row in rows:
        if any(isinstance(value, bytes) for value in row.values()):
            raise _stored_bytes("CSV")
        cells = [cell(row.get(key)) for key in columns]
        if shown:
            cells = [printable(c) if isinstance(c, str) else c for c in cells]
        out.writerow(cells)
    sys.stdout.flush()


def emit_mapping(pairs: dict[str, Any], title: str | None = None) -> None:
    """``key: value`` lines (used by ``stats``)."""
    lines = [title] if title else []
    lines += [f"  {key}: {value}" for key, value in pairs.items()]
    write("\n".join(lines) + "\n")


# Set by -q/--quiet for the one command being run (aimem.cli._values.QuietOpt),
# reset when it ends: a cron job then hears only of failures.
QUIET: ContextVar[bool] = ContextVar("aimem_quiet", default=False)


def quiet() -> bool:
    """Whether this command runs with -q: summaries and progress are not shown."""
    return QUIET.get()


def note(message: str) -> None:
    """A message for people, on stderr (control characters escaped); silent with -q."""
    if QUIET.get():
        return
    sys.stderr.write(printable(message, lines=True) + "\n")


def warning(message: str) -> None:
    """``aimem: warning: ...`` on stderr, also with -q (something needs a look)."""
    sys.stderr.write("aimem: warning: " + printable(message, lines=True) + "\n")
