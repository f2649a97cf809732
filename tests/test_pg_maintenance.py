"""Archive, check, gc, backup and the knowledge base on both backends.

Most tests run on SQLite and on PostgreSQL (``repo_on``); the cross-backend
tests back a repository up on one and restore it into the other.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.commands import app
from aimem.ops.demo import demo_attempts
from tests.archive_helpers import all_rows, learned

Opener = Callable[[], AIMemory]


@pytest.fixture
def repo_on(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """``open``: a new AIMemory on this test's repository; ``args``: the CLI's options
    naming it; ``url``: the database (PostgreSQL only)."""
    if backend == "sqlite":
        folder = tmp_path / "AIMemory"
        yield {
            "name": "sqlite",
            "open": lambda: AIMemory(folder),
            "args": ["--dir", str(folder)],
            "url": None,
        }
        return
    url = request.getfixturevalue("pg_url")
    yield {
        "name": "postgres",
        "open": lambda: AIMemory(db=url),
        "args": ["--db", url],
        "url": url,
    }


def _seed(mem: AIMemory, count: int = 120) -> None:
    mem.record_many(list(demo_attempts(count=count, days=120, seed=5)))


def _cli(args: list[str]) -> Any:
    return CliRunner().invoke(app, args)


def _raw(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run one statement on the database as another program would."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def test_cleanup_archives_into_the_store_and_thaw_brings_rows_back(
    repo_on: dict[str, Any], tmp_path: Path
) -> None:
    with repo_on["open"]() as mem:
        _seed(mem)
        before = learned(mem)
        original = sorted(mem.store.iter_rows(), key=lambda r: r["uid"])
        result = mem.cleanup(30)
        assert result["rows"] > 0 and len(result["segments"]) == 1
        name = result["segments"][0]["name"]
        hot, cold = all_rows(mem)
        assert len(cold) == result["rows"]
        assert sorted(hot + cold, key=lambda r: r["uid"]) == original
        assert learned(mem) == before
        assert mem.check().ok
        assert [s["name"] for s in mem.archive_segments()] == [name]
        mem.thaw(name[:20])
        assert mem.archive_segments() == []
        assert sorted(mem.store.iter_rows(), key=lambda r: r["uid"]) == original
        assert learned(mem) == before
        assert mem.check().ok
    if repo_on["url"]:
        # the bytes lived in the database and left with the thaw; no file anywhere
        assert _raw(repo_on["url"], "SELECT count(*) FROM aimem_segment_data") == [(0,)]
        assert not list(tmp_path.rglob("*.ndjson.zst"))


def test_segments_in_the_database_are_seen_by_every_runner(pg_url: str, tmp_path: Path) -> None:
    # two runners: one with a folder, one with the URL alone
    assert _cli(["init", "--db", pg_url, str(tmp_path / "runner1")]).exit_code == 0
    folder = tmp_path / "runner1" / "AIMemory"
    with AIMemory(folder) as first:
        _seed(first)
        written = first.cleanup(30)
    assert not (folder / "archive").exists() or not list((folder / "archive").iterdir())
    stored = _raw(pg_url, "SELECT sha256, octet_length(data) FROM aimem_segment_data")
    entry = written["segments"][0]
    assert stored == [(entry["sha256"], entry["compressed_bytes"])]
    with AIMemory(db=pg_url) as second:
        assert [s["name"] for s in second.archive_segments()] == [entry["name"]]
        assert len(list(second.iter_archived_rows())) == written["rows"]
        assert second.get_memory_stats()["total_fixes_attempted"] == 120
        second.thaw(entry["name"])
    with AIMemory(folder) as first:
        assert first.archive_segments() == []


def test_purge_keeps_aggregates_on_both_backends(repo_on: dict[str, Any]) -> None:
    with repo_on["open"]() as mem:
        _seed(mem)
        before = learned(mem)
        result = mem.cleanup(30, purge=True)
        assert result["mode"] == "purge" and result["rows"] > 0
        assert list(mem.iter_archived_rows()) == []
        assert learned(mem) == before
        report = mem.check()
        assert report.ok, [f.line() for f in report.findings]


def test_check_finds_a_damaged_segment_and_drift_and_repairs_the_drift(
    repo_on: dict[str, Any],
) -> None:
    with repo_on["open"]() as mem:
        _seed(mem)
        entry = mem.cleanup(30)["segments"][0]
    url = repo_on["url"]
    if url:
        _raw(
            url,
            "UPDATE aimem_segment_data SET data = overlay(data placing '\\x00'::bytea from 40) "
            "WHERE sha256 = %s",
            (entry["sha256"],),
        )
        _raw(url, "UPDATE aimem_totals SET attempts = attempts + 5")
    else:
        from tests.conftest import sql

        folder = Path(repo_on["args"][1])
        path = folder / "archive" / entry["name"]
        data = bytearray(path.read_bytes())
        data[40] ^= 0xFF
        path.write_bytes(bytes(data))
        sql(folder / "ai_memory.db", "UPDATE aimem_totals SET attempts = attempts + 5")
    result = _cli([*repo_on["args"], "check"])
    assert result.exit_code == 1, result.output
    assert f"hash-mismatch {entry['name']}" in result.stdout
    # a damaged segment: aggregates are not recomputed from it
    assert "aggregate-drift" not in result.stdout
    quick = _cli([*repo_on["args"], "check", "--quick"])
    assert quick.exit_code == 0, quick.output  # sizes match; only a full check reads the bytes


@pytest.mark.slow
def test_check_repair_rebuilds_drifted_aggregates(repo_on: dict[str, Any]) -> None:
    with repo_on["open"]() as mem:
        _seed(mem)
        mem.cleanup(60)
        before = learned(mem)
    if repo_on["url"]:
        _raw(repo_on["url"], "UPDATE aimem_totals SET attempts = attempts + 5")
    else:
        from tests.conftest import sql

        sql(
            Path(repo_on["args"][1]) / "ai_memory.db",
            "UPDATE aimem_totals SET attempts = attempts + 5",
        )
    found = _cli([*repo_on["args"], "check"])
    assert found.exit_code == 1 and "aggregate-drift aimem_totals" in found.stdout
    fixed = _cli([*repo_on["args"], "check", "--repair", "--yes"])
    assert fixed.exit_code == 0, fixed.output
    with repo_on["open"]() as mem:
        assert learned(mem) == before
        assert mem.check().ok


def test_gc_reports_sizes_on_both_backends(repo_on: dict[str, Any]) -> None:
    with repo_on["open"]() as mem:
        _seed(mem, 100)
        result = mem.gc(vacuum=True)
    assert result["vacuumed"] is True
    assert result["bytes_before"] > 0 and result["bytes_after"] > 0
    cli = _cli([*repo_on["args"], "gc", "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["bytes_after"] > 0


def test_knowledge_base_is_rendered_from_the_database(
    repo_on: dict[str, Any], tmp_path: Path
) -> None:
    with repo_on["open"]() as mem:
        _seed(mem, 100)
    shown = _cli([*repo_on["args"], "kb", "show"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document["issue_types"]
    out = tmp_path / "kb.json"
    assert _cli([*repo_on["args"], "kb", "export", str(out)]).exit_code == 0
    exported = json.loads(out.read_bytes())
    assert exported["issue_types"] == document["issue_types"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"team_notes": {"TIMEOUT": "raise the limit first"}}))
    imported = _cli([*repo_on["args"], "kb", "import", str(other)])
    assert imported.exit_code == 0, imported.output
    with repo_on["open"]() as mem:
        assert mem.knowledge_base["imported"]["team_notes"] == {"TIMEOUT": "raise the limit first"}
        size = mem.get_memory_stats()["knowledge_base_size"]
    assert size > 0
    if repo_on["url"]:
        # no file is kept beside a shared database; the size is what export writes
        assert not (tmp_path / "AIMemory" / "knowledge_base.json").exists()
        assert _cli([*repo_on["args"], "kb", "export", str(out)]).exit_code == 0
        assert abs(size - out.stat().st_size) < 64  # only updated_at's digits may differ


# ---- backup and restore across backends -------------------------------------


def _everything(mem: AIMemory) -> dict[str, Any]:
    """What a restore must bring back: every row (hot and archived) and what was learned."""
    hot, cold = all_rows(mem)
    known = learned(mem)
    known["stats"].pop("memory_directory")  # a folder here, a database there
    return {
        "hot": hot,
        "archived": cold,
        "learned": known,
        "segments": [
            {k: v for k, v in s.items() if k != "created_at"} for s in mem.archive_segments()
        ],
        "kb_imported": mem.knowledge_base["imported"],
    }


def _populated(mem: AIMemory, tmp_path: Path) -> None:
    _seed(mem)
    mem.cleanup(60)
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps({"runbook": {"OOM": "lower the batch size"}}))
    mem.import_knowledge_base(notes)


@pytest.mark.slow
def test_backup_of_postgres_restores_into_sqlite(pg_url: str, tmp_path: Path) -> None:
    with AIMemory(db=pg_url) as mem:
        _populated(mem, tmp_path)
        source = _everything(mem)
    (tmp_path / "bundles").mkdir()
    made = _cli(["--db", pg_url, "backup", str(tmp_path / "bundles"), "--json"])
    assert made.exit_code == 0, made.output
    bundle = json.loads(made.stdout)["bundle"]
    verified = _cli(["verify", bundle])
    assert verified.exit_code == 0, verified.output
    target = tmp_path / "restored" / "AIMemory"
    restored = _cli(["--dir", str(target), "restore", bundle])
    assert restored.exit_code == 0, restored.output
    with AIMemory(target) as copy:
        assert _everything(copy) == source
        assert copy.check().ok
    # the exports agree too
    out_pg, out_sqlite = tmp_path / "pg.ndjson", tmp_path / "sqlite.ndjson"
    assert _cli(["--db", pg_url, "export", str(out_pg), "--include-archive"]).exit_code == 0
    assert (
        _cli(["--dir", str(target), "export", str(out_sqlite), "--include-archive"]).exit_code == 0
    )
    assert out_pg.read_bytes() == out_sqlite.read_bytes()


@pytest.mark.slow
def test_backup_of_sqlite_restores_into_postgres(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    with AIMemory(folder) as mem:
        _populated(mem, tmp_path)
        source = _everything(mem)
    (tmp_path / "bundles").mkdir()
    made = _cli(["--dir", str(folder), "backup", str(tmp_path / "bundles"), "--json"])
    assert made.exit_code == 0, made.output
    bundle = json.loads(made.stdout)["bundle"]
    restored = _cli(["--db", pg_url, "restore", bundle])
    assert restored.exit_code == 0, restored.output
    assert "postgresql://" in restored.stdout and "PGPASSWORD" not in restored.stdout
    with AIMemory(db=pg_url) as copy:
        assert _everything(copy) == source
        report = copy.check()
        assert report.ok, [f.line() for f in report.findings]
        # new records get ids after every restored (and archived) one
        new = copy.record_fix_attempt(
            {"model": "m", "issue_type": "TIMEOUT", "description": "after restore"},
            {"fix_commands": ["x"]},
            True,
            True,
            1.0,
        )
        assert new > max(r["id"] for r in source["hot"] + source["archived"])
    out_pg, out_sqlite = tmp_path / "pg.ndjson", tmp_path / "sqlite.ndjson"
    assert (
        _cli(["--dir", str(folder), "export", str(out_sqlite), "--include-archive"]).exit_code == 0
    )
    with AIMemory(db=pg_url) as copy:
        copy.store.conn.execute("BEGIN IMMEDIATE")
        copy.store.conn.execute("DELETE FROM fix_history WHERE description = 'after restore'")
        copy.store.conn.execute("COMMIT")
    assert _cli(["--db", pg_url, "export", str(out_pg), "--include-archive"]).exit_code == 0
    assert out_pg.read_bytes() == out_sqlite.read_bytes()


def test_restore_into_postgres_refuses_a_database_with_history(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    with AIMemory(folder) as mem:
        _seed(mem, 50)
    (tmp_path / "bundles").mkdir()
    made = _cli(["--dir", str(folder), "backup", str(tmp_path / "bundles"), "--json"])
    bundle = json.loads(made.stdout)["bundle"]
    with AIMemory(db=pg_url) as mem:
        _seed(mem, 20)
        before = _everything(mem)
    refused = _cli(["--db", pg_url, "restore", bundle])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("aimem: error: ") and "was not changed" in refused.stderr
    with AIMemory(db=pg_url) as mem:
        assert _everything(mem) == before
    replaced = _cli(["--db", pg_url, "restore", bundle, "--force", "--yes"])
    assert replaced.exit_code == 0, replaced.output
    with AIMemory(db=pg_url) as mem:
        assert mem.get_memory_stats()["total_fixes_attempted"] == 50


def test_restore_into_postgres_leaves_it_unchanged_when_the_bundle_is_damaged(
    pg_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "AIMemory"
    with AIMemory(folder) as mem:
        _seed(mem, 50)
        mem.cleanup(30)
    (tmp_path / "bundles").mkdir()
    made = _cli(["--dir", str(folder), "backup", str(tmp_path / "bundles"), "--json"])
    bundle = Path(json.loads(made.stdout)["bundle"])
    import tarfile

    with tarfile.open(bundle) as tar:
        segment = next(m for m in tar.getmembers() if m.name.startswith("archive/"))
    data = bytearray(bundle.read_bytes())
    data[segment.offset_data + segment.size // 2] ^= 0xFF  # read only after the database
    bundle.write_bytes(bytes(data))
    refused = _cli(["--db", pg_url, "restore", str(bundle)])
    assert refused.exit_code == 1
    assert len(refused.stderr.strip().splitlines()) <= 2  # the error and its hint
    tables = _raw(pg_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'fix_history'")
    if tables == [(1,)]:
        assert _raw(pg_url, "SELECT count(*) FROM fix_history") == [(0,)]
        assert _raw(pg_url, "SELECT count(*) FROM aimem_segment_data") == [(0,)]


@pytest.mark.slow
def test_a_server_that_is_down_is_one_line_naming_host_and_database(tmp_path: Path) -> None:
    url = "postgresql://aimem@127.0.0.1:9/nowhere"
    (tmp_path / "bundles").mkdir()
    for args in (
        ["backup", str(tmp_path / "bundles")],
        ["check"],
        ["gc"],
        ["cleanup", "--older-than", "30d", "--yes"],
        ["kb", "show"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "aimem", "--db", url, *args],
            capture_output=True,
            timeout=60,
        )
        lines = done.stderr.decode().strip().splitlines()
        assert done.returncode == 1, (args, done.stderr)
        assert lines[0].startswith("aimem: error: "), lines
        assert "127.0.0.1" in lines[0] and "nowhere" in lines[0]
        assert "Traceback" not in done.stderr.decode()
    assert list((tmp_path / "bundles").iterdir()) == []


def test_check_reports_segment_bytes_no_segment_names_and_repair_deletes_them(
    pg_url: str,
) -> None:
    with AIMemory(db=pg_url) as mem:
        _seed(mem, 50)
    _raw(
        pg_url, "INSERT INTO aimem_segment_data(sha256, data) VALUES ('ab' || repeat('0', 62), 'x')"
    )
    found = _cli(["--db", pg_url, "check"])
    assert found.exit_code == 0, found.output  # a hint, not an error
    assert "unreferenced-segment-bytes aimem_segment_data/ab00000000000000" in found.stdout
    fixed = _cli(["--db", pg_url, "check", "--repair", "--yes"])
    assert fixed.exit_code == 0, fixed.output
    assert _raw(pg_url, "SELECT count(*) FROM aimem_segment_data") == [(0,)]


def test_archive_lock_is_held_across_runners(pg_url: str) -> None:
    with AIMemory(db=pg_url) as first, AIMemory(db=pg_url) as second:
        _seed(first, 50)
        with first.store.archive_lock():  # type: ignore[attr-defined]
            report = second.check()
            assert "archive-busy" in [f.kind for f in report.findings]
        report = second.check()
        assert report.ok and "archive-busy" not in [f.kind for f in report.findings]


def test_cli_archive_list_and_thaw_on_postgres(pg_url: str) -> None:
    with AIMemory(db=pg_url) as mem:
        _seed(mem)
    cleaned = _cli(["--db", pg_url, "cleanup", "--older-than", "30d", "--yes", "--json"])
    assert cleaned.exit_code == 0, cleaned.output
    name = json.loads(cleaned.stdout)["segments"][0]["name"]
    listed = _cli(["--db", pg_url, "archive", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [s["name"] for s in json.loads(listed.stdout)] == [name]
    thawed = _cli(["--db", pg_url, "archive", "thaw", name[:24]])
    assert thawed.exit_code == 0, thawed.output
    assert _raw(pg_url, "SELECT count(*) FROM aimem_segment_data") == [(0,)]


def test_outcome_aware_retention_on_both_backends(repo_on: dict[str, Any]) -> None:
    with repo_on["open"]() as mem:
        _seed(mem)
        before = learned(mem)
        result = mem.cleanup(0, keep_failures_per_fingerprint=1)
        assert result["rows"] > 0
        _, cold = all_rows(mem)
        assert all(not (r["fix_success"] and r["verification_success"]) for r in cold)
        assert learned(mem) == before
        assert mem.check().ok


def test_gc_vacuums_postgres_when_dead_rows_take_a_tenth(pg_url: str) -> None:
    with AIMemory(db=pg_url) as mem:
        _seed(mem, 200)
        mem.cleanup(0, purge=True)  # every row deleted: all dead until VACUUM
        result = mem.gc()
    assert result["free_pages"] > 0.1 * result["page_count"]
    assert result["vacuumed"] is True


def test_a_cleanup_that_fails_in_its_commit_leaves_every_row_hot(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimem.store.postgres.store import PostgresStore

    with AIMemory(db=pg_url) as mem:
        _seed(mem)
        before = _everything(mem)

        def fail(*_: Any) -> None:
            raise KeyboardInterrupt  # as a kill would, after the rows were deleted

        with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
            patched.setattr(PostgresStore, "_bump_generation", fail)
            mem.cleanup(30)
        assert _everything(mem) == before
    assert _raw(pg_url, "SELECT count(*) FROM aimem_segment_data") == [(0,)]
    assert _raw(pg_url, "SELECT count(*) FROM aimem_segments") == [(0,)]


def test_every_runner_backs_up_under_one_repository_id(pg_url: str, tmp_path: Path) -> None:
    other_spelling = pg_url.replace("127.0.0.1", "localhost")
    assert other_spelling != pg_url
    (tmp_path / "bundles").mkdir()
    ids = []
    for url in (pg_url, other_spelling, pg_url):
        with AIMemory(db=url) as mem:
            _seed(mem, 10)
            ids.append(mem.backup(tmp_path / "bundles")["repository_id"])
    assert len(set(ids)) == 1


@pytest.mark.slow
def test_backup_is_one_moment_while_another_runner_writes(pg_url: str, tmp_path: Path) -> None:
    import threading

    with AIMemory(db=pg_url) as mem:
        _seed(mem, 200)
    stop = threading.Event()

    def write() -> None:
        attempts = list(demo_attempts(count=2000, days=5, seed=9))
        with AIMemory(db=pg_url) as writer:
            for start in range(0, len(attempts), 10):
                if stop.is_set():
                    return
                writer.record_many(attempts[start : start + 10])

    thread = threading.Thread(target=write)
    thread.start()
    (tmp_path / "bundles").mkdir()
    try:
        bundles, counts = [], set()
        while len(counts) < 3 and thread.is_alive():
            with AIMemory(db=pg_url) as mem:
                made = mem.backup(tmp_path / "bundles")
            bundles.append(made["bundle"])
            counts.add(made["counts"]["fix_history"])
    finally:
        stop.set()
        thread.join()
    assert len(counts) == 3  # each bundle taken while the other runner was writing
    for number, bundle in enumerate(bundles):
        assert AIMemory.verify_bundle(bundle)["ok"]
        target = tmp_path / f"restored{number}"
        AIMemory.restore_bundle(bundle, target)
        with AIMemory(target) as copy:
            # rows and every aggregate from the same moment: nothing drifts
            report = copy.check()
            assert report.ok, [f.line() for f in report.findings]
            stats = copy.get_memory_stats()
            assert stats["total_fixes_attempted"] == copy.store.count_rows()
