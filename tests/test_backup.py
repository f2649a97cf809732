"""Backup bundles through the public API: create, verify, restore; hostile and damaged
bundles refused with the target unchanged; retention; snapshots under concurrent writers."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from aimem import AIMemory, BundleError
from aimem.ops.setup import init_repository
from tests.conftest import issue, response
from tests.transfer_helpers import db_digest, learned_state, rows_without_id


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    root = tmp_path / "A"
    init_repository(directory=root, demo=True)
    return root


@pytest.fixture
def bundle(demo: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "bundles"
    dest.mkdir()
    with AIMemory(demo) as memory:
        return Path(memory.backup(dest)["bundle"])


def _members(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(path) as tar:
        out = []
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            out.append((info, handle.read() if handle else b""))
        return out


def _write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            if info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)


def _manifest(members: list[tuple[tarfile.TarInfo, bytes]]) -> dict[str, Any]:
    return dict(orjson.loads(members[0][1]))


def test_backup_verify_restore_round_trip(demo: Path, bundle: Path, tmp_path: Path) -> None:
    assert bundle.stat().st_mode & 0o777 == 0o600
    names = [info.name for info, _ in _members(bundle)]
    assert names == ["manifest.json", "ai_memory.db.zst", "knowledge_base.json"]
    manifest = _manifest(_members(bundle))
    assert manifest["format"] == "aimem-bundle" and manifest["format_version"] == 1
    assert manifest["counts"]["fix_history"] == 480
    assert {"aimem_version", "schema_version", "created_at", "repository_id"} <= set(manifest)
    for entry in manifest["members"]:
        assert set(entry) == {"name", "path", "compression", "size", "sha256", "stored_size"}
    report = AIMemory.verify_bundle(bundle)
    assert report["ok"] and report["problems"] == []
    target = tmp_path / "restored"
    summary = AIMemory.restore_bundle(bundle, target)
    assert summary["replaced"] is False
    with AIMemory(demo) as source, AIMemory(target) as restored:
        assert rows_without_id(restored) == rows_without_id(source)
        assert learned_state(restored) == learned_state(source)
        assert restored.knowledge_file.state() == "current"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".aimem")) == []


def test_restore_refuses_existing_repository_without_force(
    demo: Path, bundle: Path, tmp_path: Path
) -> None:
    target = tmp_path / "other"
    with AIMemory(target) as memory:
        memory.record_fix_attempt(issue(), response("x"), True, True, 1.0)
    before = db_digest(target / "ai_memory.db")
    with pytest.raises(BundleError, match="already holds a repository"):
        AIMemory.restore_bundle(bundle, target)
    assert db_digest(target / "ai_memory.db") == before
    dry = AIMemory.restore_bundle(bundle, target, force=True, dry_run=True)
    assert dry["replaced"] is True and dry["dry_run"] is True
    assert db_digest(target / "ai_memory.db") == before
    AIMemory.restore_bundle(bundle, target, force=True)
    with AIMemory(target) as memory:
        assert memory.store.count_rows() == 480
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".aimem")]
    assert leftovers == []


def test_keep_removes_only_older_bundles_of_this_repository(demo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "bundles"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    with AIMemory(tmp_path / "other") as other:
        other.record_fix_attempt(issue(), response("x"), True, True, 1.0)
        foreign = Path(other.backup(dest)["bundle"])
    made = []
    with AIMemory(demo) as memory:
        for _ in range(3):
            summary = memory.backup(dest, keep=2)
            made.append(Path(summary["bundle"]))
        assert summary["removed"] == [str(made[0])]
    remaining = sorted(p.name for p in dest.iterdir())
    assert remaining == sorted([made[1].name, made[2].name, foreign.name, "notes.txt"])
    with AIMemory(demo) as memory, pytest.raises(BundleError, match="folder"):
        memory.backup(tmp_path / "bundles" / "x.tar", keep=1)


def _refused(bundle_path: Path, tmp_path: Path, kind: str) -> None:
    """verify reports ``kind``; restore refuses, a new target is not created, an old one kept."""
    report = AIMemory.verify_bundle(bundle_path)
    assert not report["ok"]
    assert any(p.startswith(kind) for p in report["problems"]), report["problems"]
    fresh = tmp_path / "fresh"
    with pytest.raises(BundleError):
        AIMemory.restore_bundle(bundle_path, fresh)
    assert not fresh.exists()
    existing = tmp_path / "existing"
    if not existing.exists():
        with AIMemory(existing) as memory:
            memory.record_fix_attempt(issue(), response("x"), True, True, 1.0)
    before = db_digest(existing / "ai_memory.db")
    with pytest.raises(BundleError):
        AIMemory.restore_bundle(bundle_path, existing, force=True)
    assert db_digest(existing / "ai_memory.db") == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aimem-restore")] == []
    assert not (tmp_path / "evil").exists()


def test_flipped_byte_is_refused(bundle: Path, tmp_path: Path) -> None:
    members = _members(bundle)
    db_info, data = members[1]
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    members[1] = (db_info, bytes(flipped))
    bad = tmp_path / "flipped.tar"
    _write_tar(bad, members)
    report = AIMemory.verify_bundle(bad)
    assert any(p.startswith(("hash-mismatch", "corrupt-member")) for p in report["problems"])
    _refused(bad, tmp_path, "")


def test_flipped_byte_in_knowledge_base_is_a_hash_mismatch(bundle: Path, tmp_path: Path) -> None:
    members = _members(bundle)
    info, data = members[2]
    members[2] = (info, data.replace(b"{", b"[", 1))
    bad = tmp_path / "kb.tar"
    _write_tar(bad, members)
    _refused(bad, tmp_path, "hash-mismatch knowledge_base.json")


def test_truncated_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "truncated.tar"
    data = bundle.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    _refused(bad, tmp_path, "")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("../evil", "unsafe-member"),
        ("/tmp/evil", "unsafe-member"),
        ("archive/../../evil", "unsafe-member"),
    ],
)
def test_path_escaping_member_is_refused(
    bundle: Path, tmp_path: Path, name: str, kind: str
) -> None:
    members = _members(bundle)
    info = tarfile.TarInfo(name)
    members.append((info, b"owned"))
    bad = tmp_path / "escape.tar"
    _write_tar(bad, members)
    _refused(bad, tmp_path, kind)


def test_manifest_listing_a_dotdot_path_is_refused(bundle: Path, tmp_path: Path) -> None:
    members = _members(bundle)
    manifest = _manifest(members)
    manifest["members"][1]["path"] = "../evil"
    members[0] = (members[0][0], orjson.dumps(manifest))
    bad = tmp_path / "manifest.tar"
    _write_tar(bad, members)
    _refused(bad, tmp_path, "unsafe-member")


def test_symlink_member_is_refused(bundle: Path, tmp_path: Path) -> None:
    members = _members(bundle)
    link = tarfile.TarInfo("knowledge_base.json")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    members[2] = (link, b"")
    bad = tmp_path / "link.tar"
    _write_tar(bad, members)
    _refused(bad, tmp_path, "unsafe-member knowledge_base.json: link")


def test_member_larger_than_manifest_is_refused(bundle: Path, tmp_path: Path) -> None:
    members = _members(bundle)
    info, data = members[2]
    members[2] = (info, data + b" ")
    bad = tmp_path / "bigger.tar"
    _write_tar(bad, members)
    _refused(bad, tmp_path, "size-mismatch knowledge_base.json")


def test_decompression_bomb_is_refused(bundle: Path, tmp_path: Path) -> None:
    members = _members(bundle)
    manifest = _manifest(members)
    bomb = zstandard.ZstdCompressor().compress(b"\0" * (64 * 1024 * 1024))
    manifest["members"][0]["stored_size"] = len(bomb)
    members[0] = (members[0][0], orjson.dumps(manifest))
    members[1] = (members[1][0], bomb)
    bad = tmp_path / "bomb.tar"
    _write_tar(bad, members)
    # Zeros are not a database: refused on the first block, before the rest inflates.
    _refused(bad, tmp_path, "corrupt-member ai_memory.db.zst: not a SQLite database")


def test_unknown_format_version_is_refused(bundle: Path, tmp_path: Path) -> None:
    members = _members(bundle)
    manifest = _manifest(members)
    manifest["format_version"] = 99
    members[0] = (members[0][0], orjson.dumps(manifest))
    bad = tmp_path / "future.tar"
    _write_tar(bad, members)
    _refused(bad, tmp_path, "unsupported-version")


def test_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "x.tar").write_bytes(b"hello")
    assert AIMemory.verify_bundle(tmp_path / "x.tar")["problems"][0].startswith("unreadable")
    with pytest.raises(BundleError, match="no such bundle"):
        AIMemory.verify_bundle(tmp_path / "missing.tar")


WRITER = """
import sys
from aimem import AIMemory
with AIMemory(sys.argv[1]) as memory:
    n = 0
    while True:
        memory.record_fix_attempt(
            {"model": "m:%s" % (n % 3), "issue_type": "TIMEOUT", "description": "t %d" % n},
            {"analysis": "a", "fix_commands": ["fix %d" % (n % 4)]},
            n % 2 == 0, True, 1.0, fixer_type="qwen")
        n += 1
