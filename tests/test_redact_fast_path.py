"""The redaction fast path (literal pre-check) changes nothing: same output as every regex."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimem.redact import _patterns, redact_text

FRAGMENTS = (
    "sk-",
    "sk-ant-",
    "proj-",
    "AKIA",
    "ASIA",
    "ghp_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "AIza",
    "hf_",
    "eyJ",
    "://",
    "user:pw@",
    "TOKEN",
    "token",
    "Password",
    "PWD",
    "SECRET",
    "api_key",
    "Api-Key",
    "ACCESS_KEY",
    "private-key",
    "Credentials",
    "=",
    ":",
    " ",
    '"',
    "'",
    "--password ",
    "--token=",
    "Authorization: ",
    "Bearer ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "ABCDEFGHIJKLMNOP",
    "abcdefghijklmnopqrstuvwxyz0123456789",
    ".",
    "-",
    "_",
    "\n",
    "é",
    "İ",
    "ı",
    "ſ",
    "\u212a",
    "ſecret=",
    "toKen=",
    "ıd",
)


def reference(text: str) -> str:
    for pattern, replacement in _patterns():
        if pattern.search(text):
            text = pattern.sub(replacement, text)
    return text


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=14).map("".join))
def test_fast_path_equals_every_regex(text: str) -> None:
    assert redact_text(text) == reference(text)


def test_fast_path_still_redacts() -> None:
    assert "hunter2" not in redact_text("export DB_PASSWORD=hunter2")
    assert redact_text("nothing to see here") == "nothing to see here"
