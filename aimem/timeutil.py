"""Timestamps: ISO 8601 in UTC, stored as ``YYYY-MM-DD HH:MM:SS.ffffffZ``.

The space separator (allowed by RFC 3339) makes stored values compare correctly
as strings against SQLite's own ``datetime('now', '-30 days')``, which saved SQL
written for the seed schema relies on; ``DATE(timestamp)`` and ``datetime(timestamp)`` read it too.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

STORAGE_FORMAT = "%Y-%m-%d %H:%M:%S.%fZ"
# A stored timestamp (whatever its fraction): what output_timestamp converts.
_STORAGE_PREFIX_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:")
_STORAGE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}Z$")


def output_timestamp(value: object) -> object:
    """A stored timestamp as machine output writes it: ISO 8601 with ``T``
    (``2026-12-06T03:56:51.181256Z``); any other value as it is.

    The one conversion of every JSON, NDJSON and CSV output (export too); the
    database keeps the stored form. ``aimem.store.json_lines.OUTPUT_TIMESTAMP_SQL``
    is the same rule in SQL, for the lines SQLite builds.
    """
    if type(value) is str and _stored_moment(value):
        return value[:10] + "T" + value[11:]
    return value


def _stored_moment(text: str) -> bool:
    # cheap tests first: this runs on every string of a JSON output
    return (
        len(text) > 16
        and text[10] == " "
        and text[-1] == "Z"
        and text[13] == ":"
        and _STORAGE_PREFIX_RE.match(text) is not None
    )


def output_timestamps(value: Any) -> Any:
    """``value`` with every stored timestamp in it, nested too, as ``output_timestamp``."""
    kind = type(value)
    if kind is str:
        return value[:10] + "T" + value[11:] if _stored_moment(value) else value
    if kind is dict:
        return {key: output_timestamps(item) for key, item in value.items()}
    if kind is list:
        return [output_timestamps(item) for item in value]
    return value


# A JSON string that is exactly a stored timestamp (its opening quote; the
# match ends with the closing one).
_JSON_STORED_MOMENT = re.compile(rb'"(\d{4}-\d\d-\d\d) (\d\d:[0-9:.]*Z")')


def _json_moment(match: re.Match[bytes]) -> bytes:
    # An opening quote is never preceded by a backslash; an escaped quote
    # inside a string always is: that is text, left as it is. (A lookbehind in
    # the pattern costs four times the scan.)
    at = match.start()
    if at and match.string[at - 1] == 0x5C:
        return match.group()
    return b'"' + match.group(1) + b"T" + match.group(2)


def output_timestamps_json(data: bytes) -> bytes:
    """JSON text with every string that is a stored timestamp as ``output_timestamp``
    writes it: ``output_timestamps`` on the encoded document, at C speed."""
    return _JSON_STORED_MOMENT.sub(_json_moment, data)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def format_utc(moment: datetime) -> str:
    """Format an aware (or UTC-naive) datetime in the storage form."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime(STORAGE_FORMAT)


def now_iso() -> str:
    """Return the current UTC time in the storage form."""
    return format_utc(utcnow())


def is_storage_form(text: str) -> bool:
    """Tell whether a string is already in the storage form."""
    return _STORAGE_RE.fullmatch(text) is not None


def parse_timestamp(text: str, *, naive_is_local: bool = False) -> datetime:
    """Parse an ISO 8601 timestamp into an aware UTC datetime.

    Naive values are UTC unless ``naive_is_local`` (the seed system wrote
    ``datetime.now().isoformat()``, the machine's local time). Raises ValueError.
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    parsed = datetime.fromisoformat(cleaned)
    try:
        if parsed.tzinfo is None:
            parsed = parsed.astimezone() if naive_is_local else parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # an offset that crosses year 1 or 9999
        raise ValueError(f"{text!r} is out of range") from None


def normalize_timestamp(text: str, *, naive_is_local: bool = False) -> str:
    """Return ``text`` in the storage form (ValueError when it is not a timestamp)."""
    if is_storage_form(text):
        return text
    return format_utc(parse_timestamp(text, naive_is_local=naive_is_local))


def days_ago_iso(days: float) -> str:
    """Return the storage form of the moment ``days`` days before now."""
    return format_utc(utcnow() - timedelta(days=days))


# The moments a command-line date may name: window arithmetic (up to 100 years
# back) stays inside the years datetime can hold, and SQLite's date functions
# agree with the stored text.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9999, 1, 1, tzinfo=timezone.utc)
MAX_DAYS = 36500


def bounded_moment(text: str) -> datetime:
    """An ISO 8601 moment from 1970-01-01 to 9999-01-01 (naive = UTC); ValueError otherwise."""
    moment = parse_timestamp(text)
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"{text!r} is outside 1970-01-01 .. 9999-01-01")
    return moment


# ``--since``'s durations: N of these units back from now.
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
SINCE_HINT = "give a duration (7d, 12h, 30m, 2w) or a date (2026-01-15, 2026-01-15T08:00:00Z)"


def duration_seconds(text: str) -> float | None:
    """The seconds a ``--since`` duration (``7d``, ``12h``) names; None for anything else."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([wdhms])", text.strip())
    return None if match is None else float(match.group(1)) * _UNITS[match.group(2)]


def since_timestamp(text: str) -> str:
    """``--since``: a duration back from now (``7d``, ``12h``, ``30m``, ``45s``, ``2w``;
    at most 36500 days) or a date or timestamp (naive = UTC), in the storage
    form; ValueError with the reason otherwise."""
    cleaned = text.strip()
    seconds = duration_seconds(cleaned)
    if seconds is not None:
        if seconds > MAX_DAYS * 86400:
            raise ValueError(f"{text!r} is more than {MAX_DAYS} days back")
        return format_utc(utcnow() - timedelta(seconds=seconds))
    try:
        return format_utc(bounded_moment(cleaned))
    except ValueError as error:
        if "outside" in str(error):
            raise
        raise ValueError(f"{text!r} is neither a duration nor a date") from None


def since_days(text: str) -> float:
    """``--since`` as a number of days back from now (a date: the days since it);
    ValueError as ``since_timestamp``, or when the date is in the future."""
    cutoff = parse_timestamp(since_timestamp(text))
    seconds = duration_seconds(text)
    if seconds is None:
        seconds = (utcnow() - cutoff).total_seconds()
        if seconds < 0:
            raise ValueError(f"{text!r} is in the future")
    return seconds / 86400
