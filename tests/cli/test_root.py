"""Global behaviour: version, help, exit codes, errors, repository discovery."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aimem._version import __version__
from tests.cli.conftest import fails, invoke, ok, ok_json
from tests.conftest import run_aimem
from tools.gen_docs import root_help


def not_a_repository(folder: Path) -> str:
    """The error outside any repository, searched from ``folder``."""
    return (
        f"aimem: error: not an aimem repository (no AIMemory/ in {folder} or any parent)\n"
        f"hint: run 'aimem init' to create {folder / 'AIMemory'}, or name one with --dir DIR\n"
    )


READ_COMMANDS = [
    ["stats"],
    ["stats", "--json"],
    ["model", "qwen2.5:7b"],
    ["models"],
    ["recent"],
    ["successful"],
    ["patterns"],
    ["analytics"],
    ["similar", "-m", "qwen2.5:7b", "-t", "TIMEOUT"],
    ["context", "-m", "qwen2.5:7b", "-t", "TIMEOUT"],
    ["search", "ollama"],
    ["kb", "show"],
    ["kb", "export", "kb.json"],
]


def test_version_fast_path_and_typer_agree() -> None:
    fast = run_aimem("--version")
    assert fast.returncode == 0
    assert fast.stdout == f"aimem {__version__}\n".encode()
    assert ok("--version").stdout == f"aimem {__version__}\n"
    assert ok("-V").stdout == f"aimem {__version__}\n"


def test_help_fast_path_is_the_typer_help() -> None:
    typer_help = ok("--help").stdout
    assert typer_help == root_help()
    for flag in ("--help", "-h"):
        fast = run_aimem(flag, env={"COLUMNS": "200"})
        assert fast.returncode == 0
        assert fast.stdout.decode() == typer_help


def test_no_command_is_a_usage_error_with_help_on_stderr() -> None:
    fast = run_aimem()
    assert fast.returncode == 2
    assert fast.stdout == b""
    assert fast.stderr.decode().startswith("Usage: aimem [OPTIONS] COMMAND")
    result = invoke()
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: aimem [OPTIONS] COMMAND")


def test_group_without_subcommand_shows_its_help() -> None:
    result = invoke("kb")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "show" in result.stderr and "import" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["nosuch"], ["stats", "--bogus"], ["recent", "0"], ["models", "--json", "--format", "csv"]],
)
def test_usage_errors_exit_2_with_a_hint(args: list[str]) -> None:
    result = fails(2, *args)
    assert result.stderr.count("\n") == 2
    assert result.stderr.splitlines()[1].startswith("hint: see 'aimem")


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: " ".join(a))
def test_read_command_outside_a_repository(args: list[str], tmp_path: Path) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.stdout == ""
    # $AIMEM_DIR (tmp/AIMemory, see tests/conftest.py) is the setting that pointed there.
    assert result.stderr == (
        f"aimem: error: not an aimem repository: AIMEM_DIR={tmp_path / 'AIMemory'} "
        "(no such folder)\n"
        f"hint: run 'aimem init' to create {tmp_path / 'AIMemory'}, or unset AIMEM_DIR\n"
    )
    assert not (tmp_path / "AIMemory").exists()


def test_outside_a_repository_through_the_console_script(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AIMEM_DIR"}
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = run_aimem("stats", cwd=outside, env={"AIMEM_DIR": ""} | env)
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == not_a_repository(outside)


def test_dir_option_beats_aimem_dir(demo: Path, tmp_path: Path) -> None:
    stats = ok_json("--dir", str(demo), "stats", "--json")
    assert stats["total_fixes_attempted"] == 480
    assert stats["memory_directory"] == str(demo)
    other = tmp_path / "other" / "AIMemory"
    ok("--dir", str(other), "init")
    assert ok_json("-C", str(other), "stats", "--json")["total_fixes_attempted"] == 0
    # $AIMEM_DIR (the demo) is not used when --dir names another repository.
    assert ok_json("stats", "--json")["total_fixes_attempted"] == 480


def test_aimem_dir_environment(demo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    demo.rename(moved)
    monkeypatch.setenv("AIMEM_DIR", str(moved))
    assert ok_json("stats", "--json")["memory_directory"] == str(moved)


@pytest.mark.slow
def test_walks_up_from_a_subfolder(demo: Path, tmp_path: Path) -> None:
    deep = tmp_path / "project" / "src" / "deep"
    deep.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "AIMEM_DIR"}
    result = run_aimem("stats", "--json", cwd=deep, env={"AIMEM_DIR": ""} | env)
    assert result.returncode == 0, result.stderr
    assert b'"memory_directory": "' + str(demo).encode() in result.stdout
    # On PostgreSQL segments live in the database and archive/ does not exist.
    inside_repository = demo / "archive"
    inside_repository.mkdir(exist_ok=True)
    inside = run_aimem("models", "--json", cwd=inside_repository, env={"AIMEM_DIR": ""} | env)
    assert inside.returncode == 0, inside.stderr
    assert b"qwen2.5:7b" in inside.stdout


@pytest.mark.slow
def test_user_error_has_no_traceback_but_aimem_debug_shows_one(demo: Path) -> None:
    plain = run_aimem("model", "no-such-model")
    assert plain.returncode == 1
    assert plain.stderr.startswith(b"aimem: error: no history for model 'no-such-model'\nhint: ")
    assert b"Traceback" not in plain.stderr
    debug = run_aimem("model", "no-such-model", env={"AIMEM_DEBUG": "1"})
    assert debug.returncode == 1
    assert b"Traceback (most recent call last)" in debug.stderr
    assert b"NotFoundError" in debug.stderr


def test_bad_file_errors_name_the_file(empty: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "kb.json"
    result = fails(1, "kb", "export", str(missing))
    assert result.stderr == f"aimem: error: {missing}: cannot write: No such file or directory\n"


def test_closed_pipe_is_quiet(demo: Path) -> None:
    import subprocess
    import sys

    script = (
        f"{sys.executable} -m aimem recent 60 --format ndjson | head -c 10 >/dev/null; "
        "echo ${PIPESTATUS[0]}"
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, timeout=60)
    assert done.stderr == b""
    assert done.stdout.strip() == b"141"


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["stats", "--json"],
        ["stats", "--help"],
        ["--dir", "AIMemory", "models", "--format", "csv"],
        ["-C", "AIMemory", "kb", "show"],
        ["kb", "show", "--help"],
        ["kb"],
        ["recent", "0"],
        ["nosuch"],
        ["model", "nope"],
    ],
    ids=" ".join,
)
def test_console_script_runs_only_the_invoked_command_with_the_same_result(
    demo: Path, args: list[str]
) -> None:
    """main() builds only the command it runs; output and exit code are the full app's."""
    from aimem.cli.commands import app, for_args

    full = invoke(*args)
    fast = run_aimem(*args, cwd=demo.parent)
    assert fast.returncode == full.exit_code
    assert fast.stdout == full.stdout_bytes  # bytes: CSV rows end in CRLF
    assert fast.stderr.decode() == full.stderr
    assert (for_args(args) is app) == (args[0] in ("nosuch",))


def test_trimming_keeps_the_whole_app_when_unsure() -> None:
    from aimem.cli.commands import app, for_args

    assert for_args([]) is app
    assert for_args(["--version"]) is app
    assert for_args(["--bogus", "stats"]) is app
    trimmed = for_args(["--dir=x", "stats"])
    assert trimmed is not app
    assert [c.name for c in trimmed.registered_commands] == ["stats"]
    assert trimmed.registered_groups == []
    assert [g.name for g in for_args(["kb", "show"]).registered_groups] == ["kb"]
    assert len(app.registered_commands) > 1  # the original is untouched
