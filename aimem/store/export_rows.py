"""Hot rows in the export row format, built a chunk at a time (all of export's SQL).

The export row of one ``fix_history`` row is, by definition, what
``orjson.dumps(row_to_dict(row))`` gives (keys in ``EXPORT_COLUMNS`` order;
``fix_commands``/``system_info`` parsed from their stored JSON text, the text
itself when it is not JSON; booleans ``true``/``false``; REAL as the shortest
round-trip digits). ``iter_export_chunks`` produces exactly those bytes, but
without a dict or an ``orjson.dumps`` call per row (measured: both cost more
than reading the row):

- rows are fetched ``CHUNK`` at a time and transposed into columns (C code);
- the stored JSON text of ``fix_commands``/``system_info`` is turned into its
  export form once per distinct text (``orjson.Fragment`` of
  ``dumps(loads_or_text(...))``, memoized in a bounded dict: these columns
  repeat a lot) and embedded as is;
- one flat list per chunk (key fragment, value, key fragment, value, ...) goes
  through ONE ``orjson.dumps``; the key fragments end in a raw newline, which
  orjson never writes itself (it escapes control characters in strings, and
  every fragment here is orjson output or a constant), so the commas orjson
  puts after them are found exactly and removed with ``bytes.replace``.

``tests/test_export_rows.py`` checks byte equality with the per-row definition
on arbitrary stored values (Hypothesis). Memory stays flat: one chunk and a
bounded memo at a time.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from aimem.jsontext import loads_or_text
from aimem.records import EXPORT_COLUMNS

CHUNK = 4096
# Distinct JSON texts remembered per column (cleared when full: memory stays flat).
MEMO_LIMIT = 1 << 15

_COLUMNS = ", ".join(EXPORT_COLUMNS)
_JSON_FALLBACK: dict[str, Any] = {"fix_commands": [], "system_info": {}}
_BOOL_NAMES = ("fix_success", "verification_success")
# REAL columns are written as Python's repr by exports (what they have always
# written; orjson would write 4e-05 as 0.00004). Nested JSON keeps orjson's form.
REAL_COLUMNS = ("execution_time_seconds", "cost_usd")
_TRUE = orjson.Fragment(b"true")
_FALSE = orjson.Fragment(b"false")
# The marker: a raw newline never occurs in orjson's output outside these fragments.
_END = orjson.Fragment(b"\n}\n")
_TAIL = orjson.Fragment(b"")


class _JsonMemo(dict[Any, Any]):
    """Stored JSON text -> its export form (``make(value)``), computed once per text."""

    def __init__(self, fallback: Any, make: Any) -> None:
        super().__init__()
        self.fallback = fallback
        self.make = make

    def __missing__(self, text: Any) -> Any:
        made = self.make(loads_or_text(text, self.fallback))
        if type(text) is str:  # 1 == 1.0 == True: only text is a safe key
            if len(self) >= MEMO_LIMIT:
                self.clear()
            self[text] = made
        return made


class _Bools(dict[Any, Any]):
    """A stored flag -> its export form (``bool(value)``, as ``row_to_dict`` does)."""

    def __init__(self, true: Any, false: Any) -> None:
        super().__init__({1: true, 0: false})
        self.true = true
        self.false = false

    def __missing__(self, value: Any) -> Any:
        return self.true if value else self.false


class Reals(dict[Any, Any]):
    """A REAL column's value -> its export form: a finite float as ``repr``, else itself."""

    def __init__(self) -> None:
        super().__init__({None: None})

    def __missing__(self, value: Any) -> Any:
        if type(value) is not float or not math.isfinite(value):
            return value  # NULL, legacy text; orjson writes inf and nan as null
        made = orjson.Fragment(repr(value).encode())
        if len(self) >= MEMO_LIMIT:  # REAL affinity: never an int, so 1 vs 1.0 cannot mix
            self.clear()
            self[None] = None
        self[value] = made
        return made


def _fragment(value: Any) -> orjson.Fragment:
    return orjson.Fragment(orjson.dumps(value))


def _csv_text(value: Any) -> Any:
    # as transfer._csv_cell: JSON values as JSON text, booleans true/false, None empty
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return value


