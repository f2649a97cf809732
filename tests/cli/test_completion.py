"""Shell completion: the committed scripts, value completion, and a fast start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aimem.cli import _complete
from aimem.paths import DATABASE_NAME, REPOSITORY_NAME
from tests.conftest import run_aimem

ROOT = Path(__file__).resolve().parents[2]
BASH = ROOT / "completions" / "aimem.bash"
ZSH = ROOT / "completions" / "_aimem"
FISH = ROOT / "completions" / "aimem.fish"
DEMO_MODELS = {
    "deepseek-coder:6.7b",
    "gemma2:9b",
    "llama3.1:8b",
    "mistral:7b",
    "phi3:mini",
    "qwen2.5:14b",
    "qwen2.5:7b",
}
HEAVY = ("typer", "click", "rich", "pydantic", "orjson", "zstandard", "tabulate")


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed")
    return path


@pytest.fixture
def path_with_aimem(tmp_path: Path) -> str:
    """PATH with an ``aimem`` that runs this checkout (the scripts call it by name)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "aimem"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m aimem "$@"\n')
    wrapper.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def lines(data: bytes) -> list[str]:
    return data.decode().splitlines()


# ---- aimem __complete ------------------------------------------------------------


def test_complete_values_from_the_repository(
    demo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    models = run_aimem("__complete", "models")
    assert models.returncode == 0 and models.stderr == b""
    assert set(lines(models.stdout)) == DEMO_MODELS
    assert set(lines(run_aimem("__complete", "models", "qwen2.5:").stdout)) == {
        "qwen2.5:7b",
        "qwen2.5:14b",
    }
    types = lines(run_aimem("__complete", "issue-types").stdout)
    assert types[:6] == list(_complete.STANDARD_ISSUE_TYPES)
    assert len(types) == len(set(types))
    fixers = lines(run_aimem("__complete", "fixers", "q").stdout)
    assert fixers == ["qwen"]
    # --dir names the repository; without one only the standard values.
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    env = {"AIMEM_DIR": str(elsewhere / "no-repository-here")}
    assert run_aimem("__complete", "models", "--dir", str(demo), cwd=elsewhere, env=env).stdout
    outside = run_aimem("__complete", "models", cwd=elsewhere, env=env)
    assert outside.returncode == 0 and outside.stdout == b"" and outside.stderr == b""
    assert lines(run_aimem("__complete", "fixers", cwd=elsewhere, env=env).stdout) == list(
        _complete.KNOWN_FIXERS
    )
    assert run_aimem("__complete", "segments").stdout == b""
    assert run_aimem("__complete", "no-such-kind").stdout == b""
    assert run_aimem("__complete").returncode == 0


def test_complete_uses_the_same_names_as_paths() -> None:
    assert (_complete.REPOSITORY_NAME, _complete.DATABASE_NAME) == (REPOSITORY_NAME, DATABASE_NAME)


@pytest.mark.parametrize(
    "args",
    [["--version"], ["--help"], ["__complete", "models"], ["__complete", "issue-types", "T"]],
    ids=" ".join,
)
@pytest.mark.sqlite_only  # completion from PostgreSQL loads its driver (test_postgres.py)
def test_fast_paths_import_nothing_heavy(demo: Path, args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from aimem.cli import main; main()", *args],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in done.stderr.decode().splitlines()
        if line.startswith("import time:")
    }
    assert "aimem.cli" in imported
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert heavy == []
    # aimem.store's own __init__ is light; the backends behind it are not
    assert (
        not {
            "aimem.memory",
            "aimem.store.sqlite",
            "aimem.store.postgres",
            "aimem.cli.app",
            "typing",
        }
        & imported
    )


# ---- the scripts ------------------------------------------------------------------


def test_bash_script_syntax_and_shellcheck() -> None:
    bash = need("bash")
    done = subprocess.run([bash, "-n", str(BASH)], capture_output=True)
    assert done.returncode == 0, done.stderr
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        done = subprocess.run([shellcheck, str(BASH)], capture_output=True)
        assert done.returncode == 0, done.stdout.decode()


def test_zsh_script_syntax() -> None:
    done = subprocess.run([need("zsh"), "-n", str(ZSH)], capture_output=True)
    assert done.returncode == 0, done.stderr


def test_fish_script_syntax() -> None:
    done = subprocess.run([need("fish"), "-n", str(FISH)], capture_output=True)
    assert done.returncode == 0, done.stderr


def bash_complete(words: list[str], path: str, cwd: Path) -> list[str]:
    """Source the script, set COMP_WORDS/COMP_CWORD as bash does, call _aimem."""
    script = (
        f'source "{BASH}"\n'
        'COMP_WORDS=("$@")\n'
        "COMP_CWORD=$(($# - 1))\n"
        'COMP_LINE="$*"\n'
        "COMP_POINT=${#COMP_LINE}\n"
        "_aimem\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        [need("bash"), "-c", script, "bash", *words],
        capture_output=True,
        env={**os.environ, "PATH": path},
        cwd=cwd,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    return [line for line in lines(done.stdout) if line]


@pytest.mark.slow
def test_bash_completion(demo: Path, path_with_aimem: str, tmp_path: Path) -> None:
    def complete(*words: str) -> list[str]:
        return bash_complete(list(words), path_with_aimem, tmp_path)

    assert complete("aimem", "mo") == ["model", "models"]
    commands = complete("aimem", "")
    assert {"init", "record", "stats", "search", "kb", "context", "similar"} <= set(commands)
    assert complete("aimem", "kb", "") == ["show", "import", "export"]
    assert sorted(complete("aimem", "--d")) == ["--db", "--dir"]
    assert "--issue-type" in complete("aimem", "similar", "--")
    assert complete("aimem", "stats", "-") == ["--json", "--help", "-h"]
    assert set(complete("aimem", "similar", "--model", "")) == DEMO_MODELS
    assert set(complete("aimem", "context", "-m", "q")) == {"qwen2.5:7b", "qwen2.5:14b"}
    # Bash splits "qwen2.5:" at the colon; replies complete the part after it.
    assert set(complete("aimem", "similar", "-m", "qwen2.5", ":")) == {"7b", "14b"}
    assert set(complete("aimem", "similar", "-m", "qwen2.5", ":", "1")) == {"14b"}
    assert set(complete("aimem", "model", "")) == DEMO_MODELS
    assert "TIMEOUT" in complete("aimem", "successful", "--issue-type", "")
    assert complete("aimem", "record", "--fixer", "q") == ["qwen"]
    assert complete("aimem", "patterns", "--kind", "") == [
        "exact",
        "model",
        "general",
        "temporal",
        "fingerprint",
    ]
    assert complete("aimem", "alerts", "--kind", "") == ["regression", "drift", "spike"]
    assert complete("aimem", "alerts", "-k", "d") == ["drift"]
    assert complete("aimem", "recent", "--fixer", "q") == ["qwen"]
    assert complete("aimem", "models", "--format", "=", "n") == ["ndjson"]
    assert complete("aimem", "models", "--format", "c") == ["csv"]
    assert complete("aimem", "recent", "--limit", "") == []
    # --dir is passed on to the value lookup.
    other = tmp_path / "other"
    assert (
        subprocess.run(
            [sys.executable, "-m", "aimem", "--dir", str(other), "init"], capture_output=True
        ).returncode
        == 0
    )
    assert complete("aimem", "--dir", str(other), "similar", "-m", "") == []
    assert set(complete("aimem", "--dir", str(demo), "model", "")) == DEMO_MODELS
    # File and folder arguments complete paths.
    (tmp_path / "kb-file.json").write_text("{}")
    assert complete("aimem", "kb", "import", str(tmp_path / "kb-f")) == [
        str(tmp_path / "kb-file.json")
    ]


def test_fish_completion(demo: Path, path_with_aimem: str, tmp_path: Path) -> None:
    fish = need("fish")

    def complete(line: str) -> list[str]:
        done = subprocess.run(
            [fish, "--no-config", "-c", f"source {FISH}; complete -C {line!r}"],
            capture_output=True,
            env={**os.environ, "PATH": path_with_aimem},
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return [row.split("\t")[0] for row in lines(done.stdout)]

    assert complete("aimem mo") == ["model", "models"]
    assert complete("aimem kb ") == ["export", "import", "show"]
    assert set(complete("aimem similar --model ")) == DEMO_MODELS
    assert set(complete("aimem model qwen")) == {"qwen2.5:7b", "qwen2.5:14b"}
    assert complete("aimem patterns --kind t") == ["temporal"]
    assert complete("aimem alerts --kind s") == ["spike"]
    assert "--json" in complete("aimem stats -")


def test_zsh_completion_logic(demo: Path, path_with_aimem: str, tmp_path: Path) -> None:
    """Run the zsh script with the completion builtins replaced by printers."""
    zsh = need("zsh")
    harness = (
        '_describe() { print -r -- "describe ${(j: :)${(@)reply%%:*}}" }\n'
        'compadd() { print -r -- "compadd ${(j: :)${(@P)2}}" }\n'
        '_files() { print -r -- "files $*" }\n'
        'compset() { print -r -- "compset $*" }\n'
        "compdef() { : }\n"
        f'source "{ZSH}"\n'
        'words=("$@"); CURRENT=$#\n'
        "_aimem\n"
    )

    def complete(*words: str) -> list[str]:
        done = subprocess.run(
            [zsh, "-f", "-c", harness, "zsh", *words],
            capture_output=True,
            env={**os.environ, "PATH": path_with_aimem},
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return lines(done.stdout)

    assert complete("aimem", "")[0].split()[:3] == ["describe", "init", "stats"]
    assert complete("aimem", "kb", "") == ["describe show import export"]
    models = complete("aimem", "similar", "--model", "")
    assert models[0].split()[0] == "compadd" and set(models[0].split()[1:]) == DEMO_MODELS
    assert complete("aimem", "patterns", "-k", "") == [
        "compadd exact model general temporal fingerprint"
    ]
    assert complete("aimem", "kb", "import", "x") == ["files "]
    assert complete("aimem", "stats", "--")[0].startswith("describe --json")


# ---- a group with a default command: aimem backup DEST ----------------------------


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """A working folder holding a folder 'bundles' and a file 'bundles.txt'."""
    work = tmp_path / "work"
    (work / "bundles").mkdir(parents=True)
    (work / "bundles.txt").write_text("not a folder")
    return work


def test_bash_backup_offers_subcommands_folders_and_options(
    path_with_aimem: str, folders: Path
) -> None:
    def complete(*words: str) -> list[str]:
        return bash_complete(list(words), path_with_aimem, folders)

    offered = complete("aimem", "backup", "")
    assert {"create", "list", "prune", "bundles", "--keep-daily", "--set-default"} <= set(offered)
    assert "bundles.txt" not in offered  # the destination is a folder
    assert complete("aimem", "backup", "bu") == ["bundles"]
    assert complete("aimem", "backup", "l") == ["list"]
    assert "--keep-weekly" in complete("aimem", "backup", "bundles", "--keep-w")
    assert complete("aimem", "backup", "--set-default", "b") == ["bundles"]
    assert complete("aimem", "backup", "list", "b") == ["bundles"]
    # other groups are unchanged: subcommands only
    assert complete("aimem", "kb", "") == ["show", "import", "export"]


def test_zsh_backup_offers_subcommands_folders_and_options(
    path_with_aimem: str, folders: Path
) -> None:
    zsh = need("zsh")
    harness = (
        '_describe() { print -r -- "describe ${(j: :)${(@)reply%%:*}}" }\n'
        'compadd() { print -r -- "compadd ${(j: :)${(@P)2}}" }\n'
        '_files() { print -r -- "files $*" }\n'
        "compdef() { : }\n"
        f'source "{ZSH}"\n'
        'words=("$@"); CURRENT=$#\n'
        "_aimem\n"
    )
    done = subprocess.run(
        [zsh, "-f", "-c", harness, "zsh", "aimem", "backup", ""],
        capture_output=True,
        env={**os.environ, "PATH": path_with_aimem},
        cwd=folders,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    offered = lines(done.stdout)
    assert offered[0] == "describe create list prune"
    assert offered[1].startswith("describe ") and "--keep-daily" in offered[1].split()
    assert offered[2] == "files -/"
    assert len(offered) == 3


def test_fish_backup_offers_subcommands_and_folders(path_with_aimem: str, folders: Path) -> None:
    fish = need("fish")

    def complete(line: str) -> list[str]:
        done = subprocess.run(
            [fish, "--no-config", "-c", f"source {FISH}; complete -C {line!r}"],
            capture_output=True,
            env={**os.environ, "PATH": path_with_aimem},
            cwd=folders,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return [row.split("\t")[0] for row in lines(done.stdout)]

    offered = complete("aimem backup ")
    assert {"create", "list", "prune", "bundles/"} <= set(offered)
    assert "bundles.txt" not in offered
    assert "--keep-daily" in complete("aimem backup bundles/ --keep-d")


def test_remote_names_complete_for_push_pull_and_remote(
    demo: Path, path_with_aimem: str, tmp_path: Path
) -> None:
    assert run_aimem("__complete", "remotes").stdout == b""
    for name in ("origin", "fleet", "laptop"):
        assert run_aimem("remote", "add", name, str(tmp_path / name)).returncode == 0
    assert lines(run_aimem("__complete", "remotes").stdout) == ["fleet", "laptop", "origin"]
    assert lines(run_aimem("__complete", "remotes", "f").stdout) == ["fleet"]

    def complete(*words: str) -> list[str]:
        return bash_complete(list(words), path_with_aimem, tmp_path)

    assert complete("aimem", "push", "") == ["fleet", "laptop", "origin"]
    assert complete("aimem", "pull", "o") == ["origin"]
    assert complete("aimem", "remote", "remove", "l") == ["laptop"]
    assert complete("aimem", "remote", "rename", "") == ["fleet", "laptop", "origin"]
