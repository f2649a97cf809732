"""Everything at once, and kill -9 during import and backup.

Several real processes record, import, archive, back up and check one
repository at the same time; afterwards every record is there exactly once
(hot or archived) and ``aimem check`` is clean. Killed imports are all or
nothing; a killed backup leaves no bundle or a bundle that verifies.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from aimem import AIMemory
from tests.reliability.conftest import aimem_argv, child_env, items, ndjson, row_count

pytestmark = pytest.mark.slow


def _all_uids(repo: Path) -> list[str]:
    with AIMemory(repo, create=False) as memory:
        hot = [row["uid"] for row in memory.store.iter_rows()]
        archived = [row["uid"] for row in memory.iter_archived_rows()]
    return hot + archived


def _export_rows(count: int, seed: int, tag: str, folder: Path) -> Path:
    # Rows for 'aimem import', in the export row format, made by a scratch repository.
    scratch = folder / f"scratch-{tag}"
    with AIMemory(scratch) as memory:
        memory.record_many(items(count, seed=seed, tag=tag))
        target = folder / f"{tag}.ndjson"
        memory.export_records(target, "ndjson")
    return target


def test_record_import_archive_backup_check_at_once(seeded: Path, tmp_path: Path) -> None:
    env = child_env(AIMEM_DIR=str(seeded))
    batches = []
    for n in range(3):
        batch = tmp_path / f"batch{n}.ndjson"
        batch.write_bytes(ndjson(items(60, seed=100 + n, tag=f"w{n}")))
        batches.append(batch)
    imported = _export_rows(80, seed=200, tag="imp", folder=tmp_path)
    expected = {orjson.loads(line)["uid"] for line in imported.read_bytes().splitlines()}
    expected |= set(_all_uids(seeded))
    backups = tmp_path / "backups"
    backups.mkdir()
    commands = [aimem_argv("record", "--input", str(b)) for b in batches]
    commands += [
        aimem_argv("import", str(imported)),
        aimem_argv("cleanup", "0", "--yes"),
        aimem_argv("backup", str(backups)),
        aimem_argv("check", "--quick"),
    ]
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for argv in commands
    ]
    for argv, proc in zip(commands, procs, strict=True):
        _, err = proc.communicate(timeout=300)
        # check may legitimately see a cleanup half-way; every other command must succeed.
        if "check" not in argv:
            assert proc.returncode == 0, (argv, err.decode())
        assert b"Traceback" not in err
        assert b"locked" not in err
    uids = _all_uids(seeded)
    assert len(uids) == len(set(uids)), "a record is both hot and archived, or twice"
    assert len(uids) == len(expected) + 3 * 60
    assert expected <= set(uids)
    final = subprocess.run(aimem_argv("check"), env=env, capture_output=True, timeout=300)
    assert final.returncode == 0, final.stdout.decode() + final.stderr.decode()
    (bundle,) = list(backups.iterdir())
    verified = subprocess.run(aimem_argv("verify", str(bundle)), env=env, capture_output=True)
    assert verified.returncode == 0, verified.stdout.decode()


def _kill_after(argv: list[str], env: dict[str, str], delay: float) -> None:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def test_kill_during_import_is_all_or_nothing(seeded: Path, tmp_path: Path) -> None:
    env = child_env(AIMEM_DIR=str(seeded))
    source = _export_rows(300, seed=300, tag="kill", folder=tmp_path)
    argv = aimem_argv("import", str(source))
    before = row_count(seeded)
    started = time.perf_counter()
    probe_repo = tmp_path / "probe"
    AIMemory(probe_repo).close()
    subprocess.run(aimem_argv("--dir", str(probe_repo), "import", str(source)), env=env, check=True)
    full = time.perf_counter() - started
    for fraction in (0.3, 0.6, 0.8, 0.95):
        _kill_after(argv, env, full * fraction)
        now = row_count(seeded)
        assert now - before in (0, 300), "an import was partly applied"
        before = now
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert row_count(seeded) == 40 + 300
    check = subprocess.run(aimem_argv("check"), env=env, capture_output=True, timeout=120)
    assert check.returncode == 0, check.stdout.decode()


def test_kill_during_backup_leaves_no_bundle_or_a_good_one(seeded: Path, tmp_path: Path) -> None:
    env = child_env(AIMEM_DIR=str(seeded))
    with AIMemory(seeded, create=False) as memory:
        memory.record_many(items(400, seed=400, tag="big"))
    probe = tmp_path / "probe"
    probe.mkdir()
    started = time.perf_counter()
    subprocess.run(aimem_argv("backup", str(probe)), env=env, check=True, capture_output=True)
    full = time.perf_counter() - started
    for n, fraction in enumerate((0.3, 0.6, 0.8, 0.95)):
        dest = tmp_path / f"dest{n}"
        dest.mkdir()
        _kill_after(aimem_argv("backup", str(dest)), env, full * fraction)
        bundles = [p for p in dest.iterdir() if p.name.startswith("aimem-") and p.suffix == ".tar"]
        for bundle in bundles:
            result = subprocess.run(aimem_argv("verify", str(bundle)), env=env, capture_output=True)
            assert result.returncode == 0, result.stdout.decode()
    check = subprocess.run(aimem_argv("check", "--repair", "--yes"), env=env, capture_output=True)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert subprocess.run(aimem_argv("check"), env=env, capture_output=True).returncode == 0
