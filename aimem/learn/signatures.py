"""Issue signatures, failure fingerprints, canonical JSON and record uids.

``generate_issue_signature`` is the seed system's algorithm byte for byte, so
that signatures match databases written by that system. Fingerprints are
aimem's own: the same failure worded with different numbers, ids or paths
hashes to the same value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson


def normalize_issue_type(issue_type: str) -> str:
    """The one spelling of an issue type: surrounding white space dropped, upper case.

    ``timeout``, ``Timeout`` and `` TIMEOUT `` are the same type. The seed's
    standard types (``TIMEOUT``, ``MODEL_NOT_AVAILABLE``, ...) are already in
    this form, so their signatures stay the seed's byte for byte. Every path
    that stores, matches or groups issue types goes through this function.
    """
    return issue_type.strip().upper()


def generate_issue_signature(issue_data: Mapping[str, Any]) -> str:
    """The 16-hex-character signature of an issue (type, model family, prompt, length).

    The issue type is normalized first (``normalize_issue_type``), so every
    spelling of a type gives the signature the seed gives its canonical one.
    """
    issue_type = issue_data.get("issue_type", "")
    if isinstance(issue_type, str):
        issue_type = normalize_issue_type(issue_type)
    signature_parts = [
        issue_type,
        issue_data.get("model", "").split(":")[0],
        issue_data.get("test_prompt", "")[:50],
        str(len(issue_data.get("actual_response", ""))),
    ]
    signature_text = "|".join(signature_parts)
    import hashlib  # here, not at import: loading OpenSSL is a cost read-only commands skip

    return hashlib.md5(signature_text.encode()).hexdigest()[:16]


def model_family(model_name: str) -> str:
    """The family of a model tag, as the signature sees it (``qwen2.5:7b`` -> ``qwen2.5``)."""
    return model_name.split(":")[0]


# Order matters: the broad shapes (timestamps, uuids, paths) go before bare numbers.
# The text is lower-cased first, so every pattern is written in lower case.
# Numbers glued to letters or dots (``qwen2.5``, ``llama3.1``, ``v1.2``) are names,
# not noise, and are kept; a model tag (``:7b``, ``:14b-instruct-q4``) is dropped.
@lru_cache(maxsize=1)
def _noise() -> list[tuple[re.Pattern[str], str]]:
    # Compiled on first use, not at import (start-up of read-only commands).
    num_start = r"(?<![\w.])"
    return [
        (
            re.compile(r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:?\d{2})?"),
            "<ts>",
        ),
        (re.compile(r"\d{4}-\d{2}-\d{2}"), "<date>"),
        (re.compile(r"\b\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\b"), "<time>"),
        (
            re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
            "<id>",
        ),
        (re.compile(r"https?://\S+"), "<url>"),
        (re.compile(r"\b[a-z]:\\[^\s'\"]+"), "<path>"),
        (re.compile(r"(?<![\w.-])(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?"), "<path>"),
        (re.compile(r"\b[\w.-]+(?:/[\w.@+-]+)+\.[a-z0-9]{1,8}\b"), "<path>"),
        (re.compile(num_start + r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
        (re.compile(r"\b0x[0-9a-f]+\b"), "<hex>"),
        (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b"), "<hash>"),
        (re.compile(r"\b([a-z][\w.-]*):[\w.-]*\d[\w.-]*\b"), r"\1"),
        (
            re.compile(
                num_start
                + r"\d+(\.\d+)?\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b"
            ),
            "<duration>",
        ),
        (re.compile(num_start + r"\d+(?:\.\d+)*(?!\w|\.\w)"), "<n>"),
        (re.compile(r"\s+"), " "),
        (re.compile(r"[\s.,;:!]+$"), ""),
    ]


@lru_cache(maxsize=1)
def _noise_v1() -> list[tuple[re.Pattern[str], str]]:
    # The first normalization (schema versions before migration m012), kept
    # only so that the migration can tell which stored fingerprints it may
    # recompute. Its timestamp rules never matched (the text is lower-cased
    # first): one of the bugs that migration fixes.
    return [
        (
            re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
            "<ts>",
        ),
        (re.compile(r"\d{4}-\d{2}-\d{2}"), "<date>"),
        (re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?\b"), "<time>"),
        (
            re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
            "<id>",
        ),
        (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b", re.I), "<hash>"),
        (re.compile(r"https?://\S+"), "<url>"),
        (re.compile(r"(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?"), "<path>"),
        (re.compile(r"\b([a-z][\w.-]*):[\w.-]*\d[\w.-]*\b", re.I), r"\1"),
        (
            re.compile(
                r"\b\d+(\.\d+)?\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b",
                re.I,
            ),
            "<duration>",
        ),
        (re.compile(r"\b(0x)?\d+(\.\d+)?\b"), "<n>"),
        (re.compile(r"\s+"), " "),
    ]


def normalize_text(text: str) -> str:
    """Strip the parts of a message that vary between occurrences of one failure."""
    return _normalize(text) if text else ""


@lru_cache(maxsize=2048)
def _normalize(text: str) -> str:
    # Cached: the same failure text recurs across attempts (CI reruns).
    cleaned = text.lower()
    for pattern, replacement in _noise():
        cleaned = pattern.sub(replacement, cleaned)
    return cleaned.strip()


def generate_fingerprint(
    issue_type: str, model_name: str, description: str, response: str = ""
) -> str:
    """A 16-hex fingerprint grouping rewordings of the same failure (aimem's extension)."""
    return _fingerprint_of(normalize_issue_type(issue_type), model_name, description, response)


def _fingerprint_of(issue_type: str, model_name: str, description: str, response: str = "") -> str:
    # The issue type as given: what aimem stored before issue types had one
    # spelling (migration m014 recognises those fingerprints to recompute them).
    parts = [
        issue_type,
        normalize_text(model_family(model_name)),
        normalize_text(description),
        normalize_text(response[:2000]),
    ]
    import hashlib

    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _legacy_fingerprint_v1(issue_type: str, model_name: str, description: str) -> str:
    """The fingerprint an aimem before migration m012 stored for a row recorded
    without a response (see ``_noise_v1``)."""
    import hashlib

    def clean(text: str) -> str:
        cleaned = text.lower()
        for pattern, replacement in _noise_v1():
            cleaned = pattern.sub(replacement, cleaned)
        return cleaned.strip()

    parts = [issue_type, clean(model_family(model_name)), clean(description), clean("")]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys) for hashing."""
    return orjson.dumps(value, default=_hashable_bytes, option=orjson.OPT_SORT_KEYS)


def _hashable_bytes(value: Any) -> Any:
    # A BLOB another program left in a legacy row: hashed by its hex, so the
    # row still gets its deterministic uid (aimem never stores one itself)
    if isinstance(value, (bytes, bytearray)):
        return {"blob": bytes(value).hex()}
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def new_uid() -> str:
    """A fresh random record uid (32 hex characters)."""
    return os.urandom(16).hex()


def content_uid(row: Mapping[str, Any], occurrence: int = 1) -> str:
    """A deterministic uid for a record that has none (legacy rows), from its content.

    ``occurrence`` separates byte-identical rows: the n-th copy in id order gets n.
    """
    payload = {k: v for k, v in row.items() if k not in ("id", "uid")}
    import hashlib

    digest = hashlib.sha256(canonical_json(payload))
    if occurrence > 1:
        digest.update(f"#{occurrence}".encode())
    return digest.hexdigest()[:32]


def fix_key(fix_commands: list[str]) -> str:
    """A short stable key for one list of fix commands."""
    import hashlib

    return hashlib.blake2b(canonical_json(fix_commands), digest_size=8).hexdigest()
