"""Hot rows in the export row format, a chunk at a time (all of export's SQL).

The export row of one ``fix_history`` row is, by definition, what the per-row
path writes (``aimem.ops.transfer.write_records`` over ``Store.iter_rows``, which
``export --include-archive`` takes): ``orjson.dumps`` of ``row_to_dict(row)`` (keys in
``EXPORT_COLUMNS`` order; ``fix_commands``/``system_info`` parsed from their
stored JSON text, the text itself when it is not JSON, ``[]``/``{}`` for NULL;
flags as ``true``/``false``), with the REAL columns in Python's repr, as
exports have always written them (``aimem.records.export_form``).
``iter_export_chunks`` writes exactly those bytes (``tests/test_export_rows.py``
checks it with Hypothesis on arbitrary stored values, legacy junk included),
faster (1.9x for a whole ``aimem export`` of 100k records; docs/performance.md,
"Speed paths"):

- SQLite builds each whole line (``aimem.store.json_lines``): Python fetches
  its UTF-8 bytes per row, plus the two stored JSON texts, which are checked once
  per distinct text (a bounded memo: these columns repeat a lot);
- a row SQLite cannot build exactly is built from its values, as the per-row
  path does;
- one write per chunk.

CSV rows are built from the values, column-wise (``csv.writer.writerows``):
2.1x the per-row path at 100k records. Memory stays flat: one chunk and the bounded memos at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from functools import partial
from itertools import repeat
from operator import is_not, itemgetter
from typing import Any

import orjson

from aimem.jsontext import FLAG_COLUMNS, JSON_COLUMNS, loads_or_text
from aimem.ops.csvformat import GUARDED_STARTS, text_cell
from aimem.ops.csvformat import cell as csv_cell
from aimem.records import EXPORT_COLUMNS, export_form
from aimem.store import json_lines, unwritable
from aimem.store.sqlparams import in_chunks

CHUNK = 1024

_COLUMNS = ", ".join(EXPORT_COLUMNS)
# The CSV's columns: timestamps as output writes them, converted by SQLite
# (json_lines.OUTPUT_TIMESTAMP_SQL, the SQL twin of timeutil.output_timestamp).
_OUTPUT_COLUMNS = ", ".join(
    json_lines.OUTPUT_TIMESTAMP_SQL.format(c=c) if c == "timestamp" else c for c in EXPORT_COLUMNS
)
# Page cache of an export's scan: each page is read once, so a large cache only
# costs fresh memory for every page (1M rows: peak RSS 98 -> 28 MB, no slower).
SCAN_CACHE_KIB = 2048


class _Bools(dict[Any, Any]):
    """A stored flag -> its export form (``bool(value)``, as ``row_to_dict`` does)."""

    def __init__(self, true: Any, false: Any) -> None:
        super().__init__({1: true, 0: false})
        self.true = true
        self.false = false

    def __missing__(self, value: Any) -> Any:
        return self.true if value else self.false


def row_filter(
    since: str | None = None, id_range: tuple[int, int] | None = None
) -> tuple[str, tuple[Any, ...]]:
    """SQL condition and parameters: rows from ``since`` on, ids in ``[lo, hi)``."""
    where = ["1"]
    params: tuple[Any, ...] = ()
    if id_range is not None:
        where.append("id >= ? AND id < ?")
        params = id_range
    if since is not None:
        where.append("timestamp >= ?")
        params = (*params, since)
    return " AND ".join(where), params


def _select(
    conn: sqlite3.Connection, since: str | None, chunk: int | None
) -> Iterator[list[tuple[Any, ...]]]:
    where, params = row_filter(since)
    sql = f"SELECT {_OUTPUT_COLUMNS} FROM fix_history WHERE {where} ORDER BY id"
    # closed on the way out: an error kept by a caller keeps this frame, and an
    # open statement would block a later DROP on this connection (cleanup's)
    with closing(conn.execute(sql, params)) as cursor:
        while rows := cursor.fetchmany(chunk or CHUNK):
            yield rows


def export_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """The export row of one ``fix_history`` tuple (``EXPORT_COLUMNS``), as JSON outputs write it."""
    from aimem.jsontext import export_values
    from aimem.records import EXPORT_COLUMNS

    return export_form(export_values(EXPORT_COLUMNS, row))


class ExportLines:
    """Export lines of hot rows, built by SQLite where it can (``json_lines``).

    A row SQLite cannot build exactly, or whose stored JSON text is not in
    orjson's form, is built from its values (``export_row``), a chunk's such
    rows in one query. One instance per read transaction.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        line = json_lines.row_line_sql(conn, EXPORT_COLUMNS, output_timestamps=True)
        self.select = f"SELECT {line} AS line, fix_commands, system_info, id FROM fix_history"
        self.commands = json_lines.CanonicalText("fix_commands")
        self.infos = json_lines.CanonicalText("system_info")

    def query(
        self, since: str | None = None, id_range: tuple[int, int] | None = None
    ) -> tuple[str, tuple[Any, ...]]:
        """(SQL, parameters) of the rows from ``since`` on, ids in ``[lo, hi)``, id order."""
        where, params = row_filter(since, id_range)
        return f"{self.select} WHERE {where} ORDER BY id", params

    def chunk(self, rows: list[tuple[Any, ...]], separator: bytes) -> bytes:
        """The export lines of fetched rows, each followed by ``separator``."""
        lines: list[bytes] = [row[0] for row in rows]
        odd_commands = self.commands.odd(map(itemgetter(1), rows))
        odd_infos = self.infos.odd(map(itemgetter(2), rows))
        redo = (
            [
                (at, row[3])
                for at, row in enumerate(rows)
                if row[0] is None or row[1] in odd_commands or row[2] in odd_infos
            ]
            if None in lines or odd_commands or odd_infos
            else []
        )
        if redo:
            built = self._from_values([rid for _, rid in redo])
            for at, rid in redo:
                lines[at] = built[rid]
        lines.append(b"")
        data = separator.join(lines)
        if not data.isascii():
            unwritable.check_lines(self.conn, rows, 0, 3)
        return data

    def id_range(
        self, since: str | None, start: int, width: int, separator: bytes
    ) -> tuple[bytes, int]:
        """(bytes, rows) of the rows with ids in ``[start, start + width)``."""
        with unwritable.refusing(self.conn, *row_filter(since, (start, start + width))):
            fetched = self.conn.execute(*self.query(since, (start, start + width))).fetchall()
            return self.chunk(fetched, separator), len(fetched)

    def _from_values(self, ids: list[int]) -> dict[int, bytes]:
        built: dict[int, bytes] = {}
        for chunk, marks in in_chunks(ids):
            sql = f"SELECT {_COLUMNS} FROM fix_history WHERE id IN ({marks})"
            for row in self.conn.execute(sql, chunk):
                built[row[0]] = orjson.dumps(export_row(row))
        return built


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
    lines = ExportLines(conn)
    with (
        unwritable.refusing(conn, *row_filter(since)),
        closing(conn.execute(*lines.query(since))) as cursor,
    ):
        while rows := cursor.fetchmany(chunk or CHUNK):
            yield lines.chunk(rows, separator), len(rows)


