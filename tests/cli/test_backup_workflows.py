"""Backup workflows through the command line: a required or configured destination,
retention rules, ``backup list``/``prune``, ``verify DIR|latest``, ``restore latest``
and ``--quiet`` for cron."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli.conftest import fails, invoke, ok, ok_json

STAMPS = {  # ISO week 11 of 2020 starts on Monday 9 March
    "A": "20200310T120000.000000Z",
    "B": "20200310T080000.000000Z",
    "C": "20200309T200000.000000Z",
    "D": "20200308T200000.000000Z",
    "E": "20200302T100000.000000Z",
    "F": "20200220T100000.000000Z",
    "G": "20200101T000000.000000Z",
}


def _first_bundle(tmp_path: Path) -> Path:
    """One real bundle of the demo repository (which gives it its repository id)."""
    seed = tmp_path / "seed"
    seed.mkdir(exist_ok=True)
    return Path(ok("backup", str(seed)).stdout.strip())


def _repo_id(bundle: Path) -> str:
    return bundle.name.split("-")[1]


def _series(tmp_path: Path, folder: str = "bundles") -> tuple[Path, dict[str, Path]]:
    """A folder with this repository's bundles at STAMPS, a foreign repository's
    old bundle and a file of the user's."""
    real = _first_bundle(tmp_path)
    repo_id = _repo_id(real)
    dest = tmp_path / folder
    dest.mkdir()
    made = {}
    for key, stamp in STAMPS.items():
        made[key] = dest / f"aimem-{repo_id}-{stamp}.tar"
        shutil.copyfile(real, made[key])
    foreign = dest / f"aimem-{'f' * 12}-19991231T000000.000000Z.tar"
    shutil.copyfile(real, foreign)
    made["foreign"] = foreign
    (dest / "notes.txt").write_text("mine")
    return dest, made


def _names(paths: list[str]) -> set[str]:
    return {Path(p).name for p in paths}


def _flip_database_byte(bundle: Path) -> None:
    """Damage the database member's content, leaving sizes and the manifest intact."""
    with tarfile.open(bundle) as tar:
        info = tar.getmember("ai_memory.db.zst")
    offset = info.offset_data + info.size // 2
    with bundle.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


# ---- a destination is required ---------------------------------------------------


def test_backup_without_a_destination_is_a_usage_error(demo: Path, tmp_path: Path) -> None:
    before = sorted(os.listdir(tmp_path))
    result = invoke("backup")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("aimem: error: missing DEST")
    assert "--set-default DIR" in result.stderr and "AIMEM_BACKUP_DIR" in result.stderr
    assert sorted(os.listdir(tmp_path)) == before  # nothing written here


def test_set_default_then_backup_and_the_environment_wins(demo: Path, tmp_path: Path) -> None:
    stored, env = tmp_path / "stored", tmp_path / "env"
    stored.mkdir()
    env.mkdir()
    result = ok("backup", "--set-default", str(stored))
    assert result.stdout == "" and f"backups go to {stored.resolve()}" in result.stderr
    assert list(stored.iterdir()) == []  # stores the folder, writes no bundle
    first = Path(ok("backup").stdout.strip())
    assert first.parent == stored.resolve()
    result = invoke("backup", AIMEM_BACKUP_DIR=str(env))
    assert result.exit_code == 0, result.stderr
    assert Path(result.stdout.strip()).parent == env
    fails(2, "backup", str(env), "--set-default", str(stored))


def test_a_configured_folder_that_is_gone_is_never_written_as_a_file(
    demo: Path, tmp_path: Path
) -> None:
    gone = tmp_path / "gone"
    result = invoke("backup", AIMEM_BACKUP_DIR=str(gone))
    assert result.exit_code == 1 and "AIMEM_BACKUP_DIR" in result.stderr
    assert "mkdir -p" in result.stderr and not gone.exists()
    stored = tmp_path / "stored"
    stored.mkdir()
    ok("backup", "--set-default", str(stored))
    stored.rmdir()
    result = fails(1, "backup")
    assert "--set-default" in result.stderr and not stored.exists()
    assert "--set-default" in fails(1, "verify", "latest").stderr


