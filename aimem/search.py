"""Turning what a person types into a safe FTS5 query."""

from __future__ import annotations

import re

from aimem.errors import InvalidInputError

_TOKEN = re.compile(r"[\w.:/-]+", re.UNICODE)


def to_match_query(text: str) -> str:
    """Quote every word so FTS5 syntax characters in user text cannot break the query.

    Words are ANDed; the last word also matches as a prefix (``time`` finds ``timeout``).
    """
    words = [w for w in _TOKEN.findall(text) if w.strip("._:/-")]
    if not words:
        raise InvalidInputError("text", "has no words to search for")
    quoted = ['"' + w.replace('"', '""') + '"' for w in words[:32]]
    quoted[-1] += "*"
    return " ".join(quoted)