def _csv_json_cell(fallback: Any) -> Callable[[Any], Any]:
    return lambda text: csv_cell(loads_or_text(text, fallback))


def _guarded(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return text_cell(value)
    if (kind is float or kind is int) and value < 0:
        return text_cell(str(value))
    return value


_PRESENT = partial(is_not, None)


def _guarded_column(values: Any) -> Any:
    """A column's cells, guarded where needed (``aimem.ops.csvformat``).

    The usual column needs nothing: its texts start with no guarded character,
    its numbers are not negative. That is found with C-level scans (about half
    the cost of a Python call per cell, measured on 100k rows); only a column
    with a hit, or a mix of types, is mapped cell by cell.
    """
    present = list(filter(_PRESENT, values))
    try:
        if True not in map(str.startswith, present, repeat(GUARDED_STARTS)):
            return values
    except TypeError:  # not all text: numbers (or a legacy mix)
        try:
            if not present or min(present) >= 0:
                return values
        except TypeError:
            pass
    return list(map(_guarded, values))


def iter_csv_rows(
    conn: sqlite3.Connection, since: str | None = None, chunk: int | None = None
) -> Iterator[list[tuple[Any, ...]]]:
    """Hot rows as CSV cells (``aimem.ops.csvformat.cell`` of the export row), a chunk at a time."""
    maps: list[tuple[int, Any]] = [
        (EXPORT_COLUMNS.index(name), json_lines.TextMemo(_csv_json_cell(fallback)))
        for name, fallback in JSON_COLUMNS.items()
    ]
    maps += [(EXPORT_COLUMNS.index(name), _Bools("true", "false")) for name in FLAG_COLUMNS]
    # flags are written as bool(): only the other columns can be left holding bytes
    unmapped = [at for at, name in enumerate(EXPORT_COLUMNS) if name not in FLAG_COLUMNS]
    # a value that starts like a formula is guarded (aimem.ops.csvformat)
    texts = [at for at in unmapped if EXPORT_COLUMNS[at] not in JSON_COLUMNS]
    with unwritable.refusing(conn, *row_filter(since)):
        for rows in _select(conn, since, chunk):
            columns: list[Any] = list(zip(*rows, strict=True))
            for index, memo in maps:
                columns[index] = list(map(memo.__getitem__, columns[index]))
            for index in texts:
                columns[index] = _guarded_column(columns[index])
            cells = list(zip(*columns, strict=True))
            if any(bytes in set(map(type, columns[at])) for at in unmapped):
                # a BLOB that is not JSON text: csv would write its repr, b'...'
                at = next(at for at, row in enumerate(cells) if bytes in map(type, row))
                raise unwritable.refuse(conn, rows[at][0])
            yield cells
