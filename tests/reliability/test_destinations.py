"""Destinations and faults of export, backup and kb export, through the CLI: special
files written into, never replaced; folders refused in one line; temp files of
killed runs removed by the next run; disk full in one line; backups beside a
concurrent thaw."""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimem import AIMemory, InvalidInputError
from aimem.cli.app import app
from tests.archive_helpers import seeded
from tests.reliability.bundle_helpers import archived_repository, tree_digest
from tests.reliability.conftest import aimem_argv, assert_one_line_error, child_env

PAUSED_AIMEM = Path(__file__).with_name("paused_aimem.py")

WRITERS = (
    ("export",),
    ("backup",),
    ("kb", "export"),
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return archived_repository(tmp_path / "A", count=80)


def _device(path: Path) -> Path:
    """A character device like /dev/null (1, 3), made here so that a failure
    cannot replace the machine's own."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD")
    return path


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: " ".join(c))
def test_device_is_written_into_not_replaced(
    runner: CliRunner, repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    null = _device(tmp_path / "null")
    done = runner.invoke(app, ["--dir", str(repo), *command, str(null)])
    assert done.exit_code == 0, done.output
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aimem-")] == []


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as handle:
            into.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: " ".join(c))
def test_named_pipe_is_written_into(
    runner: CliRunner, repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o600)
    received: list[bytes] = []
    reader = _read_fifo(fifo, received)
    done = runner.invoke(app, ["--dir", str(repo), *command, str(fifo)])
    reader.join(30)
    assert done.exit_code == 0, done.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    plain = tmp_path / "plain"
    assert runner.invoke(app, ["--dir", str(repo), *command, str(plain)]).exit_code == 0
    if command == ("backup",):  # a bundle names its time: compare what verify sees
        streamed = tmp_path / "streamed.tar"
        streamed.write_bytes(received[0])
        assert runner.invoke(app, ["verify", str(streamed)]).exit_code == 0
        assert len(received[0]) == plain.stat().st_size
    else:
        assert received == [plain.read_bytes()]


@pytest.mark.parametrize("command", [("export",), ("kb", "export")], ids=["export", "kb export"])
def test_folder_is_a_one_line_error(
    runner: CliRunner, repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    before = tree_digest(folder)
    done = runner.invoke(app, ["--dir", str(repo), *command, str(folder)])
    assert done.exit_code in (1, 2)  # kb export's FILE argument is checked as a usage error
    assert_one_line_error(done.stderr.encode())
    assert "is a folder" in done.stderr or "is a directory" in done.stderr
    with AIMemory(repo) as memory, pytest.raises(InvalidInputError, match="is a folder"):
        if command == ("export",):
            memory.export_records(folder)
        else:
            memory.export_knowledge_base(folder)
    assert tree_digest(folder) == before


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: " ".join(c))
def test_regular_file_is_replaced_atomically(
    runner: CliRunner, repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    out = tmp_path / "out"
    out.write_bytes(b"old")
    before = os.stat(out).st_ino
    link = tmp_path / "link"
    link.symlink_to(out)
    done = runner.invoke(app, ["--dir", str(repo), *command, str(link)])
    assert done.exit_code == 0, done.output
    assert link.is_symlink()  # the file it names was replaced, not the link
    assert os.stat(out).st_ino != before and out.read_bytes() != b"old"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


# ---- faults ------------------------------------------------------------------


def _paused(args: list[str], step: str, tmp_path: Path, seconds: float = 600) -> subprocess.Popen:
    """Start ``aimem ARGS`` and return once it sleeps at ``step`` (see paused_aimem.py)."""
    signal_file = tmp_path / f"paused-{step}"
    signal_file.unlink(missing_ok=True)
    env = child_env(PAUSED_AIMEM_SECONDS=str(seconds))
    child = subprocess.Popen(
        [sys.executable, str(PAUSED_AIMEM), step, str(signal_file), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not signal_file.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return child


def _killed(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(30)


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".aimem-tmp-"))


def test_killed_export_leftover_is_removed_by_the_next_export(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    child = _paused(
        ["--dir", str(repo), "export", str(out / "rows.ndjson")], "output-written", tmp_path
    )
    _killed(child)
    assert len(_temps(out)) == 1 and not (out / "rows.ndjson").exists()
    done = subprocess.run(
        aimem_argv("--dir", str(repo), "export", str(out / "other.ndjson")),
        env=child_env(),
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    assert _temps(out) == []


def test_killed_backup_leftover_is_removed_by_the_next_backup(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundles"
    out.mkdir()
    child = _paused(["--dir", str(repo), "backup", str(out)], "backup-snapshot-taken", tmp_path)
    _killed(child)
    assert len(_temps(out)) == 1
    done = subprocess.run(
        aimem_argv("--dir", str(repo), "backup", str(out)), env=child_env(), capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert _temps(out) == [] and len(list(out.glob("aimem-*.tar"))) == 1


def test_leftovers_inside_the_repository_are_reported_and_repaired(
    runner: CliRunner, repo: Path, tmp_path: Path
) -> None:
    inside = repo / "backups"
    inside.mkdir()
    for args, step in (
        (["export", str(repo / "rows.ndjson")], "output-written"),
        (["backup", str(inside)], "backup-snapshot-taken"),
    ):
        _killed(_paused(["--dir", str(repo), *args], step, tmp_path))
    left = sorted(
        str(p.relative_to(repo))
        for p in repo.rglob(".aimem-tmp-*")
        if p.parent.name != ".aimem-tmp-"
    )
    left = [name for name in left if name.count(".aimem-tmp-") == 1]
    assert len(left) == 2, left
    report = runner.invoke(app, ["--dir", str(repo), "check"])
    assert report.exit_code == 0, report.output  # a hint, not an error
    for name in left:
        assert f"leftover-temp {name}: left by an interrupted write" in report.stdout
    repaired = runner.invoke(app, ["--dir", str(repo), "check", "--repair", "--yes"])
    assert repaired.exit_code == 0, repaired.output
    assert list(repo.rglob(".aimem-tmp-*")) == []


def _file_size_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: " ".join(c))
def test_disk_full_is_one_line_and_changes_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    repo = tmp_path / "big"
    seeded(repo, count=600)  # every output is well over the limit below
    out = tmp_path / "out"
    out.mkdir()
    target = out / "dest"
    target.write_bytes(b"previous")
    before = tree_digest(repo)
    # Writes past 64 KiB fail with EFBIG (Python ignores SIGXFSZ), as on a
    # full disk; SQLite's 32 KiB shared-memory file still fits.
    done = subprocess.run(
        aimem_argv("--dir", str(repo), *command, str(target)),
        env=child_env(),
        capture_output=True,
        preexec_fn=_file_size_limit(64 << 10),
    )
    assert done.returncode == 1, done.stderr
    assert_one_line_error(done.stderr)
    assert b"no space to write" in done.stderr or b"the disk may be full" in done.stderr
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in out.iterdir()) == ["dest"]

    # Bytes compared, except SQLite's own -wal/-shm and the (empty) lock files.
    def kept(tree: dict[str, str]) -> dict[str, str]:
        return {
            k: v
            for k, v in tree.items()
            if not k.startswith("ai_memory.db-") and not k.endswith(".lock")
        }

    assert kept(tree_digest(repo)) == kept(before)


@pytest.mark.slow
def test_backup_beside_a_concurrent_thaw(runner: CliRunner, repo: Path, tmp_path: Path) -> None:
    with AIMemory(repo) as memory:
        (segment,) = [s["name"] for s in memory.archive_segments()]
    out = tmp_path / "bundles"
    out.mkdir()
    # The backup stops after its snapshot (which names the segment) for 2 s;
    # the thaw that retires the segment waits for it instead of failing it.
    backup = _paused(
        ["--dir", str(repo), "backup", str(out)], "backup-snapshot-taken", tmp_path, seconds=2
    )
    thaw = subprocess.run(
        aimem_argv("--dir", str(repo), "archive", "thaw", segment),
        env=child_env(),
        capture_output=True,
        timeout=120,
    )
    _, stderr = backup.communicate(timeout=120)
    assert backup.returncode == 0, stderr
    assert thaw.returncode == 0, thaw.stderr
    (bundle,) = out.glob("aimem-*.tar")
    assert runner.invoke(app, ["verify", str(bundle)]).exit_code == 0
    assert not (repo / "archive" / segment).exists()


def test_repository_files_are_replaced_never_followed(
    runner: CliRunner, repo: Path, tmp_path: Path
) -> None:
    # A link planted in place of the repository's own knowledge base file is
    # replaced; the file it names is not written (aimem may run as root).
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not aimem's")
    kb = repo / "knowledge_base.json"
    kb.unlink()
    kb.symlink_to(outside)
    done = runner.invoke(
        app,
        [
            "--dir",
            str(repo),
            "record",
            "-m",
            "qwen2.5:7b",
            "-t",
            "TIMEOUT",
            "-d",
            "slow",
            "--success",
            "--verified",
        ],
    )
    assert done.exit_code == 0, done.output
    assert outside.read_bytes() == b"not aimem's"  # a modified file is left alone ...
    repaired = runner.invoke(app, ["--dir", str(repo), "check", "--repair", "--yes"])
    assert repaired.exit_code == 0, repaired.output
    assert outside.read_bytes() == b"not aimem's"  # ... and --repair replaces the link itself
    assert not kb.is_symlink() and kb.is_file()
