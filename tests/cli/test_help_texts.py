"""Help texts: real metavars, --json described as it is, the man page's EXIT STATUS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.conftest import fails, ok
from tools import gen_docs

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [node.key.split() for node in gen_docs.build_tree().walk() if node.key]
# Click's own names for a type: they tell a user nothing about the value.
INTERNAL = re.compile(
    r"<(int|float|str|text|integer|path|file|directory)( range)?>|\{[A-Za-z_.]+\}"
    r"|\b(INTEGER|FLOAT|BOOLEAN|FILENAME|DIRECTORY|CHOICE)\b"
)


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_help_has_real_metavars_and_true_descriptions(args: list[str]) -> None:
    text = ok(*args, "--help").stdout
    usage = text.splitlines()[0]
    assert not INTERNAL.search(usage), usage  # typer's {ID} for a required argument
    options = text[text.index("Arguments:") if "Arguments:" in text else len(text) :]
    options += text[text.index("Options:") :] if "Options:" in text else ""
    assert not INTERNAL.search(options), options
    if "--format" not in options:
        assert "Shortcut for --format" not in options


def test_limit_help_says_per_group_where_it_is() -> None:
    assert "per issue type" in ok("successful", "--help").stdout
    assert "per kind of match" in ok("similar", "--help").stdout


def test_man_page_exit_status_lists_every_code() -> None:
    page = (ROOT / "man" / "aimem.1").read_text()
    status = page[page.index(".SH EXIT STATUS") :]
    status = status[: status.index(".SH", 4)]
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"\\fB{code}\\fR" in status, code
    assert "min\\-rate" in status or "min-rate" in status


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_help_fits_80_columns(args: list[str]) -> None:
    text = ok(*args, "--help").stdout
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert wide == [], wide


def test_ranges_read_as_words_in_help_and_errors(demo: Path) -> None:
    assert "[1 to 10000]" in ok("recent", "--help").stdout
    assert "[1 to 1000000]" in ok("backup", "create", "--help").stdout
    refused = fails(2, "recent", "--limit", "0")
    assert "0 is not in the range 1 to 10000" in refused.stderr
    assert "<=" not in refused.stderr
