"""Hot rows in the export row format, a chunk at a time (all of export's SQL).

The export row of one ``fix_history`` row is, by definition, what the per-row
path writes: ``orjson.dumps`` of ``row_to_dict(row)`` (keys in
``EXPORT_COLUMNS`` order; ``fix_commands``/``system_info`` parsed from their
stored JSON text, the text itself when it is not JSON, ``[]``/``{}`` for NULL;
flags as ``true``/``false``), with the REAL columns in Python's repr, as
exports have always written them. ``iter_export_chunks`` writes exactly those
bytes (``tests/test_export_rows.py`` checks it with Hypothesis on arbitrary
stored values, legacy junk included), faster:

- SQLite builds the JSON of the plain columns (``json_object``, C code, which
  escapes text exactly as orjson does): Python fetches 11 values per row
  instead of 20, and fetching values is what costs;
- the stored JSON text is put in orjson's form once per distinct text (a
  bounded memo: these columns repeat a lot) instead of being parsed by SQLite
  for every row (``json()``), and a NULL or non-JSON text needs no pre-scan of
  the whole table any more (the old path ran ``json_valid`` over every row
  first and fell back to a dict per row for all rows if one was odd);
- one write per chunk.

CSV rows are built the same way, column-wise (``csv.writer.writerows``).
Memory stays flat: one chunk and the bounded memos at a time.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson

from aimem.jsontext import loads_or_text
from aimem.records import EXPORT_COLUMNS

CHUNK = 1024
# Distinct values remembered per memo (cleared when full: memory stays flat).
MEMO_LIMIT = 1 << 14

_COLUMNS = ", ".join(EXPORT_COLUMNS)
_JSON_FALLBACK: dict[str, Any] = {"fix_commands": [], "system_info": {}}
_BOOL_NAMES = ("fix_success", "verification_success")
# REAL columns are written as Python's repr by exports (orjson would write
# 4e-05 as 0.00004). Nested JSON keeps orjson's form.
REAL_COLUMNS = ("execution_time_seconds", "cost_usd")


class _JsonMemo(dict[Any, Any]):
    """Stored JSON text -> ``make(loads_or_text(text))``, computed once per text."""

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
        if len(self) >= MEMO_LIMIT:  # callers look up floats only: 1 vs 1.0 cannot mix
            self.clear()
            self[None] = None
        self[value] = made
        return made


class _Numbers(dict[Any, str]):
    """A REAL column's value -> its JSON text: repr for a finite float, else orjson's."""

    def __init__(self) -> None:
        super().__init__({None: "null"})

    def __missing__(self, value: Any) -> str:
        if type(value) is not float:  # REAL affinity: never an int, so no 1 vs 1.0 mix
            return orjson.dumps(value).decode()  # legacy text; bytes raise as they would
        made = repr(value) if math.isfinite(value) else "null"
        if len(self) >= MEMO_LIMIT:
            self.clear()
            self[None] = "null"
        self[value] = made
        return made


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def csv_cell(value: Any) -> Any:
    """A CSV cell of an export row's value: JSON values as JSON text, booleans
    true/false, None empty."""
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


def export_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """The export row of one ``fix_history`` tuple (``EXPORT_COLUMNS``), REALs as repr."""
    from aimem.store.sqlite_store import row_to_dict

    record = row_to_dict(row)
    reals = Reals()
    for column in REAL_COLUMNS:
        if type(record[column]) is float:
            record[column] = reals[record[column]]
    return record


# The export row as JSON built by SQLite for the plain columns (C code; Python
# fetches 11 values per row instead of 20, and fetching values is what costs).
# json_object escapes text exactly as orjson does (tests/test_export_rows.py).
# Spliced in by Python: the stored JSON text (memoized, in orjson's form), the
# flags, and the REAL columns (Python's repr; SQLite would print 15 digits).
_HEAD = (
    "json_object('id', id, 'timestamp', timestamp, 'model_name', model_name, "
    "'issue_type', issue_type, 'issue_signature', issue_signature, "
    "'description', description, 'fixer_type', fixer_type, "
    "'claude_analysis', claude_analysis)"
)
_MIDDLE = (
    "json_object('notes', notes, 'uid', uid, 'fingerprint', fingerprint, "
    "'tokens_in', tokens_in, 'tokens_out', tokens_out)"
)
_LAST = "json_object('fixer_model', fixer_model)"
# INTEGER columns holding a REAL (legacy junk): SQLite would print it its own
# way; such a row is built from its values instead.
_ODD = "(typeof(tokens_in) = 'real' OR typeof(tokens_out) = 'real')"
_LINES = (
    f"SELECT {_HEAD}, fix_commands, fix_success, verification_success, "
    f"execution_time_seconds, system_info, {_MIDDLE}, cost_usd, {_LAST}, {_ODD}, id "
    "FROM fix_history"
)


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
    sep = separator.decode()
    commands = _JsonMemo([], _json_text)
    infos = _JsonMemo({}, _json_text)
    flags = _Bools("true", "false")
    numbers = _Numbers()
    sql = _LINES
    params: tuple[Any, ...] = ()
    if since is not None:
        sql, params = sql + " WHERE timestamp >= ?", (since,)
    cursor = conn.execute(sql + " ORDER BY id", params)
    while rows := cursor.fetchmany(chunk or CHUNK):
        lines = []
        for head, fc, fs, vs, secs, si, middle, cost, last, odd, rid in rows:
            if odd:
                row = conn.execute(f"SELECT {_COLUMNS} FROM fix_history WHERE id = ?", (rid,))
                lines.append(orjson.dumps(export_row(row.fetchone())).decode())
                continue
            lines.append(
                f'{head[:-1]},"fix_commands":{commands[fc]},"fix_success":{flags[fs]},'
                f'"verification_success":{flags[vs]},"execution_time_seconds":{numbers[secs]},'
                f'"system_info":{infos[si]},{middle[1:-1]},"cost_usd":{numbers[cost]},{last[1:]}'
            )
        lines.append("")
        yield sep.join(lines).encode(), len(rows)


def iter_csv_rows(
    conn: sqlite3.Connection, since: str | None = None, chunk: int | None = None
) -> Iterator[list[tuple[Any, ...]]]:
    """Hot rows as CSV cells (``csv_cell`` of the export row), a chunk at a time."""
    maps: list[tuple[int, Any]] = [
        (EXPORT_COLUMNS.index(name), _JsonMemo(fallback, csv_cell))
        for name, fallback in _JSON_FALLBACK.items()
    ]
    maps += [(EXPORT_COLUMNS.index(name), _Bools("true", "false")) for name in _BOOL_NAMES]
    for rows in _select(conn, since, chunk):
        columns: list[Any] = list(zip(*rows, strict=True))
        for index, memo in maps:
            columns[index] = list(map(memo.__getitem__, columns[index]))
        yield list(zip(*columns, strict=True))
