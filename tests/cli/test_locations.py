"""Where the repository is: -C, --dir, AIMEM_DIR, the search up from a folder, and init."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from aimem import AIMemory, NotARepositoryError
from aimem.paths import locate
from tests.cli.conftest import fails, invoke, ok, ok_json
from tests.conftest import run_aimem


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No $AIMEM_DIR in this process; the environment for a subprocess without it."""
    monkeypatch.delenv("AIMEM_DIR")
    return {k: v for k, v in os.environ.items() if k != "AIMEM_DIR"}


def run_without_env(*args: str, cwd: Path) -> tuple[int, bytes, str]:
    env = {k: v for k, v in os.environ.items() if k != "AIMEM_DIR"}
    done = run_aimem(*args, cwd=cwd, env={"AIMEM_DIR": ""} | env)
    return done.returncode, done.stdout, done.stderr.decode()


@pytest.fixture
def project(demo_template: Path, tmp_path: Path) -> Path:
    """tmp/project holding AIMemory/ (the demo history) and an empty src/deep/."""
    import shutil

    folder = tmp_path / "project"
    (folder / "src" / "deep").mkdir(parents=True)
    shutil.copytree(demo_template, folder / "AIMemory")
    return folder


def stats_of(*args: str) -> dict[str, object]:
    values = ok_json(*args, "stats", "--json")
    assert isinstance(values, dict)
    return values


# ---- -C: run as if started in DIR -------------------------------------------


def test_c_searches_up_from_dir(project: Path, no_env: dict[str, str]) -> None:
    for start in (project, project / "src" / "deep", project / "AIMemory" / "archive"):
        values = stats_of("-C", str(start))
        assert values["memory_directory"] == str(project / "AIMemory")
        assert values["total_fixes_attempted"] == 480


def test_c_beats_aimem_dir_and_dir_beats_c(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    ok("init", str(other))
    monkeypatch.setenv("AIMEM_DIR", str(other / "AIMemory"))
    assert stats_of()["total_fixes_attempted"] == 0
    assert stats_of("-C", str(project / "src"))["total_fixes_attempted"] == 480
    # --dir wins, and a relative --dir is read from -C's folder, as git does.
    both = stats_of("-C", str(tmp_path), "--dir", "other")
    assert both["memory_directory"] == str(other / "AIMemory")


def test_c_makes_relative_paths_start_in_dir(project: Path, no_env: dict[str, str]) -> None:
    here = Path.cwd()
    result = ok("-C", str(project), "export", "out.ndjson")
    assert (project / "out.ndjson").is_file()
    assert len((project / "out.ndjson").read_bytes().splitlines()) == 480
    assert not (here / "out.ndjson").exists()
    assert Path.cwd() == here  # the folder is given back after the command
    assert "out.ndjson" in result.stderr


def test_c_that_is_not_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("-C", str(tmp_path / "missing"), "stats")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"aimem: error: Invalid value for '-C': cannot change to "
        f"'{tmp_path / 'missing'}': No such file or directory"
    )
    (tmp_path / "file").write_text("x")
    assert invoke("-C", str(tmp_path / "file"), "stats").exit_code == 2


def test_c_through_the_console_script(project: Path, tmp_path: Path) -> None:
    # -C through the console script, as a shell runs it
    code, out, err = run_without_env("-C", str(project / "src"), "stats", "--json", cwd=tmp_path)
    assert code == 0, err
    assert orjson.loads(out)["memory_directory"] == str(project / "AIMemory")
    code, out, err = run_without_env("-C", "project/src/deep", "models", "--json", cwd=tmp_path)
    assert code == 0, err
    assert "qwen2.5:7b" in out.decode()
    code, out, err = run_without_env("-C", "project", "export", "out.ndjson", cwd=tmp_path)
    assert code == 0, err
    assert len((project / "out.ndjson").read_bytes().splitlines()) == 480
    code, out, err = run_without_env("-C", "missing", "stats", cwd=tmp_path)
    assert code == 2
    assert "Invalid value for '-C': cannot change to 'missing'" in err


