"""Reading other databases for import: a seed-schema ``ai_memory.db`` or an aimem one.

The source is opened read-only (``mode=ro``) and never migrated or modified.
Rows come out in the export row format. A seed-schema row has no uid; it gets
the same content-derived uid that migration m004 gives it in place
(``content_uid(design_row_payload(row), occurrence)``), so importing an old
database and migrating it in place agree and merge without duplicates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aimem import input_limits
from aimem.errors import InvalidInputError
from aimem.input_limits import exceeds_depth
from aimem.jsontext import FLAG_COLUMNS, loads_or_text
from aimem.learn.signatures import content_uid
from aimem.records import DESIGN_COLUMNS, EXPORT_COLUMNS, design_row_payload

CHUNK = 2000


def _open(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        conn.execute("PRAGMA query_only = 1")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as error:
        raise InvalidInputError("", f"not a readable SQLite database: {error}", str(path)) from None
    if "fix_history" not in tables:
        conn.close()
        raise InvalidInputError("", "has no fix_history table (not an aimem database)", str(path))
    return conn


_FLAG_TEXT = {"true": True, "false": False}


def _flag(value: Any) -> bool | None:
    """A seed-schema flag by its meaning (``fix_success = 1``): 0/1, or the
    text true/false in any case; None for anything else."""
    if type(value) is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _FLAG_TEXT.get(value.strip().lower())
    return None


def _row_error(path: Path, position: int, row_id: Any, problem: str) -> InvalidInputError:
    # The position counts rows in id order from 1; the id names the row when it can.
    name = f"id {row_id}" if type(row_id) is int else f"number {position} (id {row_id!r})"
    return InvalidInputError("", f"fix_history row {name}: {problem}", str(path))


def iter_database_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row id, export row) for every row of ``fix_history`` in ``path``, in id order.

    Rows without a uid (the seed schema) get m004's content-derived uid.
    Every error, including SQLite's own while reading, names ``path``.
    """
    try:
        yield from _iter_rows(path)
    except sqlite3.Error as error:
        raise InvalidInputError("", f"cannot read fix_history: {error}", str(path)) from None


def _iter_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    conn = _open(path)
    try:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(fix_history)")}
        missing = [c for c in DESIGN_COLUMNS if c not in columns]
        if missing:
            raise InvalidInputError(
                missing[0],
                "column is missing from fix_history (not the seed schema)",
                str(path),
            )
        wanted = [c for c in EXPORT_COLUMNS if c in columns]
        has_uid = "uid" in columns
        # One read transaction: a consistent view even while the source is written.
        conn.execute("BEGIN")
        cursor = conn.execute(f"SELECT {', '.join(wanted)} FROM fix_history ORDER BY id")
        cursor.row_factory = sqlite3.Row
        seen: dict[bytes, int] = {}
        position = 0
        while True:
            batch = cursor.fetchmany(CHUNK)
            if not batch:
                break
            for row in batch:
                position += 1
                row_id = row["id"]
                if type(row_id) is not int:
                    raise _row_error(path, position, row_id, "id must be a whole number")
                flags = {}
                for flag in FLAG_COLUMNS:
                    flags[flag] = _flag(row[flag])
                    if flags[flag] is None:
                        raise _row_error(
                            path,
                            position,
                            row_id,
                            f"{flag} must be 0, 1, true or false, not {row[flag]!r}",
                        )
                record: dict[str, Any]
                if has_uid and row["uid"]:
                    record = {c: row[c] for c in wanted}
                    record["fix_commands"] = loads_or_text(record["fix_commands"], [])
                    record["system_info"] = loads_or_text(record["system_info"], {})
                else:
                    # The uid comes from the payload exactly as m004 derives it in
                    # place, so both routes give one row the same uid.
                    payload = design_row_payload(row)
                    base = content_uid(payload)
                    key = bytes.fromhex(base)
                    seen[key] = seen.get(key, 0) + 1
                    record = dict(payload)
                    record["uid"] = content_uid(payload, seen[key])
                    for extra in ("fingerprint", "tokens_in", "tokens_out", "cost_usd"):
                        if extra in wanted:
                            record[extra] = row[extra]
                    if "fixer_model" in wanted:
                        record["fixer_model"] = row["fixer_model"]
                record.update(flags)
                if exceeds_depth(record["system_info"]) or exceeds_depth(record["fix_commands"]):
                    raise _row_error(
                        path,
                        position,
                        row_id,
                        f"a JSON column is nested deeper than {input_limits.MAX_DEPTH} levels",
                    )
                record["id"] = row_id
                yield row_id, record
        conn.execute("COMMIT")
    finally:
        conn.close()
