"""Recorded terminal escape sequences never reach a terminal raw.

Text for people (tables, context, stats, check, alerts, messages on stderr)
shows control characters escaped; JSON stays exact; CSV is exact in a pipe and
escaped on a terminal.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import tty
from pathlib import Path

import orjson
import pytest

from aimem import AIMemory
from tests.cli.conftest import invoke
from tests.reliability.conftest import child_env

TITLE = "\x1b]0;owned\x07"  # sets the window title
CLEAR = "\x1b[2J\x1b[H"  # clears the screen
C1 = "\x9b31m"  # the 8-bit CSI
BIDI = "\u202e"  # right-to-left override
HOSTILE = f"ollama {TITLE}timeout{CLEAR} after\r30s{C1}{BIDI}"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


@pytest.fixture
def hostile(repo_dir: Path) -> Path:
    with AIMemory(repo_dir) as memory:
        memory.record_many(
            [
                {
                    "issue_data": {
                        "model": f"qwen2.5:7b{CLEAR}",
                        "issue_type": "TIMEOUT",
                        "description": HOSTILE,
                    },
                    "ai_response": {"analysis": HOSTILE, "fix_commands": [HOSTILE]},
                    "fix_success": success,
                    "verification_success": success,
                    "execution_time": 3.0,
                    "notes": HOSTILE,
                    "fixer_type": "claude",
                }
                for success in (True, False, True)
            ]
        )
    return repo_dir


MODEL = f"qwen2.5:7b{CLEAR}"
FOR_PEOPLE = [
    ["recent"],
    ["search", "ollama"],
    ["similar", "-m", MODEL, "-t", "TIMEOUT"],
    ["context", "-m", MODEL, "-t", "TIMEOUT", "-d", "x"],
    ["models"],
    ["successful"],
    ["patterns"],
    ["suggest", "-m", MODEL, "-t", "TIMEOUT", "-d", HOSTILE],
    ["gate", "-m", MODEL, "-t", "TIMEOUT", "-d", HOSTILE],
    ["analytics"],
    ["stats"],
    ["model", MODEL],  # JSON
    ["alerts", "--days", "3650"],
]


@pytest.mark.parametrize("args", FOR_PEOPLE, ids=[a[0] for a in FOR_PEOPLE])
def test_text_for_people_shows_escapes(hostile: Path, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code in (0, 3, 4), result.stderr
    for stream in (result.stdout, result.stderr):
        assert not any(char in stream for char in RAW), (args, stream)
    if args[0] in ("recent", "search", "similar", "context", "models", "suggest"):
        assert "\\x1b[2J" in result.stdout, result.stdout


def test_errors_are_one_escaped_line(hostile: Path) -> None:
    result = invoke("model", f"nosuch{TITLE}\nsecond line")
    assert result.exit_code == 1
    assert not any(char in result.stderr for char in RAW)
    assert result.stderr.startswith("aimem: error: ")


@pytest.mark.parametrize(
    "args",
    [
        ["recent", "--json"],
        ["search", "ollama", "--format", "ndjson"],
        ["similar", "-m", MODEL, "-t", "TIMEOUT", "--json"],
    ],
    ids=["recent", "search", "similar"],
)
def test_json_stays_exact(hostile: Path, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    values = (
        [orjson.loads(line) for line in text.splitlines()]
        if "ndjson" in args
        else orjson.loads(text)
    )
    rows = values["model_matches"] if isinstance(values, dict) else values
    assert rows and all(row["description"] == HOSTILE for row in rows)
    assert all(row["fix_commands"] == [HOSTILE] for row in rows)


def test_csv_is_exact_in_a_pipe(hostile: Path) -> None:
    result = invoke("recent", "--format", "csv")
    assert result.exit_code == 0
    assert TITLE in result.stdout and CLEAR in result.stdout


def _on_a_terminal(*args: str) -> bytes:
    """stdout of the real command when it is a terminal (a pty)."""
    leader, follower = pty.openpty()
    tty.setraw(follower)  # no \n -> \r\n translation: the bytes as written
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "aimem", *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=child_env(),
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side closed: the command is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        return b"".join(chunks)
    finally:
        os.close(leader)


@pytest.mark.slow  # real processes on a pty
@pytest.mark.parametrize(
    "args", [["recent"], ["recent", "--format", "csv"], ["context", "-m", MODEL, "-t", "TIMEOUT"]]
)
def test_a_terminal_gets_no_raw_escape(hostile: Path, args: list[str]) -> None:
    shown = _on_a_terminal(*args).decode("utf-8")
    # CSV rows end in CRLF: drop those before looking for a raw CR
    shown = shown.replace("\r\n", "\n")
    assert not any(char in shown for char in RAW), shown
    assert "\\x1b]0;owned\\x07" in shown