# ---- --dir and AIMEM_DIR name the repository or the folder holding it --------


def test_dir_and_aimem_dir_accept_the_folder_holding_aimemory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stats_of("--dir", str(project))["memory_directory"] == str(project / "AIMemory")
    assert stats_of("--dir", str(project / "AIMemory"))["total_fixes_attempted"] == 480
    monkeypatch.setenv("AIMEM_DIR", str(project))
    assert stats_of()["memory_directory"] == str(project / "AIMemory")
    # The Python API takes the same folders.
    with AIMemory(project, create=False) as memory:
        assert memory.memory_dir == project / "AIMemory"


def test_aimem_dir_holding_aimemory_through_the_console_script(
    project: Path, tmp_path: Path
) -> None:
    done = run_aimem("stats", "--json", cwd=tmp_path, env={"AIMEM_DIR": str(project)})
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["memory_directory"] == str(project / "AIMemory")
    done = run_aimem("--dir", str(project), "recent", "60", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(orjson.loads(done.stdout)) > 0


# ---- init agrees with all of them --------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        "init PATH",
        "-C PATH init",
        "--dir PATH/AIMemory init",
        "--dir PATH init",
        "AIMEM_DIR=PATH/AIMemory init",
        "AIMEM_DIR=PATH init",
    ],
)
def test_init_forms_all_create_path_aimemory(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "p"
    target.mkdir()
    monkeypatch.delenv("AIMEM_DIR")
    args = form.replace("PATH", str(target)).split()
    if args[0].startswith("AIMEM_DIR="):
        monkeypatch.setenv("AIMEM_DIR", args.pop(0).split("=", 1)[1])
    result = ok(*args)
    assert result.stdout == f"Initialized empty aimem repository in {target / 'AIMemory'}\n"
    assert sorted(p.name for p in target.iterdir()) == ["AIMemory"]
    assert (target / "AIMemory" / "ai_memory.db").is_file()
    again = ok(*args)
    assert again.stdout == f"Reinitialized existing aimem repository in {target / 'AIMemory'}\n"
    # Found again from the folder itself.
    monkeypatch.delenv("AIMEM_DIR", raising=False)
    monkeypatch.chdir(target)
    assert stats_of()["memory_directory"] == str(target / "AIMemory")


def test_init_then_stats_from_the_folder_through_the_console_script(tmp_path: Path) -> None:
    for name, args, env in (
        ("a", ["-C", "a", "init"], {}),
        ("b", ["init"], {"AIMEM_DIR": str(tmp_path / "b")}),
        ("c", ["--dir", "c", "init"], {}),
    ):
        (tmp_path / name).mkdir()
        base = {k: v for k, v in os.environ.items() if k != "AIMEM_DIR"}
        done = run_aimem(*args, cwd=tmp_path, env={"AIMEM_DIR": ""} | base | env)
        assert done.returncode == 0, done.stderr
        assert not (tmp_path / name / "ai_memory.db").exists()
        code, out, err = run_without_env("stats", "--json", cwd=tmp_path / name)
        assert code == 0, err
        assert orjson.loads(out)["memory_directory"] == str(tmp_path / name / "AIMemory")


def test_init_keeps_an_existing_repository_where_it_is(tmp_path: Path) -> None:
    # A repository made by the Python API in a folder of another name is reused,
    # not nested: init PATH and --dir PATH both find it.
    legacy = tmp_path / "legacy"
    AIMemory(legacy).close()
    assert (
        ok("init", str(legacy)).stdout == f"Reinitialized existing aimem repository in {legacy}\n"
    )
    assert ok("--dir", str(legacy), "init").stdout.endswith(f"repository in {legacy}\n")
    assert not (legacy / "AIMemory").exists()


def test_c_init_with_a_relative_path(tmp_path: Path, no_env: dict[str, str]) -> None:
    (tmp_path / "p").mkdir()
    ok("-C", str(tmp_path / "p"), "init", "sub")
    assert (tmp_path / "p" / "sub" / "AIMemory" / "ai_memory.db").is_file()


# ---- errors name the setting that pointed wrong ------------------------------


def test_dir_that_holds_no_repository(tmp_path: Path) -> None:
    missing = tmp_path / "x"
    result = fails(1, "--dir", str(missing), "stats")
    assert result.stderr == (
        f"aimem: error: not an aimem repository: --dir {missing} (no such folder)\n"
        f"hint: run 'aimem --dir {missing} init' to create {missing / 'AIMemory'}\n"
    )
    missing.mkdir()
    result = fails(1, "--dir", str(missing), "models")
    assert result.stderr.splitlines()[0] == (
        f"aimem: error: not an aimem repository: --dir {missing} "
        "(no ai_memory.db in it or in its AIMemory/)"
    )
    assert sorted(missing.iterdir()) == []  # nothing was created


def test_wrong_dir_and_aimem_dir_suggest_the_repository(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = project / "src"
    result = fails(1, "--dir", str(src), "stats")
    assert result.stderr.splitlines()[1] == f"hint: did you mean --dir {project / 'AIMemory'}?"
    monkeypatch.setenv("AIMEM_DIR", str(src / "deep" / "nothing"))
    result = fails(1, "recent")
    assert result.stderr == (
        f"aimem: error: not an aimem repository: AIMEM_DIR={src / 'deep' / 'nothing'} "
        "(no such folder)\n"
        f"hint: did you mean AIMEM_DIR={project / 'AIMemory'}?\n"
    )


def test_search_errors_name_the_folder_searched_from(tmp_path: Path) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    result = fails(1, "-C", str(lone), "stats")
    assert result.stderr == (
        f"aimem: error: not an aimem repository: -C {lone} (no AIMemory/ in {lone} or any parent)\n"
        f"hint: run 'aimem -C {lone} init' to create {lone / 'AIMemory'}, "
        "or name one with --dir DIR\n"
    )


def test_typer_free_path_reports_like_typer(tmp_path: Path) -> None:
    (tmp_path / "lone").mkdir()
    for args in (["-C", "lone", "stats"], ["--dir", "lone", "stats", "--json"]):
        code, _, err = run_without_env(*args, cwd=tmp_path)
        full = invoke(*args)
        assert code == full.exit_code == 1
        assert err == full.stderr
        assert "lone" in err.splitlines()[0]


def test_python_api_names_the_path() -> None:
    with pytest.raises(NotARepositoryError) as caught:
        AIMemory(locate("nowhere", command_line=True), create=False)
    assert caught.value.message.startswith("not an aimem repository: --dir ")
    with pytest.raises(NotARepositoryError) as plain:
        AIMemory("nowhere", create=False)
    assert plain.value.message == (
        f"not an aimem repository: {Path.cwd() / 'nowhere'} (no such folder)"
    )


# ---- a global option after the command ---------------------------------------


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["stats", "--dir", "X"], "--dir is a global option: aimem --dir X stats"),
        (["stats", "--dir=X"], "--dir is a global option: aimem --dir=X stats"),
        (["recent", "30", "-C", "/p"], "-C is a global option: aimem -C /p recent 30"),
        (
            ["kb", "show", "--dir", "my dir"],
            "--dir is a global option: aimem --dir 'my dir' kb show",
        ),
        (["models", "--version"], "--version is a global option: aimem --version"),
        (["stats", "-V"], "-V is a global option: aimem -V"),
    ],
)
def test_misplaced_global_option_gets_a_hint(args: list[str], hint: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("aimem: error: No such option: ")
    assert lines[1:] == [f"hint: {hint}"]


def test_misplaced_global_option_through_the_console_script(tmp_path: Path) -> None:
    done = run_aimem("-C", str(tmp_path), "stats", "--dir", "X")
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == [
        "aimem: error: No such option: --dir",
        f"hint: --dir is a global option: aimem --dir X -C {tmp_path} stats",
    ]


def test_an_unknown_option_keeps_the_usual_hint() -> None:
    result = invoke("stats", "--bogus")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1] == "hint: see 'aimem stats --help'"
