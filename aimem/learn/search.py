"""Turning what a person types into a safe FTS5 query."""

from __future__ import annotations

import re
from typing import Any

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


# Tokens as FTS5's unicode61 tokenizer cuts them (letters and digits; the rest
# separates), so archived rows match by nearly the same rules as the index.
_FTS_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
SNIPPET_CONTEXT = 40


def fts_tokens(text: str) -> list[str]:
    return [token.lower() for token in _FTS_TOKEN.findall(text)]


class ArchiveMatcher:
    """Matches archived rows (which have no full-text index) against a search text.

    Every word must occur (its tokens consecutively, as FTS5 phrases do); the
    last word also matches as a prefix. The score counts occurrences.
    """

    def __init__(self, text: str) -> None:
        words = [w for w in _TOKEN.findall(text) if w.strip("._:/-")][:32]
        self.phrases = [tokens for tokens in (fts_tokens(w) for w in words) if tokens]
        if not self.phrases:
            raise InvalidInputError("text", "has no words to search for")

    def _count(self, tokens: list[str], phrase: list[str], prefix: bool) -> int:
        found = 0
        size = len(phrase)
        for start in range(len(tokens) - size + 1):
            window = tokens[start : start + size]
            if window[:-1] == phrase[:-1] and (
                window[-1].startswith(phrase[-1]) if prefix else window[-1] == phrase[-1]
            ):
                found += 1
        return found

    def match(self, row: dict[str, Any]) -> tuple[int, str] | None:
        """(score, snippet) when the row matches, else None."""
        columns = [
            row.get("description") or "",
            row.get("claude_analysis") or "",
            " ".join(row.get("fix_commands") or []),
            row.get("notes") or "",
        ]
        text = "\n".join(columns)
        tokens = fts_tokens(text)
        score = 0
        for index, phrase in enumerate(self.phrases):
            count = self._count(tokens, phrase, prefix=index == len(self.phrases) - 1)
            if not count:
                return None
            score += count
        return score, self._snippet(text)

    def _snippet(self, text: str) -> str:
        first = self.phrases[0][0]
        lowered = text.lower()
        at = lowered.find(first)
        if at < 0:
            return " ".join(text.split())[: 2 * SNIPPET_CONTEXT]
        end = at + len(first)
        while end < len(text) and text[end].isalnum():
            end += 1
        before = " ".join(text[max(0, at - SNIPPET_CONTEXT) : at].split())
        after = " ".join(text[end : end + SNIPPET_CONTEXT].split())
        return (
            ("…" if at > SNIPPET_CONTEXT else "")
            + (before + " " if before else "")
            + f"[{text[at:end]}]"
            + (" " + after if after else "")
            + ("…" if end + SNIPPET_CONTEXT < len(text) else "")
        )
