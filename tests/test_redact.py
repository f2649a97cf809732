"""Redaction replaces secrets and nothing else, is idempotent, and takes linear time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimem import AIMemory
from aimem.redact import REDACTED, redact_text, redact_value
from tests.redaction_corpus import SECRETS as SECRETS_CORPUS

SECRETS = [
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
    "sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "hunter2-password-value",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the header's value goes, its quoting stays
        (
            'curl -H "Authorization: Bearer abc" https://x',
            'curl -H "Authorization: Bearer [REDACTED]" https://x',
        ),
        ("curl -H 'Authorization: Bearer abc.def'", "curl -H 'Authorization: Bearer [REDACTED]'"),
        ('{"Authorization": "Basic dXNlcjpwdw=="}', '{"Authorization": "Basic [REDACTED]"}'),
        ("Authorization: abc", "Authorization: [REDACTED]"),
        ("authorization:token zzz", "authorization:token [REDACTED]"),
        # passwords in URLs, all of the password
        ("redis://:pw@host:6379", "redis://:[REDACTED]@host:6379"),
        ("postgres://user:p@ss@host/db", "postgres://user:[REDACTED]@host/db"),
        ("https://user:pa55w0rd@github.com/x/y", "https://user:[REDACTED]@github.com/x/y"),
        # assignments named as secrets
        ("export OPENAI_API_KEY=sk-x", "export OPENAI_API_KEY=[REDACTED]"),
        ("DB_PASSWORD=hunter2 ./run", "DB_PASSWORD=[REDACTED] ./run"),
        ('HF_TOKEN: "abc123secretvalue"', 'HF_TOKEN: "[REDACTED]"'),
        ("PASSWORD='p w' x", "PASSWORD='[REDACTED]' x"),
        ('{"password":"pw","user":"me"}', '{"password":"[REDACTED]","user":"me"}'),
        ("mysql --password=s3cr3t -u root", "mysql --password=[REDACTED] -u root"),
        ("mysql --password s3cr3t -u root", "mysql --password [REDACTED] -u root"),
        (
            "aws configure set aws_secret_access_key AbC/123+xyz",
            "aws configure set aws_secret_access_key [REDACTED]",
        ),
        ("curl -u admin:s3cret http://x", "curl -u admin:[REDACTED] http://x"),
        # provider keys wherever they are
        ("key sk-proj-ABCDEFGHIJKLMNOPQRSTUV here", "key [REDACTED] here"),
        ("aws key AKIAIOSFODNN7EXAMPLE used", "aws key [REDACTED] used"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIabc\ndef\n-----END RSA PRIVATE KEY-----\nafter",
            "-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----\nafter",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMIIabc", "-----BEGIN PRIVATE KEY-----\n[REDACTED]"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "export MAX_TOKENS=512",
        "export OLLAMA_NUM_CTX=4096",
        "ollama run llama3 --num_predict 100",
        '{"num_predict": 128, "max_tokens": 256, "eos_token": "</s>"}',
        'curl -H "Authorization: Bearer $TOKEN" https://x',
        "export HF_TOKEN=${HF_TOKEN}",
        "docker login --password-stdin -u ci",
        "docker run -u 1000:1000 img",
        "git push -u origin main",
        "token=args.token",
        "export TOKEN_FILE=/run/secrets/token",
        "git config --global credential.helper store",
        "https://user@example.com/repo.git",
        "the token expired, tokens per second dropped",
        "test passed",
        "disk-usage-report-for-the-model-cache",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact_text(text) == text


def test_redact_value_judges_key_names() -> None:
    value = {
        "api_key": "plain-value-123",
        "max_tokens": 512,
        "password": None,
        "nested": [{"client_secret": 42, "token_count": 7}],
        "env": "AWS=AKIAIOSFODNN7EXAMPLE",
    }
    assert redact_value(value) == {
        "api_key": REDACTED,
        "max_tokens": 512,
        "password": None,
        "nested": [{"client_secret": REDACTED, "token_count": 7}],
        "env": f"AWS={REDACTED}",
    }


def test_redact_value_takes_any_depth() -> None:
    deep: dict[str, object] = {"token": "abc"}
    for _ in range(5000):
        deep = {"a": deep}
    result = redact_value(deep)
    for _ in range(5000):
        result = result["a"]
    assert result == {"token": REDACTED}


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
    '"Authorization": "Bearer q1w2e3r4t5"',
    "TOKEN=abc",
    'PASSWORD="p w"',
    "api_key='k'",
    '{\\"token\\": \\"v\\"}',
    "https://u:p@h/x",
    "redis://:p@ss@h",
    "--password=pw",
    "--token pw",
    "aws configure set aws_secret_access_key K",
    "curl -u a:b",
    "Bearer abcdef123456",
    "sk-ABCDEFGHIJKLMNOPQRSTUVWX",
    "AKIAIOSFODNN7EXAMPLE",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "export MAX_TOKENS=512",
    "$TOKEN",
    "[REDACTED]",
]
FRAGMENTS = st.one_of(
    st.sampled_from(SECRET_SNIPPETS),
    st.sampled_from([text for text, _ in SECRETS_CORPUS]),
    st.text(max_size=12),
    st.sampled_from(list("\"'\\=:@/ \n\t-_.$[]{}()")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(FRAGMENTS, max_size=8))
def test_redaction_is_idempotent(parts: list[str]) -> None:
    # Exports re-imported into a redacting repository must not change.
    text = "".join(parts)
    once = redact_text(text)
    assert redact_text(once) == once


def test_a_key_block_glued_to_a_user_flag_is_redacted_in_one_pass() -> None:
    # The first pass sees "curl" on the line (a -u user:password context) that
    # the bearer token's redaction removes before a second pass.
    text = (
        "Authorization: Bearer abc.defcurl -u a:bPGPASSWORD=x psql -h db -U app"
        "-----BEGIN RSA PRIVATE KEY-----Authorization: Bearer abc.def"
    )
    once = redact_text(text)
    assert once.endswith("PRIVATE KEY-----[REDACTED]")
    assert redact_text(once) == once


def test_a_secret_right_after_another_is_redacted_once_and_for_all() -> None:
    # A fixed-length key directly followed by a header: the first pass must see
    # what the second sees after the key became [REDACTED].
    text = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6QAuthorization: Bearer abc.def"
    assert redact_text(text) == "[REDACTED]Authorization: Bearer [REDACTED]"


@settings(max_examples=300, deadline=None)
@given(st.lists(FRAGMENTS, max_size=8))
def test_redaction_only_replaces_spans(parts: list[str]) -> None:
    # Everything outside a redacted span is the input's own text, in order.
    text = "".join(parts)
    if REDACTED in text:
        return
    position = 0
    for kept in redact_text(text).split(REDACTED):
        found = text.find(kept, position)
        assert found >= 0, (text, kept)
        position = found + len(kept)


# Inputs that made backtracking patterns take quadratic or cubic time: a piece
# repeated, after an optional prefix.
ADVERSARIAL: dict[str, str | tuple[str, str]] = {
    "token.": "token.",
    "a:": "a:",
    "-----BEGIN": "-----BEGIN ",
    "@": "@",
    "Bearer": "Bearer ",
    "=": "=",
    "token=": "token=",
    "token space": "token ",
    "://": "://",
    "url with @": "x://a:b@",
    "authorization": "Authorization: ",
    "quote": 'token="a ',
    "escaped quote": 'token=\\"a ',
    "pass": "pass ",
    "curl -u": "curl -u ",
    "sk-": "sk-",
    "jwt": "eyJaaaaaaaaa.",
    "name run": "A" * 79 + "_TOKEN ",
    "escapes in a quoted value": ('token="', "\\a"),
    "escapes in a bare value": "token=\\a\\a\\a\\a",
    "escaped quotes": 'token=\\"a\\" ',
    "dotted value": "api_key=a.a.a.a.",
}


def _best_times(*texts: str) -> list[float]:
    # Alternated, best of three: load on the machine hits both sizes alike.
    best = [float("inf")] * len(texts)
    for _ in range(3):
        for n, text in enumerate(texts):
            start = time.perf_counter()
            redact_text(text)
            best[n] = min(best[n], time.perf_counter() - start)
    return best


@pytest.mark.slow
@pytest.mark.parametrize("unit", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_time_grows_linearly(unit: str | tuple[str, str]) -> None:
    # Both sizes past the point (about 40 KB here) where the text no longer fits
    # the processor's caches and the time per character steps up once.
    prefix, piece = unit if isinstance(unit, tuple) else ("", unit)
    small, large = _best_times(
        prefix + piece * (50_000 // len(piece)), prefix + piece * (400_000 // len(piece))
    )
    # Eight times the text in less than 24 times the time: linear takes eight,
    # quadratic 64; the margin absorbs a loaded machine, the constant timer noise.
    assert large < 24 * small + 0.02
