"""CLI wiring of export, import, backup, verify and restore: outputs, JSON keys, exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem.cli.commands import app
from tests.conftest import make_repository, run_aimem


@pytest.fixture
def demo(request: pytest.FixtureRequest, backend: str, repo_dir: Path) -> Path:
    return make_repository(request, backend, repo_dir, demo=True)


def test_export_to_stdout_is_ndjson(runner: CliRunner, demo: Path) -> None:
    result = runner.invoke(app, ["export", "-"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 480
    assert orjson.loads(lines[0])["uid"]
    assert result.stderr == ""


def test_export_summary_and_messages(runner: CliRunner, demo: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", str(tmp_path / "h.csv")], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "exported 480 records" in result.stderr
    result = runner.invoke(app, ["export", str(tmp_path / "h.ndjson"), "--json"])
    assert orjson.loads(result.stdout) == {
        "file": str(tmp_path / "h.ndjson"),
        "format": "ndjson",
        "records": 480,
    }


def test_export_usage_errors_exit_2(runner: CliRunner, demo: Path) -> None:
    assert runner.invoke(app, ["export", "-", "--json"]).exit_code == 2
    assert runner.invoke(app, ["export", "x", "--format", "xml"]).exit_code == 2


@pytest.mark.slow
def test_import_json_summary_and_dry_run(runner: CliRunner, demo: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["export", str(tmp_path / "h.ndjson")], catch_exceptions=False)
    other = tmp_path / "B"
    assert runner.invoke(app, ["--dir", str(other), "init"]).exit_code == 0
    dry = runner.invoke(
        app, ["--dir", str(other), "import", str(tmp_path / "h.ndjson"), "--dry-run"]
    )
    assert dry.exit_code == 0, dry.stderr
    assert dry.stdout.startswith("would add: 480\nalready present: 0\n")
    result = runner.invoke(
        app, ["--dir", str(other), "import", str(tmp_path / "h.ndjson"), "--json"]
    )
    summary = orjson.loads(result.stdout)
    assert list(summary) == ["source", "format", "records", "added", "already_present", "dry_run"]
    assert summary["added"] == 480
    again = runner.invoke(app, ["--dir", str(other), "import", str(tmp_path / "h.ndjson")])
    assert again.stdout.startswith("added: 0\nalready present: 480\n")


def test_import_malformed_line_exits_1_naming_file_and_line(
    runner: CliRunner, demo: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text('\n{"uid": 1}\n')
    result = runner.invoke(app, ["import", str(bad)])
    assert result.exit_code == 1
    assert re.fullmatch(rf"aimem: error: {re.escape(str(bad))}:2: .+\n", result.stderr)
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_import_from_stdin_subprocess(demo: Path, tmp_path: Path) -> None:
    exported = run_aimem("export", "-")
    assert exported.returncode == 0
    result = run_aimem("--dir", str(tmp_path / "B"), "import", "-", "--json", input=exported.stdout)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["added"] == 480


@pytest.mark.postgres_pending("backup, verify and restore on PostgreSQL: the pgops branch")
def test_backup_verify_restore_cli(runner: CliRunner, demo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "bundles"
    dest.mkdir()
    made = runner.invoke(app, ["backup", str(dest)], catch_exceptions=False)
    assert made.exit_code == 0
    path = Path(made.stdout.strip())
    assert path.parent == dest and path.is_file()
    summary = orjson.loads(runner.invoke(app, ["backup", str(dest), "--json"]).stdout)
    assert list(summary) == [
        "bundle",
        "bundle_size",
        "format",
        "format_version",
        "aimem_version",
        "schema_version",
        "created_at",
        "repository_id",
        "counts",
        "members",
        "removed",
    ]
    ok = runner.invoke(app, ["verify", str(path)])
    assert (ok.exit_code, ok.stdout) == (0, f"ok {path}\n")
    report = orjson.loads(runner.invoke(app, ["verify", str(path), "--json"]).stdout)
    assert list(report) == ["bundle", "ok", "problems", "manifest"]
    target = tmp_path / "R"
    restored = runner.invoke(app, ["--dir", str(target), "restore", str(path)])
    assert restored.exit_code == 0, restored.stderr
    again = runner.invoke(app, ["--dir", str(target), "restore", str(path)])
    assert again.exit_code == 1 and "already holds a repository" in again.stderr
    no_yes = runner.invoke(app, ["--dir", str(target), "restore", str(path), "--force"])
    assert no_yes.exit_code == 2 and "--yes" in no_yes.stderr
    forced = runner.invoke(
        app, ["--dir", str(target), "restore", str(path), "--force", "--yes", "--json"]
    )
    assert forced.exit_code == 0
    assert orjson.loads(forced.stdout)["replaced"] is True


@pytest.mark.postgres_pending("backup, verify and restore on PostgreSQL: the pgops branch")
def test_verify_damaged_bundle_exits_1(runner: CliRunner, demo: Path, tmp_path: Path) -> None:
    made = runner.invoke(app, ["backup", str(tmp_path)], catch_exceptions=False)
    path = Path(made.stdout.strip())
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 1
    assert re.match(r"^[a-z-]+ \S+: ", result.stdout)


def test_kb_import_cli(runner: CliRunner, demo: Path, tmp_path: Path) -> None:
    (tmp_path / "kb.json").write_text('{"tips": ["pull first"]}')
    result = runner.invoke(app, ["kb", "import", str(tmp_path / "kb.json"), "--json"])
    assert result.exit_code == 0
    shown = orjson.loads(runner.invoke(app, ["kb", "show"]).stdout)
    assert shown["imported"]["tips"] == ["pull first"]


def test_dry_run_import_does_not_create_a_repository(
    runner: CliRunner, demo: Path, tmp_path: Path
) -> None:
    runner.invoke(app, ["export", str(tmp_path / "h.ndjson")], catch_exceptions=False)
    result = runner.invoke(
        app, ["--dir", str(tmp_path / "new"), "import", str(tmp_path / "h.ndjson"), "--dry-run"]
    )
    assert result.exit_code == 1 and "not an aimem repository" in result.stderr
    assert not (tmp_path / "new").exists()


def test_import_of_a_listings_json_says_what_import_reads(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from aimem.cli.app import app

    runner = CliRunner()
    source = tmp_path / "src" / "AIMemory"
    assert runner.invoke(app, ["init", str(source.parent), "--demo"]).exit_code == 0
    listing = runner.invoke(app, ["--dir", str(source), "recent", "--json"])
    assert listing.exit_code == 0
    (tmp_path / "recent.json").write_text(listing.stdout)
    target = tmp_path / "dst" / "AIMemory"
    assert runner.invoke(app, ["init", str(target.parent)]).exit_code == 0
    before = (target / "ai_memory.db").read_bytes()
    refused = runner.invoke(app, ["--dir", str(target), "import", str(tmp_path / "recent.json")])
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[1].startswith("hint: import reads what 'aimem export'")
    assert (target / "ai_memory.db").read_bytes() == before