def _select(
    conn: sqlite3.Connection, since: str | None, chunk: int | None
) -> Iterator[list[tuple[Any, ...]]]:
    sql = f"SELECT {_COLUMNS} FROM fix_history"
    params: tuple[Any, ...] = ()
    if since is not None:
        sql += " WHERE timestamp >= ?"
        params = (since,)
    cursor = conn.execute(sql + " ORDER BY id", params)
    while rows := cursor.fetchmany(chunk or CHUNK):
        yield rows


class LineBuilder:
    """JSON objects of ``fields`` for many rows at once, with one ``orjson.dumps``.

    ``build(rows)`` gives, for each row (a tuple whose first columns are
    ``fields`` in order; extra trailing columns are ignored), exactly
    ``orjson.dumps({field: value})`` followed by ``separator``, where JSON text
    columns (``fix_commands``, ``system_info``) are parsed as ``loads_or_text``
    does and flags become booleans; with ``real_repr`` the REAL columns are
    written as Python's repr. Memos persist across calls (bounded).
    """

    def __init__(
        self, fields: tuple[str, ...], *, real_repr: bool = False, separator: bytes = b"\n"
    ) -> None:
        self.width = len(fields)
        self.slots = 2 * self.width + 1  # key, value per field, then the row end
        self.keys = [
            orjson.Fragment((b"{" if i == 0 else b"") + orjson.dumps(name) + b":\n")
            for i, name in enumerate(fields)
        ]
        self.end = b"}" + separator
        self.maps: list[tuple[int, Any]] = []
        for index, name in enumerate(fields):
            if name in _JSON_FALLBACK:
                self.maps.append((index, _JsonMemo(_JSON_FALLBACK[name], _fragment)))
            elif name in _BOOL_NAMES:
                self.maps.append((index, _Bools(_TRUE, _FALSE)))
            elif real_repr and name in REAL_COLUMNS:
                self.maps.append((index, Reals()))

    def build(self, rows: Sequence[Sequence[Any]]) -> bytes:
        count = len(rows)
        if not count:
            return b""
        columns: list[Any] = list(zip(*rows, strict=True))
        for index, memo in self.maps:
            columns[index] = list(map(memo.__getitem__, columns[index]))
        slots = self.slots
        flat: list[Any] = [None] * (slots * count)
        for index in range(self.width):
            flat[2 * index :: slots] = [self.keys[index]] * count
            flat[2 * index + 1 :: slots] = columns[index]
        flat[slots - 1 :: slots] = [_END] * count
        flat.append(_TAIL)  # so every row, the last too, ends in ",\n}\n,"
        body = orjson.dumps(flat)[1:-1]
        return body.replace(b":\n,", b":").replace(b",\n}\n,", self.end)


def iter_export_chunks(
    conn: sqlite3.Connection,
    since: str | None = None,
    chunk: int | None = None,
    separator: bytes = b"\n",
) -> Iterator[tuple[bytes, int]]:
    """(bytes, rows) per chunk of hot rows in id order, from ``since`` on.

    Each row is its export row followed by ``separator`` (a newline: NDJSON;
    ``b",\\n"``: the inside of a JSON array). The caller holds a read
    transaction when the chunks must form one snapshot.
    """
    builder = LineBuilder(EXPORT_COLUMNS, real_repr=True, separator=separator)
    for rows in _select(conn, since, chunk):
        yield builder.build(rows), len(rows)


def iter_csv_rows(
    conn: sqlite3.Connection, since: str | None = None, chunk: int | None = None
) -> Iterator[list[tuple[Any, ...]]]:
    """Hot rows as CSV cells (``transfer._csv_cell`` of the export row), a chunk at a time."""
    maps: list[tuple[int, Any]] = [
        (EXPORT_COLUMNS.index(name), _JsonMemo(fallback, _csv_text))
        for name, fallback in _JSON_FALLBACK.items()
    ]
    maps += [(EXPORT_COLUMNS.index(name), _Bools("true", "false")) for name in _BOOL_NAMES]
    for rows in _select(conn, since, chunk):
        columns: list[Any] = list(zip(*rows, strict=True))
        for index, memo in maps:
            columns[index] = list(map(memo.__getitem__, columns[index]))
        yield list(zip(*columns, strict=True))
