"""Stored values that JSON and CSV cannot hold: a BLOB, or text that is not UTF-8.

aimem never stores either, but another program writing ``fix_history`` may.
Export and cleanup refuse such a row, naming its id and column (rather than an
internal error, or bytes a reader would reject), and ``check`` lists them.
Finding them costs a scan, so it runs only when a faster path has failed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

import orjson

from aimem.errors import AimemError
from aimem.jsontext import JSON_COLUMNS, loads_or_text
from aimem.records import EXPORT_COLUMNS

BLOB = "holds a BLOB (binary value)"
NOT_UTF8 = "holds text that is not valid UTF-8"
REMEDY = "correct or delete that value with sqlite3 ('aimem check' lists them all)"


class UnwritableValueError(AimemError):
    """A ``fix_history`` value that JSON and CSV cannot hold."""

    def __init__(self, row_id: Any, column: str, problem: str) -> None:
        super().__init__(
            f"fix_history row {row_id}, column {column}: {problem}; "
            "it cannot be written as JSON or CSV",
            hint=REMEDY + ", then run the command again",
        )


def find(
    conn: sqlite3.Connection,
    where: str = "1",
    params: Sequence[Any] = (),
    limit: int = 1,
    columns: Sequence[str] = EXPORT_COLUMNS,
) -> list[tuple[int, str, str]]:
    """(id, column, problem) of the first ``limit`` unwritable values among the
    rows matching ``where``, in id order, one per row."""
    found: dict[int, tuple[int, str, str]] = {}
    kinds = ", ".join(f"typeof({c})" for c in columns)
    blobs = " OR ".join(f"typeof({c}) = 'blob'" for c in columns)
    sql = f"SELECT id, {kinds} FROM fix_history WHERE ({where}) AND ({blobs}) ORDER BY id"
    blob_values: Iterator[tuple[int, str]] = (
        (row[0], column)
        for row in conn.execute(sql, params)
        for column, kind in zip(columns, row[1:], strict=True)
        if kind == "blob"
    )
    refused = (value for value in blob_values if not _json_blob(conn, *value))
    for row_id, column in islice(refused, limit):
        found.setdefault(row_id, (row_id, column, BLOB))
    if str(conn.execute("PRAGMA encoding").fetchone()[0]).upper() == "UTF-8":
        # All of a row's text as one byte string: almost always ASCII, checked in C
        joined = " || ".join(f"coalesce({c}, '')" for c in columns)
        sql = f"SELECT id, CAST({joined} AS BLOB) FROM fix_history WHERE ({where}) ORDER BY id"
        bad = (row_id for row_id, data in conn.execute(sql, params) if not _utf8(data))
        for row_id in islice(bad, limit):
            found.setdefault(row_id, (row_id, _text_column(conn, row_id, columns), NOT_UTF8))
    return [found[k] for k in sorted(found)][:limit]


def _json_blob(conn: sqlite3.Connection, row_id: int, column: str) -> bool:
    """A BLOB in a JSON column that holds JSON: exported as its value, as ever."""
    if column not in JSON_COLUMNS:
        return False
    value = conn.execute(f"SELECT {column} FROM fix_history WHERE id = ?", (row_id,)).fetchone()
    return not isinstance(loads_or_text(value[0], None), bytes)


def _utf8(data: bytes | None) -> bool:
    if data is None or data.isascii():
        return True
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _text_column(conn: sqlite3.Connection, row_id: int, columns: Sequence[str]) -> str:
    casts = ", ".join(f"CAST({c} AS BLOB)" for c in columns)
    values = conn.execute(f"SELECT {casts} FROM fix_history WHERE id = ?", (row_id,)).fetchone()
    return next((c for c, v in zip(columns, values, strict=True) if not _utf8(v)), "?")


def refuse(conn: sqlite3.Connection, row_id: Any) -> UnwritableValueError:
    """The error for row ``row_id``, known to hold an unwritable value."""
    found = find(conn, "id = ?", (row_id,))
    _, column, problem = found[0] if found else (row_id, "?", NOT_UTF8)
    return UnwritableValueError(row_id, column, problem)


def first_invalid_line(rows: Iterable[Sequence[Any]], line_at: int, id_at: int) -> Any | None:
    """The id of the first row whose line (UTF-8 bytes from SQLite) is not UTF-8.

    SQLite copies text bytes as stored, so such a line would reach the file as is.
    """
    for row in rows:
        line = row[line_at]
        if isinstance(line, bytes) and not _utf8(line):
            return row[id_at]
    return None


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
    except (sqlite3.Error, orjson.JSONEncodeError, AimemError) as error:
        # an AimemError: the store's translation of the SQLite error it was raised from
        if not (is_unwritable_failure(error) or is_unwritable_failure(error.__cause__)):
            raise
        found = find(conn, where, params)
        if not found:
            raise
        raise UnwritableValueError(*found[0]) from None
