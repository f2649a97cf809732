"""Restore targets and repository ids through the CLI: refusals before anything is
replaced, --dry-run creates nothing, no leftover folders, pruning never crosses
repositories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AIMemory, BundleError
from aimem.cli.app import app
from tests.reliability.bundle_helpers import (
    archived_repository,
    read_members,
    tree_digest,
    write_members,
)
from tests.reliability.conftest import assert_one_line_error


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, Path]:
    """(repository A, a folder holding one bundle of A)."""
    repo = archived_repository(tmp_path / "A", count=60)
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    with AIMemory(repo) as memory:
        memory.backup(bundles)
    return repo, bundles


def _bundles(folder: Path) -> list[Path]:
    return sorted(folder.glob("aimem-*.tar"))


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True
    )
    return int(child.stdout)


def test_symlinked_target_is_refused_before_anything_changes(
    runner: CliRunner, origin: tuple[Path, Path], tmp_path: Path
) -> None:
    real = archived_repository(tmp_path / "real", count=20)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    before = tree_digest(link)
    (bundle,) = _bundles(origin[1])
    done = runner.invoke(app, ["--dir", str(link), "restore", str(bundle), "--force", "--yes"])
    assert done.exit_code == 1
    assert_one_line_error(done.stderr.encode())
    assert "is a symbolic link" in done.stderr
    assert link.is_symlink() and tree_digest(link) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aimem-")] == []


def test_dry_run_creates_no_folder(
    runner: CliRunner, origin: tuple[Path, Path], tmp_path: Path
) -> None:
    (bundle,) = _bundles(origin[1])
    target = tmp_path / "new" / "deeper" / "AIMemory"
    done = runner.invoke(app, ["--dir", str(target), "restore", str(bundle), "--dry-run"])
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("would create ")
    assert not (tmp_path / "new").exists()


def test_target_that_is_a_file_is_refused(
    runner: CliRunner, origin: tuple[Path, Path], tmp_path: Path
) -> None:
    (bundle,) = _bundles(origin[1])
    target = tmp_path / "file"
    target.write_bytes(b"mine")
    done = runner.invoke(app, ["--dir", str(target), "restore", str(bundle), "--force", "--yes"])
    assert done.exit_code == 2  # --dir must name a folder: a usage error
    assert_one_line_error(done.stderr.encode())
    assert target.read_bytes() == b"mine"
    with pytest.raises(BundleError, match="is not a folder"):
        AIMemory.restore_bundle(bundle, target, force=True)
    assert target.read_bytes() == b"mine"


def test_stale_staging_of_a_killed_restore_is_removed(
    runner: CliRunner, origin: tuple[Path, Path], tmp_path: Path
) -> None:
    (bundle,) = _bundles(origin[1])
    stale = tmp_path / f".aimem-restore-AIMemory.{_dead_pid()}.1"
    stale.mkdir()
    (stale / "ai_memory.db").write_bytes(b"half written")
    done = runner.invoke(app, ["--dir", str(tmp_path / "AIMemory"), "restore", str(bundle)])
    assert done.exit_code == 0, done.output
    assert not stale.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aimem-")] == []


def test_failed_restore_leaves_no_folder(
    runner: CliRunner, origin: tuple[Path, Path], tmp_path: Path
) -> None:
    (bundle,) = _bundles(origin[1])
    members = read_members(bundle)
    name, data = members[2]
    members[2] = (name, data[:-1] + bytes([data[-1] ^ 1]))  # one flipped bit late in a member
    bad = write_members(tmp_path / "bad.tar", members)
    target = archived_repository(tmp_path / "B", count=20)
    before = tree_digest(target)
    done = runner.invoke(app, ["--dir", str(target), "restore", str(bad), "--force", "--yes"])
    assert done.exit_code == 1
    assert_one_line_error(done.stderr.encode())
    assert tree_digest(target) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aimem-")] == []


def _repository_id(bundle: Path) -> str:
    return str(orjson.loads(read_members(bundle)[0][1])["repository_id"])


def test_restored_copy_gets_its_own_id_and_never_prunes_the_origin(
    runner: CliRunner, origin: tuple[Path, Path], tmp_path: Path
) -> None:
    repo_a, folder = origin
    assert runner.invoke(app, ["--dir", str(repo_a), "backup", str(folder)]).exit_code == 0
    a_bundles = _bundles(folder)
    assert len(a_bundles) == 2
    repo_b = tmp_path / "B"
    done = runner.invoke(app, ["--dir", str(repo_b), "restore", str(a_bundles[-1])])
    assert done.exit_code == 0, done.output
    for _ in range(2):
        done = runner.invoke(app, ["--dir", str(repo_b), "backup", str(folder), "--keep", "1"])
        assert done.exit_code == 0, done.output
    b_bundles = [p for p in _bundles(folder) if p not in a_bundles]
    assert len(b_bundles) == 1  # B pruned its own older bundle ...
    assert all(p.exists() for p in a_bundles)  # ... and none of A's
    assert _repository_id(b_bundles[0]) != _repository_id(a_bundles[0])


def test_copied_folder_gets_its_own_id(
    runner: CliRunner, origin: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    repo_a, folder = origin
    a_bundles = _bundles(folder)
    copy = tmp_path / "copy"
    shutil.copytree(repo_a, copy)
    done = runner.invoke(app, ["--dir", str(copy), "backup", str(folder), "--keep", "1"])
    assert done.exit_code == 0, done.output
    assert all(p.exists() for p in a_bundles)
    new = [p for p in _bundles(folder) if p not in a_bundles]
    assert _repository_id(new[0]) != _repository_id(a_bundles[0])


def test_restore_over_the_origin_keeps_its_id_and_its_series(
    runner: CliRunner, origin: tuple[Path, Path]
) -> None:
    repo_a, folder = origin
    (first,) = _bundles(folder)
    first_id = _repository_id(first)
    done = runner.invoke(app, ["--dir", str(repo_a), "restore", str(first), "--force", "--yes"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["--dir", str(repo_a), "backup", str(folder), "--keep", "1"])
    assert done.exit_code == 0, done.output
    (kept,) = _bundles(folder)
    assert kept != first and _repository_id(kept) == first_id


def test_pruning_reads_the_manifest_not_only_the_name(
    runner: CliRunner, origin: tuple[Path, Path], tmp_path: Path
) -> None:
    repo_a, folder = origin
    (mine,) = _bundles(folder)
    other = archived_repository(tmp_path / "other", count=20)
    with AIMemory(other) as memory:
        foreign = Path(memory.backup(tmp_path)["bundle"])
    # A foreign bundle renamed to look like one of A's older bundles.
    disguised = folder / f"aimem-{_repository_id(mine)}-20000101T000000.000000Z.tar"
    os.rename(foreign, disguised)
    done = runner.invoke(app, ["--dir", str(repo_a), "backup", str(folder), "--keep", "1"])
    assert done.exit_code == 0, done.output
    assert disguised.exists() and not mine.exists()


def test_one_repository_reached_through_a_link_keeps_one_id(
    runner: CliRunner, origin: tuple[Path, Path], tmp_path: Path
) -> None:
    repo_a, folder = origin
    (first,) = _bundles(folder)
    link = tmp_path / "via-link"
    link.symlink_to(repo_a, target_is_directory=True)
    done = runner.invoke(app, ["--dir", str(link), "backup", str(folder), "--keep", "1"])
    assert done.exit_code == 0, done.output
    (kept,) = _bundles(folder)  # the same series: the older bundle was pruned
    assert kept != first
