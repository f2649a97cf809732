"""Secret redaction applied to every free-text field before it is stored.

CI logs leak credentials; the memory must not keep them. Redaction is on by
default and can be turned off with ``AIMemory(redact_secrets=False)`` or
``AIMEM_REDACT=0``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"


def _authorization(match: re.Match[str]) -> str:
    # Keep the header name and scheme; written so that redacting twice changes nothing.
    scheme = match.group(2)
    return match.group(1) + (f"{scheme} " if scheme else "") + REDACTED


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]]:
    # Compiled on first use: commands that never record (stats, --help,
    # completion) should not pay for compiling them at start-up (bench/run.py).
    return [
        (
            re.compile(
                r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
            ),
            REDACTED,
        ),
        (
            re.compile(
                r"(?i)\b(authorization\s*:\s*)(?!(?:(?:bearer|basic|token)\s+)?\[REDACTED\])"
                r"(?:(bearer|basic|token)\s+)?\S+"
            ),
            _authorization,
        ),
        (re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"), REDACTED),
        (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"), REDACTED),
        (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b"), REDACTED),
        (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"), REDACTED),
        (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), REDACTED),
        (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
        (re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), REDACTED),
        (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), REDACTED),
        (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@"), r"\1" + REDACTED + "@"),
        (
            re.compile(
                r"(?i)(\b[A-Z0-9_.-]*(?:TOKEN|PASSWORD|PASSWD|PWD|SECRET|API[_-]?KEY|ACCESS[_-]?KEY"
                r"|PRIVATE[_-]?KEY|CREDENTIALS?)[A-Z0-9_.-]*[\"']?\s*[:=]\s*)"
                r"(\"[^\"]*\"|'[^']*'|[^\s,;&|]+)"
            ),
            r"\1" + REDACTED,
        ),
        (
            re.compile(r"(?i)(--(?:password|passwd|token|api-key|secret)[= ])(\S+)"),
            r"\1" + REDACTED,
        ),
    ]


@lru_cache(maxsize=1)
def _secret_key_name() -> re.Pattern[str]:
    return re.compile(
        r"(?i)(token|password|passwd|secret|api[_-]?key|access[_-]?key|private[_-]?key|credential)"
    )


# For each pattern above (same order), lowercase substrings one of which every
# match contains. Checking them with ``in`` first skips the regex for almost all
# text: the regexes alone would be the largest single cost of recording (~40 us
# per attempt in the TOKEN= pattern alone, bench/run.py), and a necessary condition
# cannot change what is redacted.
_REQUIRED: tuple[tuple[str, ...], ...] = (
    ("-----begin",),
    ("authorization",),
    ("sk-",),
    ("akia", "asia", "agpa", "aida", "aroa", "anpa"),
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ("glpat-",),
    ("xox",),
    ("aiza",),
    ("hf_",),
    ("eyj",),
    ("://",),
    ("token", "password", "passwd", "pwd", "secret", "key", "credential"),
    ("--password", "--passwd", "--token", "--api-key", "--secret"),
)


_ALL_REQUIRED = tuple(sorted({word for group in _REQUIRED for word in group}))


def _folded(text: str) -> str:
    # Lowercase as the IGNORECASE patterns see it: Python's re also lets the
    # dotless i and the long s match "i" and "s" (the Kelvin sign lowercases to k).
    return text.lower().replace("\u0131", "i").replace("\u017f", "s")


def _contains_any(lowered: str, words: tuple[str, ...]) -> bool:
    for word in words:  # noqa: SIM110 (a plain loop of ``in`` measured faster than any())
        if word in lowered:
            return True
    return False


def redact_text(text: str) -> str:
    """Replace anything that looks like a credential in ``text`` with ``[REDACTED]``."""
    if not _contains_any(_folded(text), _ALL_REQUIRED):
        return text  # no pattern can match: the common case
    for (pattern, replacement), required in zip(_patterns(), _REQUIRED, strict=True):
        if _contains_any(_folded(text), required) and pattern.search(text):
            text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """Redact strings inside a JSON-like value; values under secret-named keys go entirely."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, dict):
        return {
            key: (
                REDACTED
                if isinstance(key, str)
                and _secret_key_name().search(key)
                and item not in (None, "")
                else redact_value(item)
            )
            for key, item in value.items()
        }
    return value


def might_hold_secret(text: str) -> bool:
    """False only when no redaction pattern can match ``text`` (a cheap pre-check).

    Import runs it once over all of a row's text and skips per-field redaction
    when it is False.
    """
    return _contains_any(_folded(text), _ALL_REQUIRED)
