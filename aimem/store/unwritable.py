"""Stored values that JSON and CSV cannot hold: a BLOB, or text that is not UTF-8.

aimem never stores either, but another program writing ``fix_history`` may.
Export and cleanup refuse such a row, naming its id and column (rather than an
internal error, or bytes a reader would reject), and ``check`` lists them.

What counts is what the per-row export path cannot write (``export_values``
then ``orjson``): a BLOB in a flag column is written as ``bool()`` of it, and a
BLOB holding JSON text in a JSON column as that JSON value, so neither counts.
Finding them costs a scan of the table, so export and cleanup run it only when
a faster path has failed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from aimem.errors import AimemError, UnwritableValueError
from aimem.jsontext import FLAG_COLUMNS, JSON_COLUMNS, export_values, loads_or_text
from aimem.records import EXPORT_COLUMNS
from aimem.store.json_lines import utf8_database

BLOB = "holds a BLOB (binary value)"
NOT_UTF8 = "holds text that is not valid UTF-8"
REMEDY = "correct or delete that value with sqlite3 ('aimem check' lists such rows)"


@dataclass
class Found:
    """The first rows found (id, column, problem), in id order, one per row, and
    how many rows hold such a value (all of them only when counting was asked)."""

    first: list[tuple[int, str, str]] = field(default_factory=list)
    rows: int = 0


def find(
    conn: sqlite3.Connection,
    where: str = "1",
    params: Sequence[Any] = (),
    limit: int = 1,
    count: bool = False,
    columns: Sequence[str] = EXPORT_COLUMNS,
) -> Found:
    """The unwritable values among the rows matching ``where`` (``count``: also
    how many rows hold one; otherwise the scans stop as early as they can).
    ``columns``: those to look at (a legacy table lacks aimem's own)."""
    blobs: dict[int, str] = {}
    for row_id, column in _blob_rows(conn, where, params, columns):
        if len(blobs) >= limit and not count:
            break
        blobs[row_id] = column
    texts: list[int] = []
    if utf8_database(conn):
        if len(blobs) >= limit and not count:  # only rows before the BLOBs found matter
            where, params = f"({where}) AND id < ?", (*params, max(blobs))
        for row_id in _invalid_text_rows(conn, where, params, columns):
            if len(texts) >= limit and not count:
                break
            texts.append(row_id)
    rows: dict[int, tuple[int, str | None, str]] = {i: (i, c, BLOB) for i, c in blobs.items()}
    for row_id in texts:
        rows.setdefault(row_id, (row_id, None, NOT_UTF8))
    first = [
        (i, column or _text_column(conn, i, columns), problem)
        for i, column, problem in (rows[k] for k in sorted(rows)[:limit])
    ]
    return Found(first, len(rows))


def _blob_rows(
    conn: sqlite3.Connection, where: str, params: Sequence[Any], present: Sequence[str]
) -> Iterator[tuple[int, str]]:
    """(id, column) of each row's first BLOB that export cannot write, in id order."""
    columns = [c for c in present if c not in FLAG_COLUMNS]  # bool() of a BLOB is fine
    kinds = ", ".join(f"typeof({c})" for c in columns)
    # a JSON column's BLOB comes along: it is fine when it holds JSON text
    json_columns = [c for c in JSON_COLUMNS if c in present]
    values = "".join(f", CASE WHEN typeof({c}) = 'blob' THEN {c} END" for c in json_columns)
    any_blob = " OR ".join(f"typeof({c}) = 'blob'" for c in columns)
    sql = (
        f"SELECT id, {kinds}{values} FROM fix_history WHERE ({where}) AND ({any_blob}) ORDER BY id"
    )
    with closing(conn.execute(sql, params)) as cursor:  # closed when left early
        yield from _first_blobs(cursor, columns, json_columns)


def _first_blobs(
    rows: Iterable[Sequence[Any]], columns: Sequence[str], json_columns: Sequence[str]
) -> Iterator[tuple[int, str]]:
    for row in rows:
        stored = dict(zip(json_columns, row[1 + len(columns) :], strict=True))
        for column, kind in zip(columns, row[1 : 1 + len(columns)], strict=True):
            if kind == "blob" and not (
                column in stored and not isinstance(loads_or_text(stored[column], None), bytes)
            ):
                yield row[0], column
                break


def _invalid_text_rows(
    conn: sqlite3.Connection, where: str, params: Sequence[Any], columns: Sequence[str]
) -> Iterator[int]:
    """Ids of the rows holding text that is not UTF-8, in id order."""
    # A row's text as one byte string (almost always ASCII, checked in C); a
    # flag's BLOB is left out (bool() of it is fine); other BLOBs are _blob_rows'.
    pieces = [
        f"CASE WHEN typeof({c}) = 'text' THEN {c} ELSE '' END"
        if c in FLAG_COLUMNS
        else f"coalesce({c}, '')"
        for c in columns
    ]
    sql = (
        f"SELECT id, CAST({' || '.join(pieces)} AS BLOB) FROM fix_history "
        f"WHERE ({where}) ORDER BY id"
    )
    with closing(conn.execute(sql, params)) as cursor:  # closed when left early
        for row_id, data in cursor:
            if not _utf8(data):
                yield row_id


def _utf8(data: bytes | None) -> bool:
    if data is None or data.isascii():
        return True
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _text_column(conn: sqlite3.Connection, row_id: int, columns: Sequence[str]) -> str:
    casts = ", ".join(f"CASE WHEN typeof({c}) = 'text' THEN CAST({c} AS BLOB) END" for c in columns)
    values = conn.execute(f"SELECT {casts} FROM fix_history WHERE id = ?", (row_id,)).fetchone()
    return next((c for c, v in zip(columns, values, strict=True) if not _utf8(v)), "?")


def error(row: tuple[int, str, str]) -> UnwritableValueError:
    return UnwritableValueError(*row, remedy=REMEDY)


def refuse(conn: sqlite3.Connection, row_id: Any) -> UnwritableValueError:
    """The error for row ``row_id``, known to hold an unwritable value."""
    found = find(conn, "id = ?", (row_id,)).first
    return error(found[0] if found else (row_id, "?", NOT_UTF8))


def check_lines(
    conn: sqlite3.Connection, rows: Iterable[Sequence[Any]], line_at: int, id_at: int
) -> None:
    """Refuse the first row whose line (UTF-8 bytes from SQLite) is not UTF-8.

    SQLite copies text bytes as stored, so such a line would reach the file as is.
    """
    for row in rows:
        line = row[line_at]
        if isinstance(line, bytes) and not _utf8(line):
            raise refuse(conn, row[id_at])


def lines_from_values(
    conn: sqlite3.Connection, fields: Sequence[str], values_by_id: dict[int, tuple[Any, ...]]
) -> dict[int, bytes]:
    """The export line of each row from its values (``fields``), by id; the first
    row export cannot write is refused."""
    lines: dict[int, bytes] = {}
    for row_id in sorted(values_by_id):
        try:
            lines[row_id] = orjson.dumps(export_values(fields, values_by_id[row_id]))
        except orjson.JSONEncodeError:
            raise refuse(conn, row_id) from None
    return lines


def is_unwritable_failure(error: BaseException | None) -> bool:
    """A failure that an unwritable value causes on the fast paths."""
    if isinstance(error, orjson.JSONEncodeError):
        return True  # the per-row path met bytes
    text = str(error).lower()
    return isinstance(error, sqlite3.Error) and (
        "cannot hold blob" in text or text.startswith("could not decode to utf-8")
    )


@contextmanager
def refusing(
    conn: sqlite3.Connection, where: str = "1", params: Sequence[Any] = ()
) -> Iterator[None]:
    """Turn a fast path's failure on an unwritable value (among the rows matching
    ``where``) into ``UnwritableValueError`` naming the first one."""
    try:
        yield
    except (sqlite3.Error, orjson.JSONEncodeError, AimemError) as failure:
        if isinstance(failure, UnwritableValueError):
            raise
        # an AimemError: the store's translation of the SQLite error it was raised from
        if not (is_unwritable_failure(failure) or is_unwritable_failure(failure.__cause__)):
            raise
        found = find(conn, where, params).first
        if not found:
            raise
        raise error(found[0]) from None
