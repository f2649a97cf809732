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

import io
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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
JSON_ONLY_HELP = "Write JSON instead of text."


def resolve_format(fmt: Format | None, as_json: bool, default: Format = Format.table) -> Format:
    """Combine --format and --json; contradicting values are a usage error."""
    if as_json and fmt not in (None, Format.json):
        from aimem.cli._click import click_exceptions  # typer only on the typer path

        raise click_exceptions.UsageError(f"--json contradicts --format {fmt.value if fmt else ''}")
    if as_json:
        return Format.json
    return fmt or default


def colour_allowed(stream: Any = None) -> bool:
    """Colour and progress only on a terminal, without NO_COLOR, and not TERM=dumb."""
    stream = stream or sys.stderr
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    try:
        return hasattr(stream, "isatty") and bool(stream.isatty())
    except ValueError:  # a closed stream
        return False


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
    """Text for people on stdout (control characters escaped; tabs and newlines kept;
    characters the output encoding cannot carry in ASCII or as escapes)."""
    sys.stdout.write(for_stream(printable(text, lines=True), sys.stdout))


def json_bytes(value: Any, pretty: bool = True, stored: bool = False) -> bytes:
    """``value`` as JSON for output: timestamps with ISO 8601's T unless ``stored``."""
    data = _json_bytes(value, pretty)
    if stored:
        return data
    from aimem.timeutil import output_timestamps_json

    return output_timestamps_json(data)


def _json_bytes(value: Any, pretty: bool) -> bytes:
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


def emit_json(value: Any, pretty: bool = True, stored: bool = False) -> None:
    """One JSON document on stdout, timestamps in ISO 8601's ``T`` form; ``stored``
    writes a stored document (the knowledge base file) exactly as it is."""
    data = json_bytes(value, pretty, stored)
    sys.stdout.buffer.write(data + b"\n") if hasattr(sys.stdout, "buffer") else sys.stdout.write(
        data.decode() + "\n"
    )
    sys.stdout.flush()


_TIMESTAMP_LENGTH = len("2026-01-15 12:34:56Z")

# A stored cell longer than this is cut in a table that is not fitted to a
# terminal (a pipe), unless --wide.
CELL_WIDTH = 60
# tabulate's "simple" format puts two spaces between columns.
GAP = 2
# Characters a table or a title may use, and what an encoding that cannot
# carry them (latin-1, ASCII under LC_ALL=C) shows instead.
ASCII_FALLBACKS = {"…": "...", "≥": ">=", "🧠 ": "", "🧠": "", "—": "-", "–": "-"}


def iso_timestamp(value: Any) -> Any:
    """A stored timestamp (``2026-12-06 03:56:51.181256Z``) with ISO 8601's ``T``
    (``2026-12-06T03:56:51.181256Z``); any other value as it is.

    Machine output (JSON, NDJSON, CSV) goes through here; the database keeps
    the stored form, which compares as text against SQLite's ``datetime()``.
    """
    from aimem.timeutil import output_timestamp

    return output_timestamp(value)


def encodable(text: str, stream: Any = None) -> bool:
    """Whether ``stream`` (default stdout) can write ``text`` in its encoding."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def for_stream(text: str, stream: Any) -> str:
    """``text`` as ``stream`` can carry it: the ASCII fallbacks, then ``\\u`` escapes."""
    if encodable(text, stream):
        return text
    for char, plain in ASCII_FALLBACKS.items():
        text = text.replace(char, plain)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return text.encode(encoding, "backslashreplace").decode(encoding)


def terminal_width(stream: Any = None) -> int | None:
    """The width tables fit: ``$COLUMNS`` when set to a number, else the terminal's;
    None when stdout is not a terminal (a pipe or a file keeps whole rows)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        pass
    return None


class TableView:
    """How a listing shows: ``--wide``, ``--columns``, ``--no-headers``."""

    def __init__(
        self,
        wide: bool = False,
        columns: Sequence[str] | None = None,
        headers: bool = True,
    ) -> None:
        self.wide = wide
        self.columns = tuple(columns) if columns else None
        self.headers = headers


