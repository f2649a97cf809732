"""Secret redaction applied to every free-text field before it is stored.

CI logs leak credentials; the memory must not keep them. Redaction is on by
default and can be turned off with ``AIMemory(redact_secrets=False)`` or
``AIMEM_REDACT=0``.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
        ),
        REDACTED,
    ),
    (
        re.compile(r"(?i)\b(authorization\s*:\s*)(?:(bearer|basic|token)\s+)?\S+"),
        r"\1\2 " + REDACTED,
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
    (re.compile(r"(?i)(--(?:password|passwd|token|api-key|secret)[= ])(\S+)"), r"\1" + REDACTED),
]

_SECRET_KEY_NAME = re.compile(
    r"(?i)(token|password|passwd|secret|api[_-]?key|access[_-]?key|private[_-]?key|credential)"
)


# Lowercase literals of which every pattern above needs at least one: ASCII text
# holding none of them cannot match, so it skips the 13 regex scans (import of
# 100k records spent most of its time here; issue 5).
_TRIGGERS = (
    "-----begin", "sk-", "akia", "asia", "agpa", "aida", "aroa", "anpa",
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox",
    "aiza", "hf_", "eyj", "authorization", "://", "token", "passw", "pwd",
    "secret", "api_key", "api-key", "apikey", "access_key", "access-key",
    "accesskey", "private_key", "private-key", "privatekey", "credential",
)  # fmt: skip


def might_hold_secret(text: str) -> bool:
    """False only when ``text`` cannot match any redaction pattern (a fast pre-check)."""
    if not text.isascii():
        return True  # (?i) matching has Unicode case rules; take the full path
    lowered = text.lower()
    for trigger in _TRIGGERS:  # noqa: SIM110 (a plain loop: twice as fast as any())
        if trigger in lowered:
            return True
    return False


def redact_text(text: str) -> str:
    """Replace anything that looks like a credential in ``text`` with ``[REDACTED]``."""
    if not might_hold_secret(text):
        return text
    for pattern, replacement in _PATTERNS:
        if pattern.search(text):
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
                if isinstance(key, str) and _SECRET_KEY_NAME.search(key) and item not in (None, "")
                else redact_value(item)
            )
            for key, item in value.items()
        }
    return value