"""


@pytest.mark.slow
def test_backup_while_other_processes_write(tmp_path: Path) -> None:
    root = tmp_path / "A"
    with AIMemory(root) as memory:
        memory.record_fix_attempt(issue(), response("x"), True, True, 1.0)
    env = {**os.environ, "AIMEM_SYNCHRONOUS": "NORMAL"}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root)], env=env) for _ in range(2)
    ]
    dest = tmp_path / "bundles"
    dest.mkdir()
    bundles = []
    try:
        with AIMemory(root) as memory:
            deadline = time.monotonic() + 60
            while memory.store.count_rows() < 50 and time.monotonic() < deadline:
                time.sleep(0.05)
            for _ in range(3):
                bundles.append(Path(memory.backup(dest)["bundle"]))
                time.sleep(0.1)
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
    counts = []
    for n, path in enumerate(bundles):
        report = AIMemory.verify_bundle(path)
        assert report["ok"], report["problems"]
        target = tmp_path / f"R{n}"
        AIMemory.restore_bundle(path, target)
        with AIMemory(target) as restored:
            rows = restored.store.count_rows()
            stats = restored.get_memory_stats()
            assert (
                stats["total_fixes_attempted"]
                == rows
                == report["manifest"]["counts"]["fix_history"]
            )
            pattern_total = sum(
                p["success_count"] + p["failure_count"] for p in restored.store.exact_patterns()
            )
            assert pattern_total == rows
        counts.append(rows)
    assert counts == sorted(counts) and counts[-1] > 1


RESTORER = """
import sys
from aimem import AIMemory
AIMemory.restore_bundle(sys.argv[1], sys.argv[2], force=True)
"""


@pytest.mark.slow
def test_kill_during_restore_leaves_old_or_new_repository(tmp_path: Path) -> None:
    new_root = tmp_path / "new"
    with AIMemory(new_root) as memory:
        memory.record_many(
            {
                "issue_data": issue(description=f"timeout {n}"),
                "ai_response": response(f"fix {n % 7}"),
                "fix_success": True,
                "verification_success": n % 3 == 0,
                "execution_time": 1.0,
                "notes": "x" * 200,
            }
            for n in range(3000)
        )
        bundle = Path(memory.backup(tmp_path)["bundle"])
    target = tmp_path / "target"
    with AIMemory(target) as memory:
        memory.record_fix_attempt(issue(), response("old"), True, True, 1.0)
    seen = set()
    for delay in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6):
        child = subprocess.Popen([sys.executable, "-c", RESTORER, str(bundle), str(target)])
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        conn = sqlite3.connect(f"file:{target / 'ai_memory.db'}?mode=ro", uri=True)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = conn.execute("SELECT count(*) FROM fix_history").fetchone()[0]
        finally:
            conn.close()
        assert rows in (1, 3000)
        seen.add(rows)
        if rows == 3000:  # put the old one back for the next round
            import shutil

            shutil.rmtree(target)
            with AIMemory(target) as memory:
                memory.record_fix_attempt(issue(), response("old"), True, True, 1.0)
    assert seen  # at least one outcome observed; each one intact


def _with_archive(root: Path) -> None:
    old = datetime.now(timezone.utc) - timedelta(days=400)
    with AIMemory(root) as memory:
        for n in range(25):
            memory.record_fix_attempt(
                issue(description=f"timeout {n % 5}"),
                response(f"fix {n % 3}"),
                n % 2 == 0,
                True,
                1.0,
                timestamp=(old + timedelta(days=n * 16)).isoformat(),
            )
        assert memory.cleanup(30)["segments"]


def test_export_include_archive_and_bundle_segments(tmp_path: Path) -> None:
    root = tmp_path / "A"
    _with_archive(root)
    with AIMemory(root) as memory:
        hot = memory.store.count_rows()
        assert 0 < hot < 25
        summary = memory.export_records(tmp_path / "all.ndjson", include_archive=True)
        assert summary["records"] == 25
        stats = memory.get_memory_stats()
        segments = sorted(s["name"] for s in memory.archive_segments())
        bundle = Path(memory.backup(tmp_path)["bundle"])
    with AIMemory(tmp_path / "B") as merged:
        assert merged.import_records(tmp_path / "all.ndjson")["added"] == 25
        got = merged.get_memory_stats()
        for key in ("total_fixes_attempted", "successful_fixes", "models_encountered"):
            assert got[key] == stats[key]
    names = [info.name for info, _ in _members(bundle)]
    assert [n for n in names if n.startswith("archive/")] == [f"archive/{s}" for s in segments]
    assert AIMemory.verify_bundle(bundle)["ok"]
    AIMemory.restore_bundle(bundle, tmp_path / "R")
    with AIMemory(tmp_path / "R") as restored:
        assert sorted(s["name"] for s in restored.archive_segments()) == segments
        assert restored.get_memory_stats()["total_fixes_attempted"] == 25
        assert sum(1 for _ in restored.iter_archived_rows()) == 25 - hot


def test_backup_needs_a_destination_and_never_writes_here(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    with AIMemory(demo) as memory, pytest.raises(BundleError, match="no backup destination"):
        memory.backup()
    assert sorted(os.listdir(tmp_path)) == before
    dest = tmp_path / "configured"
    dest.mkdir()
    with AIMemory(demo) as memory:
        assert memory.set_backup_destination(dest) == dest.resolve()
        assert memory.backup_destination() == dest.resolve()
        made = Path(memory.backup()["bundle"])
    assert made.parent == dest.resolve()
    assert AIMemory.find_bundle("latest", demo) == made
    monkeypatch.setenv("AIMEM_BACKUP_DIR", str(tmp_path))
    with AIMemory(demo) as memory:
        assert memory.backup_destination() == tmp_path


def test_retention_is_checked_and_combines_rules(demo: Path, tmp_path: Path) -> None:
    from aimem.ops.backup import Retention, parse_duration

    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    for bad in ("", "0d", "5x", "7 days", "h", "99999999w"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    for policy in (Retention(), Retention(last=-1, daily=2), Retention(within=timedelta(0))):
        with pytest.raises(BundleError):
            Retention.of(policy)
    with pytest.raises(BundleError, match="keep"):
        Retention.of(0)
    dest = tmp_path / "b"
    dest.mkdir()
    with AIMemory(demo) as memory:
        made = [Path(memory.backup(dest)["bundle"]) for _ in range(3)]
        plan = memory.prune_bundles(dest, Retention(last=1, within=timedelta(hours=1)), True)
        assert [e["keep"] for e in plan["bundles"]] == [True, True, True]
        assert plan["bundles"][0]["reasons"] == ["last", "within"]
        done = memory.prune_bundles(dest, 2)
    assert done["removed"] == [str(made[0])]
    assert sorted(dest.iterdir()) == made[1:]