def parse_columns(value: str | None, valid: Sequence[str]) -> tuple[str, ...] | None:
    """``--columns a,b,c``: the JSON keys chosen, in order; ValueError naming the bad one."""
    if value is None:
        return None
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise ValueError("name at least one column")
    for name in names:
        if name not in valid:
            raise ValueError(f"no column {name!r}; the columns are {','.join(valid)}")
    return names


def selected(row: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """``row`` with only these keys, in this order."""
    return {key: row.get(key) for key in columns}


def _cell(value: Any, width: int | None = CELL_WIDTH, ellipsis: str = "…") -> str:
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
        return printable(value[:10] + " " + value[11:16])
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    if isinstance(value, (list, tuple)):
        # the fix commands, run in order: one spelling in tables and text alike
        value = " && ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json_bytes(value, pretty=False).decode()
    text = printable(" ".join(str(value).split()))
    return _cut(text, width, ellipsis)


# Shares of attempts (JSON keeps them as fractions): shown to people as
# percentages, as context, suggest and gate word them.
PERCENT_KEYS = frozenset({"success_rate", "wilson_low", "wilson_high", "cost_coverage"})


def _shown(key: str, value: Any, width: int | None, ellipsis: str) -> str:
    if key in PERCENT_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.0%}"
    return _cell(value, width, ellipsis)


def _cut(text: str, width: int | None, ellipsis: str) -> str:
    if width is None or len(text) <= width:
        return text
    if width <= len(ellipsis):
        return text[:width]
    return text[: width - len(ellipsis)] + ellipsis


_NUMBER = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?%?")

# The narrowest the free-text column gets before secondary columns go, and
# the narrowest any column gets before the last one goes.
FREE_TEXT_MIN = 24
NARROWEST = 4


def fit_table(
    table: list[list[str]],
    headers: list[str],
    width: int,
    shrink: int | None,
    drop: Sequence[int],
    ellipsis: str,
    whole: Sequence[int] = (),
) -> tuple[list[list[str]], list[str]]:
    """Cells and headers cut and thinned so that no line is wider than ``width``.

    First the free-text column ``shrink`` narrows (down to FREE_TEXT_MIN), then
    the columns ``drop`` go, in that order, then the widest columns narrow, all
    cut with an ellipsis. A column in ``whole`` (a name to type) is never cut.
    """
    keep = list(range(len(headers)))

    def widths() -> list[int]:
        return [max([len(headers[i])] + [len(row[i]) for row in table]) for i in keep]

    def total(sizes: list[int]) -> int:
        return sum(sizes) + GAP * (len(sizes) - 1)

    limits = dict(zip(keep, widths(), strict=True))
    pending = [index for index in drop if index in keep]
    while total([limits[i] for i in keep]) > width:
        excess = total([limits[i] for i in keep]) - width
        if shrink in keep and limits[shrink] > FREE_TEXT_MIN:
            limits[shrink] = max(FREE_TEXT_MIN, limits[shrink] - excess)
            continue
        if pending:
            keep.remove(pending.pop(0))
            if shrink in keep:  # the free text gets back what the dropped column had
                natural = max([len(headers[shrink])] + [len(row[shrink]) for row in table])
                room = width - total([limits[i] for i in keep if i != shrink]) - GAP
                limits[shrink] = max(min(natural, room), min(limits[shrink], natural))
            continue
        # then the widest columns narrow, none below a few characters; past
        # that the last column goes (a number cut to its first digit would lie)
        narrowable = [i for i in keep if i not in whole and limits[i] > NARROWEST]
        if narrowable:
            widest = max(narrowable, key=lambda i: limits[i])
            limits[widest] = max(NARROWEST, limits[widest] - excess)
            continue
        last = [i for i in keep if i not in whole]
        if len(keep) <= 1 or not last:
            break
        keep.remove(last[-1])
    cut = [[_cut(row[i], limits[i], ellipsis) for i in keep] for row in table]
    return cut, [_cut(headers[i], limits[i], ellipsis) for i in keep]


