"""Reading JSON stored as text in the seed schema's columns (fix_commands, system_info, ...)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

# The columns holding JSON as text, with what a NULL stands for; the flag columns.
JSON_COLUMNS: dict[str, Any] = {"fix_commands": [], "system_info": {}}
FLAG_COLUMNS = ("fix_success", "verification_success")


def loads_or_text(text: Any, fallback: Any) -> Any:
    """The JSON value of ``text``; ``fallback`` for None; the text itself when it is not JSON.

    Legacy rows may hold text that is not JSON; it is kept as it was, never lost.
    """
    if text is None:
        return fallback
    try:
        return orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        return text


def export_values(columns: Sequence[str], values: Iterable[Any]) -> dict[str, Any]:
    """A stored row's values in the export row format: JSON columns parsed
    (``loads_or_text``), flags as booleans, the rest as stored."""
    record = dict(zip(columns, values, strict=True))
    for column, fallback in JSON_COLUMNS.items():
        if column in record:
            record[column] = loads_or_text(record[column], fallback)
    for column in FLAG_COLUMNS:
        if column in record:
            record[column] = bool(record[column])
    return record