def test_set_default_refuses_a_missing_folder(demo: Path, tmp_path: Path) -> None:
    result = fails(1, "backup", "--set-default", str(tmp_path / "nope"))
    assert "is not a folder" in result.stderr and "mkdir -p" in result.stderr


# ---- retention ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "kept"),
    [
        (["--keep-daily", "3"], {"A", "C", "D"}),
        (["--keep-weekly", "2", "--keep-last", "2"], {"A", "B", "D"}),
        (["--keep-within", "2d"], {"A", "B", "C", "D"}),
        (["--keep-within", "12h"], {"A", "B"}),
        (["--keep-last", "1", "--keep-within", "1w2d"], {"A", "B", "C", "D", "E"}),
        (["--keep-weekly", "10"], {"A", "D", "F", "G"}),
    ],
)
def test_prune_dry_run_applies_the_rules(
    demo: Path, tmp_path: Path, rules: list[str], kept: set[str]
) -> None:
    dest, made = _series(tmp_path)
    before = sorted(os.listdir(dest))
    report = ok_json("backup", "prune", str(dest), *rules, "--dry-run", "--json")
    assert set(report) == {"folder", "dry_run", "policy", "bundles", "removed"}
    assert [b["name"] for b in report["bundles"]] == [made[k].name for k in STAMPS]
    assert {b["name"] for b in report["bundles"] if b["keep"]} == {made[k].name for k in kept}
    assert _names(report["removed"]) == {made[k].name for k in set(STAMPS) - kept}
    assert sorted(os.listdir(dest)) == before  # a dry run removes nothing


def test_prune_reasons_and_removal(demo: Path, tmp_path: Path) -> None:
    dest, made = _series(tmp_path)
    result = ok("backup", "prune", str(dest), "--keep-daily", "2", "--keep-weekly", "2")
    lines = result.stdout.splitlines()
    assert lines[0] == f"keep (daily, weekly) {made['A'].name}"
    assert f"keep (daily) {made['C'].name}" in lines
    assert f"keep (weekly) {made['D'].name}" in lines
    assert f"removed {made['G'].name}" in lines
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [made["A"].name, made["C"].name, made["D"].name, made["foreign"].name, "notes.txt"]
    )


def test_prune_needs_a_rule(demo: Path, tmp_path: Path) -> None:
    result = fails(2, "backup", "prune", str(tmp_path))
    assert "--keep-last" in result.stderr


def test_backup_with_rules_keeps_the_new_bundle_and_never_a_foreign_one(
    demo: Path, tmp_path: Path
) -> None:
    dest, made = _series(tmp_path)
    summary = ok_json("backup", str(dest), "--keep-daily", "2", "--json")
    new = Path(summary["bundle"])
    assert new.exists()
    # Today's new bundle and the newest of another day (A) are the two daily ones.
    assert _names(summary["removed"]) == {made[k].name for k in "BCDEFG"}
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [new.name, made["A"].name, made["foreign"].name, "notes.txt"]
    )


def test_keep_is_keep_last(demo: Path, tmp_path: Path) -> None:
    dest, made = _series(tmp_path)
    result = ok("backup", str(dest), "--keep", "2")
    new = Path(result.stdout.strip())
    assert f"removed {made['B']}" in result.stderr
    assert {p.name for p in dest.glob("aimem-*.tar")} == {
        new.name,
        made["A"].name,
        made["foreign"].name,
    }


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--keep", "2", "--keep-last", "3"], "--keep-last"),
        (["--keep-within", "0d"], "--keep-within"),
        (["--keep-within", "5x"], "--keep-within"),
        (["--keep-daily", "0"], "--keep-daily"),
    ],
)
def test_bad_retention_flags_are_usage_errors(
    demo: Path, tmp_path: Path, args: list[str], named: str
) -> None:
    result = fails(2, "backup", str(tmp_path), *args)
    assert named in result.stderr
    assert not list(tmp_path.glob("aimem-*.tar"))


# ---- backup list ----------------------------------------------------------------------