def emit_rows(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    headers: Sequence[str] | None = None,
    empty_message: str = "(nothing to show)",
    csv_columns: Sequence[str] | None = None,
    *,
    view: TableView | None = None,
    shrink: str | None = None,
    drop: Sequence[str] = (),
    whole: Sequence[str] = (),
    section: bool = False,
) -> None:
    """Render rows: a table of ``columns``; JSON/NDJSON with every key of each row;
    CSV with the fixed header ``csv_columns`` (default ``columns``), whatever the rows.

    ``view`` carries --wide, --columns (JSON keys, every format) and
    --no-headers (table and CSV). A table on a terminal fits its width:
    ``shrink`` is the free-text column that narrows first, ``drop`` the
    secondary columns that go, in that order (none with --wide); ``whole``
    columns (names a user types) are never cut.

    An empty listing says so on stderr, leaving stdout empty for a script; an
    empty ``section`` of a report says so on stdout, under its heading, so
    the report reads in order wherever its two streams end up.
    """
    view = view or TableView()
    if view.columns:
        rows = (selected(row, view.columns) for row in rows)
    if fmt is Format.json:
        emit_json(list(rows))
    elif fmt is Format.ndjson:
        with utf8_stdout() as out:
            for row in rows:
                out.write(json_bytes(row, pretty=False).decode() + "\n")
    elif fmt is Format.csv:
        emit_csv(rows, view.columns or csv_columns or columns, headers=view.headers)
    else:
        table = list(rows)
        if not table and section:
            write(empty_message + "\n")
            return
        _emit_table(table, columns, headers, empty_message, view, shrink, drop, whole)


def _emit_table(
    rows: list[dict[str, Any]],
    columns: Sequence[str],
    headers: Sequence[str] | None,
    empty_message: str,
    view: TableView,
    shrink: str | None,
    drop: Sequence[str],
    whole: Sequence[str] = (),
) -> None:
    import tabulate as tabulate_module
    from tabulate import tabulate

    # Columns as wide as their widest cell or title, no more: fit_table counts on it.
    tabulate_module.MIN_PADDING = 0
    titles = dict(zip(columns, headers or columns, strict=True))
    if view.columns:
        columns, drop = view.columns, ()
    shown = [titles.get(column, column) for column in columns]
    width = None if view.wide else terminal_width()
    ellipsis = "…" if encodable("…") else "..."
    cell_width = None if view.wide or width is not None else CELL_WIDTH
    # a name to type next (a segment, a bundle) is whole in a pipe too
    widths = [None if c in whole else cell_width for c in columns]
    table = [
        [_shown(c, row.get(c), w, ellipsis) for c, w in zip(columns, widths, strict=True)]
        for row in rows
    ]
    if not table:
        note(empty_message)
        return
    # what the encoding cannot carry is replaced before widths are measured
    shown = [for_stream(title, sys.stdout) for title in shown]
    table = [[for_stream(cell, sys.stdout) for cell in row] for row in table]
    if width is not None:
        table, shown = fit_table(
            table,
            shown,
            width,
            list(columns).index(shrink) if shrink is not None and shrink in columns else None,
            [list(columns).index(c) for c in drop if c in columns],
            ellipsis,
            [list(columns).index(c) for c in whole if c in columns],
        )
    align = [
        "right" if all(_NUMBER.fullmatch(row[i]) for row in table) else "left"
        for i in range(len(shown))
    ]
    colour = colour_allowed(sys.stdout)
    if colour:
        table, shown = _coloured(table, shown)
    if not view.headers:
        text = tabulate(table, tablefmt="plain", disable_numparse=True, colalign=align)
    else:
        text = tabulate(
            table, headers=shown, tablefmt="simple", disable_numparse=True, colalign=align
        )
    if colour:
        # every cell and title is escaped already (printable): only our codes remain
        sys.stdout.write(text + "\n")
    else:
        write(text + "\n")


