"""Whole JSON lines of ``fix_history`` rows built by SQLite (all of that SQL).

Export and archive write each row as one JSON object. Fetching a row's values
into Python costs more than anything else they do, so SQLite builds the whole
line and Python fetches its UTF-8 bytes per row, plus the two stored JSON texts
(to check them, below) and the id.

The line is exactly the bytes the Python path writes (``orjson.dumps`` of the
row's dict, REAL columns as Python's ``repr``) whenever SQLite can prove it
prints every value that way; otherwise the line is NULL and the caller builds
that row in Python:

- text and integers: ``json_object`` escapes text exactly as orjson does;
- a REAL is taken when it is 0 or 1e-4 <= |x| < 1e9 and
  ``x`` equals an integer divided by 1e6 (IEEE division rounds correctly, so x
  is the double nearest a decimal of at most 6 places and 15 digits): SQLite's
  ``%!.15g`` and Python's shortest round-trip ``repr`` print the same digits,
  in fixed notation (``tests/test_export_rows.py`` holds every path equal);
- an INTEGER column's value is taken when it is an integer short of the int64
  limits (a REAL left in it goes to Python), an untyped column's REAL only when
  it is not zero (it may be -0.0), as above;
- flags are taken when they are integers or NULL (Python's ``bool`` of text
  differs from SQLite's);
- the stored JSON columns (``fix_commands``, ``system_info``) are spliced in
  as stored (NULL as ``[]``/``{}``): the caller checks each distinct text once
  (``CanonicalText``) and rebuilds the row when the text is not exactly
  orjson's form of its value (another writer's spacing or escapes, text that
  is not JSON).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from aimem.jsontext import FLAG_COLUMNS, JSON_COLUMNS, loads_or_text

# What SQLite splices in for a NULL JSON column: the text of its export value.
JSON_TEXT_DEFAULTS = {c: orjson.dumps(v).decode() for c, v in JSON_COLUMNS.items()}
# Distinct texts remembered per check (cleared when full: memory stays flat).
MEMO_LIMIT = 1 << 14


def _exact_real(column: str) -> str:
    """SQL: this number prints the same in SQLite as in Python (see the module's doc).

    Comparisons and CAST only: a function call costs SQLite more than the rest
    of the check (callgrind). Text is greater than every number, so text fails.
    """
    c = column
    return (
        f"({c} IS NULL OR ({c} < 1e9 AND {c} > -1e9 "
        f"AND ({c} = 0 OR {c} >= 0.0001 OR {c} <= -0.0001) "
        f"AND CAST({c} * 1000000.0 + (CASE WHEN {c} < 0 THEN -0.5 ELSE 0.5 END) AS INTEGER)"
        f" / 1000000.0 = {c}))"
    )


def affinity(declared: str) -> str:
    """SQLite's column affinity of a declared type (its rules, in its order)."""
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper:
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def declared_types(conn: sqlite3.Connection) -> dict[str, str]:
    """Column name -> declared type of ``fix_history`` (a legacy table may differ)."""
    return {str(r[1]): str(r[2] or "") for r in conn.execute("PRAGMA table_info(fix_history)")}


def _check(column: str, kind: str) -> str | None:
    """SQL: the value can be printed by SQLite as Python would; None: always."""
    if column == "id" or kind == "TEXT":  # text affinity stores numbers as text
        return None
    if kind == "REAL":
        return _exact_real(column)
    if kind == "INTEGER":
        # A REAL left in it (not integral, or past int64: -2**63 stays REAL and
        # CAST meets it there) or text: Python's.
        limits = f"+{column} NOT IN ({_INT64_MIN}, {_INT64_MAX})"
        return f"({_integer(column)} AND ({column} IS NULL OR {limits}))"
    # An untyped or NUMERIC column keeps a REAL -0.0, which json_object prints as 0.0.
    return f"(typeof({column}) != 'real' OR ({column} != 0 AND {_exact_real(column)}))"


_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def _integer(column: str) -> str:
    """SQL: an integer or NULL. The unary plus drops the column's affinity, so
    text '0' in a TEXT or untyped column is not taken for the number 0."""
    return f"+{column} IS +CAST({column} AS INTEGER)"


# aimem.timeutil.output_timestamp in SQL: a stored timestamp with ISO 8601's T.
OUTPUT_TIMESTAMP_SQL = (
    "(CASE WHEN typeof({c}) = 'text' AND {c} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] "
    "[0-9][0-9]:*Z' THEN substr({c}, 1, 10) || 'T' || substr({c}, 12) ELSE {c} END)"
)


def line_sql(
    columns: Sequence[str], declared: dict[str, str], output_timestamps: bool = False
) -> str:
    """SQL: the JSON object of a row with ``columns`` as keys in this order, or NULL
    when a value is one SQLite cannot be shown to print as the Python path does.

    Built by one ``printf`` (one copy of the line; ``||`` copied it once per
    piece): runs of scalar columns come from ``json_object`` with its braces
    trimmed, a lone number from CAST, the stored JSON texts as they are.
    ``output_timestamps`` writes ``timestamp`` as machine output does (with T);
    without it, as stored (archive segments).
    """
    kinds = {c: affinity(declared.get(c, "")) for c in columns}
    formats: list[str] = []
    args: list[str] = []
    checks: list[str] = []
    run: list[str] = []
    objects: list[int] = []  # args that are a json_object of a run

    def flush() -> None:
        if len(run) == 1 and kinds[run[0]] in ("REAL", "INTEGER") and run[0] != "id":
            # checked above: a number or NULL, which CAST prints as json_object would
            formats.append(f'"{run[0]}":%s')
            args.append(f"coalesce(CAST({run[0]} AS TEXT), 'null')")
        elif run:
            pairs = ", ".join(
                f"'{c}', {OUTPUT_TIMESTAMP_SQL.format(c=c)}"
                if output_timestamps and c == "timestamp"
                else f"'{c}', {c}"
                for c in run
            )
            formats.append("%s")
            args.append(f"json_object({pairs})")
            objects.append(len(args) - 1)
        run.clear()

    for column in columns:
        if column in JSON_TEXT_DEFAULTS:
            flush()
            formats.append(f'"{column}":%s')
            args.append(f"coalesce({column}, '{JSON_TEXT_DEFAULTS[column]}')")
        elif column in FLAG_COLUMNS:
            flush()
            formats.append(f'"{column}":%s')
            args.append(f"(CASE WHEN {column} THEN 'true' ELSE 'false' END)")
            # Python's bool() of text differs from SQLite's truth: integers and NULL only
            checks.append(_integer(column))
        else:
            run.append(column)
            check = _check(column, kinds[column])
            if check is not None:
                checks.append(check)
    flush()
    # Each run's braces trimmed: the line's own come from the first and last run
    # when they are one (a trim is a copy; two were measured).
    opening, closing = "{", "}"
    for at in objects:
        expr = args[at]
        if at == 0:
            opening = ""
        else:
            expr = f"ltrim({expr}, '{{')"
        if at == len(args) - 1:
            closing = ""
        else:
            expr = f"rtrim({expr}, '}}')"
        args[at] = expr
    line = f"printf('{opening}{','.join(formats)}{closing}', {', '.join(args)})"
    # As a BLOB: Python takes the UTF-8 bytes as they are, where text was
    # decoded into a str and encoded back for the file (callgrind: 5% of a row).
    return f"CAST((CASE WHEN {' AND '.join(checks) or '1'} THEN {line} END) AS BLOB)"


def utf8_database(conn: sqlite3.Connection) -> bool:
    """Whether the database keeps its text as UTF-8 (``PRAGMA encoding``): then a
    text value cast to a BLOB is its UTF-8 bytes."""
    return str(conn.execute("PRAGMA encoding").fetchone()[0]).upper() == "UTF-8"


def row_line_sql(
    conn: sqlite3.Connection, columns: Sequence[str], output_timestamps: bool = False
) -> str:
    """SQL: ``line_sql`` for the table ``conn`` holds, or NULL for every row (all
    built in Python) when the database's text is not UTF-8 (a UTF-16 database:
    its bytes are not the line's)."""
    if not utf8_database(conn):
        return "NULL"
    return line_sql(columns, declared_types(conn), output_timestamps)


class TextMemo(dict[Any, Any]):
    """Stored text -> ``compute(text)``, computed once per distinct text.

    Bounded: cleared when full (back to ``seeds``), so memory stays flat. Only
    text is remembered: 1 == 1.0 == True would mix other keys.
    """

    def __init__(self, compute: Callable[[Any], Any], seeds: dict[Any, Any] | None = None) -> None:
        self.seeds = dict(seeds or {})
        super().__init__(self.seeds)
        self.compute = compute

    def __missing__(self, text: Any) -> Any:
        made = self.compute(text)
        if type(text) is str:
            if len(self) >= MEMO_LIMIT:
                self.clear()
                self.update(self.seeds)
            self[text] = made
        return made


class CanonicalText(TextMemo):
    """Stored JSON text -> True when it is exactly orjson's form of its export value."""

    def __init__(self, column: str) -> None:
        fallback = JSON_COLUMNS[column]

        def exact(text: Any) -> bool:
            return (
                type(text) is str and orjson.dumps(loads_or_text(text, fallback)).decode() == text
            )

        # NULL: the default spliced in is its form
        super().__init__(exact, seeds={None: True})

    def odd(self, texts: Iterable[Any]) -> set[Any]:
        """The texts among ``texts`` that are not exact: each distinct one checked
        once (a set in C instead of a lookup per row in Python)."""
        return {text for text in set(texts) if not self[text]}