def test_backup_list_table_json_and_csv(demo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "b"
    dest.mkdir()
    older = Path(ok("backup", str(dest)).stdout.strip())
    newer = Path(ok("backup", str(dest)).stdout.strip())
    broken = dest / "broken.tar"
    broken.write_bytes(older.read_bytes()[:3000])  # truncated
    (dest / "notes.txt").write_text("not a bundle")
    table = ok("backup", "list", str(dest)).stdout
    assert table.splitlines()[0].split() == [
        "time",
        "bytes",
        "records",
        "repository",
        "verified",
        "bundle",
    ]
    assert newer.name in table and "notes.txt" not in table
    rows = ok_json("backup", "list", str(dest), "--json")
    assert [Path(r["bundle"]).name for r in rows[:2]] == [newer.name, older.name]
    assert set(rows[0]) == {
        "bundle",
        "created_at",
        "size",
        "records",
        "repository_id",
        "verified",
        "check",
        "problems",
    }
    assert rows[0]["records"] == 480 and rows[0]["verified"] is True
    assert rows[0]["check"] == "manifest" and "T" in rows[0]["created_at"]
    assert rows[0]["repository_id"] == _repo_id(newer)
    assert rows[0]["size"] == newer.stat().st_size
    bad = next(r for r in rows if r["bundle"].endswith("broken.tar"))
    assert bad["verified"] is False and bad["problems"] and bad["records"] is None
    csv_lines = ok("backup", "list", str(dest), "--format", "csv").stdout.splitlines()
    assert csv_lines[0] == ("created_at,size,records,repository_id,verified,bundle,check,problems")
    assert len(csv_lines) == 4
    fails(2, "backup", "list", str(dest), "--json", "--format", "csv")


def test_backup_list_verify_reads_every_byte(demo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "b"
    dest.mkdir()
    bundle = Path(ok("backup", str(dest)).stdout.strip())
    _flip_database_byte(bundle)
    (cheap,) = ok_json("backup", "list", str(dest), "--json")
    assert cheap["verified"] is True  # the manifest and the tar index still agree
    (full,) = ok_json("backup", "list", str(dest), "--verify", "--json")
    assert full["verified"] is False and full["check"] == "full"
    assert full["problems"][0].split()[0] in ("corrupt-member", "hash-mismatch")


def test_backup_list_of_an_empty_folder(tmp_path: Path) -> None:
    result = ok("backup", "list", str(tmp_path))
    assert result.stdout == "" and "no bundles in" in result.stderr
    assert ok_json("backup", "list", str(tmp_path), "--json") == []


# ---- verify DIR | latest ------------------------------------------------------------


def test_verify_a_folder_one_line_per_bundle(demo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "b"
    dest.mkdir()
    good = Path(ok("backup", str(dest)).stdout.strip())
    assert ok("verify", str(dest)).stdout == f"ok {good}\n"
    bad = dest / "aimem-copy.tar"
    shutil.copyfile(good, bad)
    _flip_database_byte(bad)
    result = invoke("verify", str(dest))
    assert result.exit_code == 1
    lines = sorted(result.stdout.splitlines())
    assert len(lines) == 2 and lines[0].startswith(f"failed {bad}: ") and lines[1] == f"ok {good}"
    reports = orjson.loads(invoke("verify", str(dest), "--json").stdout)
    assert {r["bundle"]: r["ok"] for r in reports} == {str(bad): False, str(good): True}
    quiet = invoke("verify", str(dest), "-q")
    assert quiet.exit_code == 1 and quiet.stdout.startswith("failed ") and "ok " not in quiet.stdout


def test_verify_an_empty_folder_fails(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "no bundle in" in fails(1, "verify", str(tmp_path / "empty")).stderr


def test_verify_latest_picks_this_repositorys_newest(demo: Path, tmp_path: Path) -> None:
    dest, made = _series(tmp_path)
    newest_foreign = dest / f"aimem-{'f' * 12}-20991231T000000.000000Z.tar"
    shutil.copyfile(made["foreign"], newest_foreign)
    assert ok("verify", "latest", "--from", str(dest)).stdout == f"ok {made['A']}\n"
    report = ok_json("verify", "latest", "--from", str(dest), "--json")
    assert report["bundle"] == str(made["A"]) and report["ok"] is True
    result = invoke("verify", "latest", AIMEM_BACKUP_DIR=str(dest))
    assert result.exit_code == 0 and result.stdout == f"ok {made['A']}\n"
    _flip_database_byte(made["A"])
    assert invoke("verify", "latest", "--from", str(dest)).exit_code == 1


def test_verify_latest_without_a_folder_names_the_fix(demo: Path) -> None:
    result = fails(1, "verify", "latest")
    assert "'latest' needs a folder of bundles" in result.stderr and "--from" in result.stderr


def test_from_goes_with_latest_only(demo: Path, tmp_path: Path) -> None:
    bundle = _first_bundle(tmp_path)
    assert "--from" in fails(1, "verify", str(bundle), "--from", str(tmp_path)).stderr


# ---- restore latest ----------------------------------------------------------------


def test_restore_latest_into_a_new_place(demo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "b"
    dest.mkdir()
    ok("backup", str(dest))
    newest = Path(ok("backup", str(dest)).stdout.strip())
    target = tmp_path / "elsewhere" / "AIMemory"
    result = ok("--dir", str(target), "restore", "latest", "--from", str(dest))
    assert result.stdout == f"restored {newest} into {target}\n"
    assert (target / "ai_memory.db").exists()
    stats = ok_json("--dir", str(target), "stats", "--json")
    assert stats["total_fixes_attempted"] == 480


def test_restore_latest_over_the_repository_uses_the_default_folder(
    demo: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "b"
    dest.mkdir()
    ok("backup", "--set-default", str(dest))
    bundle = Path(ok("backup").stdout.strip())
    ok("record", "-m", "m", "-t", "TIMEOUT", "-d", "later", "-c", "x", "--failure")
    dry = ok("restore", "latest", "--force", "--dry-run")
    assert dry.stdout.startswith("would replace") and str(bundle) in dry.stdout
    assert ok("restore", "latest", "--force", "--yes", "-q").stdout == ""
    assert ok_json("stats", "--json")["total_fixes_attempted"] == 480


def test_restore_latest_refuses_a_folder_of_several_repositories(
    demo: Path, tmp_path: Path
) -> None:
    dest, _ = _series(tmp_path)
    target = tmp_path / "new" / "AIMemory"
    result = fails(1, "--dir", str(target), "restore", "latest", "--from", str(dest))
    assert "bundles of 2 repositories" in result.stderr and "aimem backup list" in result.stderr
    assert not target.exists()


# ---- --quiet -------------------------------------------------------------------------


def _silent(*args: str) -> Any:
    result = invoke(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result


def test_quiet_backup_and_prune_print_nothing(demo: Path, tmp_path: Path) -> None:
    dest, _ = _series(tmp_path)
    assert _silent("backup", str(dest), "--keep-last", "1", "-q").stdout == ""
    assert len(list(dest.glob(f"aimem-{'f' * 12}-*.tar"))) == 1
    assert len(list(dest.glob("aimem-*.tar"))) == 2
    assert _silent("backup", "prune", str(dest), "--keep-last", "1", "--quiet").stdout == ""
    assert _silent("verify", str(dest), "-q").stdout == ""


def test_quiet_on_maintenance_and_transfer_commands(demo: Path, tmp_path: Path) -> None:
    export = tmp_path / "all.ndjson"
    assert _silent("export", str(export), "-q").stdout == ""
    assert export.stat().st_size > 0
    assert _silent("import", str(export), "-q").stdout == ""
    assert _silent("cleanup", "36500", "--dry-run", "-q").stdout == ""
    assert _silent("check", "-q").stdout == ""
    assert _silent("gc", "-q").stdout == ""
    ids = _silent("record", "-m", "m", "-t", "TIMEOUT", "-d", "x", "-c", "y", "--failure", "-q")
    assert ids.stdout.strip().isdigit()  # the ids are the data: still printed
    # --json is data that was asked for: printed with -q too.
    assert orjson.loads(_silent("gc", "-q", "--json").stdout)


def test_quiet_ends_with_its_command(demo: Path, tmp_path: Path) -> None:
    export = tmp_path / "all.ndjson"
    _silent("export", str(export), "-q")
    assert "exported 480 records" in ok("export", str(export)).stderr
    assert ok("gc").stdout.startswith("reclaimed")


def test_quiet_keeps_errors(demo: Path, tmp_path: Path) -> None:
    result = fails(1, "import", str(tmp_path / "missing.ndjson"), "-q")
    assert result.stderr.startswith("aimem: error: ")
