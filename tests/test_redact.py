"""No secret pattern survives into the database, the knowledge base or context."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimem import AIMemory
from aimem.redact import redact_text

SECRETS = [
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
    "sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "hunter2-password-value",
]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("export OPENAI_API_KEY=sk-proj-ABCDEFGHIJKLMNOPQRSTUV", "sk-proj-ABCDEFGHIJKLMNOPQRSTUV"),
        ("curl -H 'Authorization: Bearer abc.def.ghi' http://x", "abc.def.ghi"),
        ("aws key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        ("DB_PASSWORD=hunter2-password-value ./run", "hunter2-password-value"),
        ('HF_TOKEN: "abc123secretvalue"', "abc123secretvalue"),
        ("git clone https://user:pa55w0rd@github.com/x/y", "pa55w0rd"),
        ("mysql --password=s3cr3t -u root", "s3cr3t"),
    ],
)
def test_redact_text(text: str, secret: str) -> None:
    cleaned = redact_text(text)
    assert secret not in cleaned
    assert "[REDACTED]" in cleaned


def test_no_secret_reaches_disk(repo_dir: Path) -> None:
    with AIMemory(repo_dir) as memory:
        memory.record_fix_attempt(
            {
                "model": "m:1",
                "issue_type": "ERROR",
                "description": f"failed with key {SECRETS[0]}",
                "system_info": {
                    "api_key": "plain-value-123",
                    "os": "Linux",
                    "env": f"AWS={SECRETS[2]}",
                },
            },
            {
                "analysis": f"token {SECRETS[3]} leaked",
                "fix_commands": [
                    f"export TOKEN={SECRETS[5]}",
                    f"curl -H 'Authorization: Bearer {SECRETS[4]}'",
                ],
            },
            True,
            True,
            1.0,
            notes=f"used {SECRETS[1]}",
        )
        context = memory.build_context({"model": "m:1", "issue_type": "ERROR"})
    blobs = b"".join(p.read_bytes() for p in repo_dir.iterdir() if p.is_file())
    for secret in [*SECRETS, "plain-value-123"]:
        assert secret.encode() not in blobs
        assert secret not in context


def test_redaction_can_be_turned_off(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMEM_REDACT", "0")
    with AIMemory(repo_dir) as memory:
        record_id = memory.record_fix_attempt(
            {"model": "m:1", "issue_type": "ERROR", "description": f"key {SECRETS[0]}"},
            {"fix_commands": []},
            False,
            False,
            None,
        )
        row = memory.store.get_row(record_id)
    assert row is not None and SECRETS[0] in row["description"]


SECRET_SNIPPETS = [
    "Authorization: Bearer abc.def",
    "Authorization: x",
    "authorization:token zzz",
    "TOKEN=abc",
    'PASSWORD="p w"',
    "https://u:p@h/x",
    "--password=pw",
    "sk-ABCDEFGHIJKLMNOPQRSTUVWX",
]


@given(st.lists(st.one_of(st.sampled_from(SECRET_SNIPPETS), st.text(max_size=12)), max_size=6))
def test_redaction_is_idempotent(parts: list[str]) -> None:
    # Exports re-imported into a redacting repository must not change.
    text = " ".join(parts)
    once = redact_text(text)
    assert redact_text(once) == once
