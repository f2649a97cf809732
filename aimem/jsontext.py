"""Reading JSON stored as text in the design's columns (fix_commands, system_info, ...)."""

from __future__ import annotations

from typing import Any

import orjson


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
