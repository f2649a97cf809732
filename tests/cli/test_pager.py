"""The pager, as git's: long listings on a terminal go through $AIMEM_PAGER, else
$PAGER, else less (LESS=FRX); never in a pipe, under --no-pager, or with cat or
an empty pager; a pager that cannot start is skipped."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import fails
from tests.cli.terminal import run_on_terminal
from tests.conftest import run_aimem

FAKE_PAGER = """\
import os, sys
out, lines = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else -1
with open(out + ".env", "w") as env:
    env.write(f"LESS={os.environ.get('LESS')}\\nCOLUMNS={os.environ.get('COLUMNS')}\\n")
with open(out, "wb") as shown:
    if lines < 0:
        shown.write(sys.stdin.buffer.read())
    else:  # a reader who quits after a few lines
        for _ in range(lines):
            shown.write(sys.stdin.buffer.readline())
"""


@pytest.fixture
def env() -> dict[str, str]:
    """The environment without any pager setting, LESS, COLUMNS or LINES."""
    drop = ("AIMEM_PAGER", "PAGER", "LESS", "COLUMNS", "LINES")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture
def fake(tmp_path: Path) -> tuple[str, Path]:
    """(a pager command line, the file it writes what it was given to)."""
    script = tmp_path / "pager.py"
    script.write_text(FAKE_PAGER)
    shown = tmp_path / "paged.txt"
    return shlex.join([sys.executable, str(script), str(shown)]), shown


LONG = ["recent", "--since", "3650d"]


def test_a_long_listing_on_a_terminal_goes_through_the_pager(
    demo: Path, env: dict[str, str], fake: tuple[str, Path]
) -> None:
    command, shown = fake
    code, terminal = run_on_terminal(LONG, {**env, "AIMEM_PAGER": command})
    assert code == 0, terminal
    paged = shown.read_text()
    assert len(paged.splitlines()) > 100 and "model" in paged.splitlines()[0]
    assert "qwen2.5" not in terminal  # nothing bypassed the pager
    assert max(len(line) for line in paged.splitlines()) <= 80  # fitted to the terminal
    assert Path(f"{shown}.env").read_text() == "LESS=FRX\nCOLUMNS=80\n"


def test_less_settings_of_the_user_are_kept(
    demo: Path, env: dict[str, str], fake: tuple[str, Path]
) -> None:
    command, shown = fake
    code, _ = run_on_terminal(["models"], {**env, "PAGER": command, "LESS": "-R"})
    assert code == 0
    assert Path(f"{shown}.env").read_text().startswith("LESS=-R\n")


@pytest.mark.slow
def test_aimem_pager_comes_before_pager(
    demo: Path, env: dict[str, str], fake: tuple[str, Path], tmp_path: Path
) -> None:
    command, shown = fake
    code, _ = run_on_terminal(["models"], {**env, "PAGER": command})
    assert code == 0 and "model" in shown.read_text()
    shown.unlink()
    other = shlex.join([sys.executable, str(tmp_path / "pager.py"), str(tmp_path / "other")])
    code, _ = run_on_terminal(["models"], {**env, "PAGER": command, "AIMEM_PAGER": other})
    assert code == 0 and not shown.exists() and (tmp_path / "other").exists()


@pytest.mark.parametrize(
    ("flags", "pager"),
    [(["--no-pager"], None), ([], "cat"), ([], "")],
    ids=["--no-pager", "AIMEM_PAGER=cat", "AIMEM_PAGER="],
)
def test_no_pager(
    demo: Path,
    env: dict[str, str],
    fake: tuple[str, Path],
    flags: list[str],
    pager: str | None,
) -> None:
    command, shown = fake
    settings = {**env, "PAGER": command}
    if pager is not None:
        settings["AIMEM_PAGER"] = pager
    code, terminal = run_on_terminal([*flags, *LONG], settings)
    assert code == 0, terminal
    assert not shown.exists()
    assert len(terminal.splitlines()) > 100


def test_never_in_a_pipe(demo: Path, fake: tuple[str, Path]) -> None:
    command, shown = fake
    result = run_aimem(*LONG, env={"AIMEM_PAGER": command})
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) > 100 and not shown.exists()


def test_a_missing_pager_program_shows_the_output_plainly(
    demo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-pager")
    code, terminal = run_on_terminal(LONG, {**env, "AIMEM_PAGER": f"{missing} -R"})
    assert code == 0, terminal
    assert len(terminal.splitlines()) > 100 and "error" not in terminal


def test_quitting_the_pager_early_is_not_an_error(
    demo: Path, env: dict[str, str], fake: tuple[str, Path]
) -> None:
    command, shown = fake
    code, terminal = run_on_terminal(LONG, {**env, "AIMEM_PAGER": f"{command} 3"})
    assert code == 0, terminal
    assert terminal == ""  # no error, no traceback
    assert len(shown.read_text().splitlines()) == 3


@pytest.mark.slow
def test_data_and_short_reports_are_never_paged(
    demo: Path, env: dict[str, str], fake: tuple[str, Path]
) -> None:
    command, shown = fake
    for args in (["stats"], ["export", "-", "--format", "csv"], ["gate", "-m", "x", "-t", "T"]):
        code, terminal = run_on_terminal(args, {**env, "AIMEM_PAGER": command})
        assert code in (0, 2, 4), terminal  # gate's exit code is its answer
        assert terminal and not shown.exists(), args


@pytest.mark.skipif(shutil.which("less") is None, reason="needs less")
def test_less_by_default_quits_when_the_output_fits(demo: Path, env: dict[str, str]) -> None:
    code, terminal = run_on_terminal(["models"], env)
    assert code == 0, terminal
    assert "qwen2.5:7b" in terminal  # shown, and less did not wait for a key


def test_no_pager_after_the_command_names_the_right_place(demo: Path) -> None:
    result = fails(2, "recent", "--no-pager")
    assert "hint: --no-pager is a global option: aimem --no-pager recent" in result.stderr
