"""Where ``restore`` puts the repository: the ``init`` rule (a folder named AIMemory,
or the repository already there), ``-C`` beating ``$AIMEM_DIR``, and nothing created
when it refuses."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.cli.conftest import fails, invoke, ok, ok_json

pytestmark = pytest.mark.postgres_pending(
    "backup, verify and restore on PostgreSQL: the pgops branch"
)


@pytest.fixture
def bundle(demo: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "bundles"
    folder.mkdir()
    return Path(ok("backup", str(folder)).stdout.strip())


def _records(repository: Path) -> int:
    stats = ok_json("--dir", str(repository), "stats", "--json")
    return int(stats["total_fixes_attempted"])


def test_dir_of_another_name_gets_an_aimemory_folder(bundle: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    result = ok("--dir", str(project), "restore", str(bundle))
    assert result.stdout == f"restored {bundle} into {project / 'AIMemory'}\n"
    assert sorted(p.name for p in project.iterdir()) == ["AIMemory"]
    assert (project / "AIMemory" / "ai_memory.db").is_file()
    # discovery from the folder above finds it, as after 'aimem init project'
    found = invoke("-C", str(project), "stats", "--json", AIMEM_DIR="")
    assert found.exit_code == 0, found.stderr


def test_dir_named_aimemory_is_the_repository(bundle: Path, tmp_path: Path) -> None:
    target = tmp_path / "new" / "AIMemory"
    result = ok("--dir", str(target), "restore", str(bundle))
    assert result.stdout == f"restored {bundle} into {target}\n"
    assert (target / "ai_memory.db").is_file() and not (target / "AIMemory").exists()


def test_dir_holding_a_repository_refuses_without_force(bundle: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    ok("--dir", str(project), "restore", str(bundle))
    ok(
        "--dir",
        str(project),
        "record",
        "-m",
        "m",
        "-t",
        "TIMEOUT",
        "-d",
        "x",
        "-c",
        "y",
        "--failure",
    )
    refused = fails(1, "--dir", str(project), "restore", str(bundle))
    assert "already holds a repository" in refused.stderr
    assert str(project / "AIMemory") in refused.stderr
    assert _records(project) == 481
    ok("--dir", str(project), "restore", str(bundle), "--force", "--yes")
    assert _records(project) == 480
    assert sorted(p.name for p in project.iterdir()) == ["AIMemory"]


def test_minus_c_wins_over_aimem_dir(bundle: Path, tmp_path: Path, demo: Path) -> None:
    other = tmp_path / "other" / "AIMemory"
    ok("--dir", str(other), "restore", str(bundle))
    shutil.rmtree(demo)  # so that the search from work/ finds nothing above
    before = (other / "ai_memory.db").read_bytes()
    work = tmp_path / "work"
    work.mkdir()
    result = invoke("-C", str(work), "restore", str(bundle), AIMEM_DIR=str(other))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"restored {bundle} into {work / 'AIMemory'}\n"
    assert (other / "ai_memory.db").read_bytes() == before


def test_minus_c_below_a_repository_restores_into_it(bundle: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    ok("--dir", str(project), "restore", str(bundle))
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    dry = invoke("-C", str(deep), "restore", str(bundle), "--force", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert dry.stdout == f"would replace {project / 'AIMemory'} from {bundle}\n"
    assert not (deep / "AIMemory").exists()


def test_aimem_dir_follows_the_init_rule(bundle: Path, tmp_path: Path) -> None:
    project = tmp_path / "elsewhere"
    result = invoke("restore", str(bundle), AIMEM_DIR=str(project))
    assert result.exit_code == 0, result.stderr
    assert (project / "AIMemory" / "ai_memory.db").is_file()


def _damaged(bundle: Path, tmp_path: Path) -> Path:
    """The bundle with one byte of its database member's content flipped."""
    copy = tmp_path / "damaged.tar"
    copy.write_bytes(bundle.read_bytes())
    with tarfile.open(copy) as tar:
        info = tar.getmember("ai_memory.db.zst")
    with copy.open("r+b") as handle:
        handle.seek(info.offset_data + info.size // 2)
        byte = handle.read(1)
        handle.seek(info.offset_data + info.size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return copy


def test_a_refused_restore_creates_no_folder(bundle: Path, tmp_path: Path) -> None:
    bad = _damaged(bundle, tmp_path)
    target = tmp_path / "a" / "b" / "project"
    for args in (["--dir", str(target)], []):
        env = {} if args else {"AIMEM_DIR": str(target)}
        result = invoke(*args, "restore", str(bad), **env)
        assert result.exit_code == 1, result.stderr
        assert result.stderr.startswith("aimem: error: ")
        assert not (tmp_path / "a").exists()
    work = tmp_path / "work"
    work.mkdir()
    assert invoke("-C", str(work), "restore", str(bad)).exit_code == 1
    assert os.listdir(work) == []