# SGR codes, as git colours its output: bold titles, outcomes green/yellow/red.
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"
_OUTCOME_COLOURS = {"verified": "\x1b[32m", "applied": "\x1b[33m", "failed": "\x1b[31m"}


def _coloured(table: list[list[str]], titles: list[str]) -> tuple[list[list[str]], list[str]]:
    """Titles in bold and outcomes in colour (tabulate measures without the codes)."""
    outcome = titles.index("outcome") if "outcome" in titles else None
    if outcome is not None:
        table = [
            [
                _OUTCOME_COLOURS[cell] + cell + _RESET
                if at == outcome and cell in _OUTCOME_COLOURS
                else cell
                for at, cell in enumerate(row)
            ]
            for row in table
        ]
    return table, [_BOLD + title + _RESET for title in titles]


def emit_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], headers: bool = True) -> None:
    """Rows as CSV (aimem.ops.csvformat): this header, then one line per row, streamed;
    timestamps in ISO 8601's ``T`` form."""
    from aimem.ops.csvformat import cell, writer

    # Straight to a terminal the cells are shown, not parsed: escape them there.
    shown = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
    with utf8_stdout() as stream:
        out = writer(stream)
        if headers:
            out.writerow(list(columns))
        for row in rows:
            if any(isinstance(value, bytes) for value in row.values()):
                raise _stored_bytes("CSV")
            cells = [cell(iso_timestamp(row.get(key))) for key in columns]
            if shown:
                cells = [
                    for_stream(printable(c), sys.stdout) if isinstance(c, str) else c for c in cells
                ]
            out.writerow(cells)


@contextmanager
def utf8_stdout() -> Iterator[Any]:
    """stdout as UTF-8 text, whatever its encoding (JSON and CSV are UTF-8 by
    contract; a latin-1 or ASCII locale must not fail on a stored character);
    flushed on the way out."""
    stream = sys.stdout
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
    buffer = getattr(stream, "buffer", None)
    if encoding in ("utf-8", "utf8") or buffer is None or stream.isatty():
        yield stream
        stream.flush()
        return
    stream.flush()
    wrapper = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    try:
        yield wrapper
        wrapper.flush()
    finally:
        wrapper.detach()


def wrapped(text: str) -> str:
    """``text`` wrapped to the terminal's width (as it is in a pipe or a file)."""
    width = terminal_width()
    if width is None:
        return text
    import textwrap

    return "\n".join(
        textwrap.fill(line, width, break_on_hyphens=False) if len(line) > width else line
        for line in text.split("\n")
    )


def emit_mapping(
    pairs: dict[str, Any], title: str | None = None, units: dict[str, str] | None = None
) -> None:
    """``key: value`` lines (used by ``stats``); ``units`` follow their keys' values
    (the JSON keys and values stay as they are)."""
    units = units or {}
    lines = [title] if title else []
    lines += [
        f"  {key}: {value}" + (f" {units[key]}" if key in units else "")
        for key, value in pairs.items()
    ]
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
    sys.stderr.write(for_stream(printable(message, lines=True), sys.stderr) + "\n")


def warning(message: str) -> None:
    """``aimem: warning: ...`` on stderr, also with -q (something needs a look)."""
    sys.stderr.write(
        for_stream("aimem: warning: " + printable(message, lines=True), sys.stderr) + "\n"
    )


def password_not_stored(url: str) -> None:
    """Warn that the password ``url`` carries was used now but is not kept."""
    from aimem.store.url import has_password

    if has_password(url):
        warning(
            "the password in the URL is not stored; later commands read it from "
            "PGPASSWORD, ~/.pgpass or a service file"
        )


def deprecated(old: str, new: str) -> None:
    """A warning on stderr that ``old`` still works and ``new`` is its spelling now."""
    warning(f"{old} is deprecated; use {new}")
