"""aimem's CSV: one way of writing a cell for every command, and its reverse for import.

Invariants (the contract is written up in docs/output.md):
- RFC 4180 framing: comma-separated, double quotes, rows end in CRLF. A cell
  holding a comma, a quote, CR or LF is quoted, so a bare CR inside a value
  cannot end a row (csv quotes the characters of its line terminator, and only
  those: a "\\n" terminator would leave a lone CR unquoted).
- Cells: None is empty, booleans ``true``/``false``, lists and objects JSON
  text, numbers as Python writes them.
- No cell can run as a spreadsheet formula: one that starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a CR gets a leading ``'`` (OWASP's rule for CSV
  injection; a negative number is guarded too). A text that itself starts with
  ``'`` gets one as well, so the rule can be reversed exactly: ``read_cell``
  removes one leading ``'``.
"""

from __future__ import annotations

import csv
from typing import IO, Any

import orjson

# What a spreadsheet reads as the start of a formula, and the quote that marks
# a neutralised cell (so that a text starting with it survives the round trip).
GUARDED_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
GUARD = "'"


def text_cell(text: str) -> str:
    """``text`` as a cell: guarded when it starts like a formula (or with the guard)."""
    return GUARD + text if text.startswith(GUARDED_STARTS) else text


def cell(value: Any) -> Any:
    """The CSV cell of a JSON-ready value (see the module's invariants)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return text_cell(value)
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    if isinstance(value, (int, float)):
        # a negative number is guarded too: the rule holds for every cell, and
        # import reads "'-1.5" back as -1.5
        return text_cell(str(value))
    return value


def read_cell(text: str) -> str:
    """The text a cell written by ``cell`` stood for: one leading guard removed."""
    return text[1:] if text.startswith(GUARD) else text


def writer(stream: IO[str]) -> Any:
    """A csv writer in aimem's dialect (the stream must be opened with ``newline=''``)."""
    return csv.writer(stream, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
