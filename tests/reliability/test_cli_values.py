"""Hostile or mistaken command-line values (NaN, out-of-range dates, empty names,
folders, paths under a file): each is a usage error (exit 2) on one line naming
the flag as typed, and the repository is byte for byte unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aimem import AIMemory
from aimem.errors import InvalidInputError
from tests.cli.conftest import invoke, ok
from tests.reliability.conftest import assert_one_line_error, items


def _files(repo: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(repo)): path.read_bytes()
        for path in sorted(repo.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def one_segment_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose archive holds exactly one segment (every row archived),
    made once per module: each test gets a copy of its own."""
    template = tmp_path_factory.mktemp("one-segment") / "AIMemory"
    with AIMemory(template) as memory:
        memory.record_many(items(12, seed=3))
    ok("--dir", str(template), "cleanup", "0", "--yes")
    listed = ok("--dir", str(template), "archive", "list", "--format", "csv")
    assert len(listed.stdout.splitlines()) == 2
    return template


@pytest.fixture
def one_segment(one_segment_template: Path, repo_dir: Path) -> Path:
    """A copy of the one-segment repository at $AIMEM_DIR."""
    shutil.copytree(one_segment_template, repo_dir)
    return repo_dir


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["alerts", "--now", "0001-01-01T00:00:00Z"], "'--now'"),
        (["alerts", "--now", "9999-12-31T23:59:59-01:00"], "'--now'"),
        (["alerts", "--drift-days", "0"], "'--drift-days'"),
        (["alerts", "--drift-days", "nan"], "'--drift-days'"),
        (["alerts", "--days", "inf"], "'--days'"),
        (["alerts", "--kind", "bogus"], "'--kind'"),
        (["export", ""], "'FILE'"),
        (["export", "x.ndjson", "--since", "99999999999999d"], "'--since'"),
        (["export", "x.ndjson", "--since", "0001-01-01T00:00:00+01:00"], "'--since'"),
        (["export", "x.ndjson", "--since", ""], "'--since'"),
        (["export", "."], "'FILE'"),
        (["export", "--format", "csv", "."], "'FILE'"),
        (["recent", "nan"], "'DAYS'"),
        (["cleanup", "nan", "--dry-run"], "'DAYS'"),
        (["cleanup", "1", "--keep-successful", "nan", "--dry-run"], "'--keep-successful'"),
        (["cleanup", "1", "--keep-failures-per-fingerprint", "9" * 30, "--dry-run"], "'--keep"),
        (["archive", "thaw", ""], "'SEGMENT'"),
        (["archive", "thaw", "  "], "'SEGMENT'"),
        (["similar", "-m", "", "-t", "TIMEOUT"], "'--model'"),
        (["similar", "-m", "qwen2.5:7b", "-t", ""], "'--issue-type'"),
        (["context", "-m", "", "-t", "TIMEOUT"], "'--model'"),
        (["suggest", "-m", "qwen2.5:7b", "-t", " "], "'--issue-type'"),
        (["patterns", "--min-confidence", "nan"], "'--min-confidence'"),
        (["gate", "-m", "a", "-t", "TIMEOUT", "--min-rate", "nan"], "'--min-rate'"),
        (["gate", "-m", "a", "-t", "TIMEOUT", "--max-failures", "9" * 30], "'--max-failures'"),
        (["model", ""], "'NAME'"),
        (["model", "qwen2.5:7b", "--note", " "], "'--note'"),
        (["successful", "--model", ""], "'--model'"),
        (["search", ""], "'TEXT...'"),
        (["import", ""], "'FILE'"),
        (["backup", ""], "'DEST'"),
        (["verify", ""], "'BUNDLE'"),
        (["kb", "export", ""], "'FILE'"),
        (["--dir", "", "stats"], "'--dir'"),
        (["record", "-m", "", "-t", "TIMEOUT", "-d", "x", "--failure"], "'--model'"),
        (
            ["record", "-m", "a", "-t", "TIMEOUT", "-d", "x", "--failure", "--fixer", ""],
            "'--fixer'",
        ),
        (
            ["record", "-m", "a", "-t", "TIMEOUT", "-d", "x", "--failure", "--time", "nan"],
            "'--time'",
        ),
        (
            ["record", "-m", "a", "-t", "TIMEOUT", "-d", "x", "--failure", "--cost", "inf"],
            "'--cost'",
        ),
        (["record", "-m", "a", "-t", "bad type", "-d", "x", "--failure"], "'--issue-type'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bad_value_is_a_usage_error_naming_the_flag(
    one_segment: Path, args: list[str], named: str
) -> None:
    before = _files(one_segment)
    result = invoke(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert_one_line_error(result.stderr_bytes)
    assert named in result.stderr.splitlines()[0], result.stderr
    assert result.stdout == ""
    assert _files(one_segment) == before


def test_empty_segment_prefix_never_thaws_the_only_segment(one_segment: Path) -> None:
    before = _files(one_segment)
    for name in ("", " ", "/", "AIMemory/archive/"):
        result = invoke("archive", "thaw", name)
        assert result.exit_code in (1, 2), name
        assert_one_line_error(result.stderr_bytes)
    assert _files(one_segment) == before
    with AIMemory(one_segment) as memory:
        for name in ("", "/"):
            with pytest.raises(InvalidInputError, match="segment: must not be empty"):
                memory.thaw(name)
        assert memory.store.count_rows() == 0


def test_init_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "FILE").write_text("a file\n")
    for args in (["init", "FILE/x"], ["--dir", "FILE/x/AIMemory", "init"], ["init", "FILE"]):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert_one_line_error(result.stderr_bytes)
        assert "FILE" in result.stderr
    assert (tmp_path / "FILE").read_text() == "a file\n"
    # the library says so too, in one line
    with pytest.raises(InvalidInputError, match="FILE: is a file, not a folder"):
        AIMemory(tmp_path / "FILE" / "x")


def test_the_library_refuses_the_same_values(one_segment: Path, tmp_path: Path) -> None:
    with AIMemory(one_segment) as memory:
        with pytest.raises(InvalidInputError, match="days"):
            memory.recent(float("nan"))
        with pytest.raises(InvalidInputError, match="since: '99999999999999d' is more"):
            memory.export_records(tmp_path / "x.ndjson", since="99999999999999d")
        with pytest.raises(InvalidInputError, match="file: must not be empty"):
            memory.export_records("")
        with pytest.raises(InvalidInputError, match="is a folder, not a file"):
            memory.export_records(tmp_path)
        with pytest.raises(InvalidInputError, match="now: '0001-01-01T00:00:00Z' is outside"):
            memory.alerts(now="0001-01-01T00:00:00Z")
        with pytest.raises(InvalidInputError, match=r"issue_data\.model: must not be empty"):
            memory.query_similar_issues({"model": "", "issue_type": "TIMEOUT"})
    assert not (tmp_path / "x.ndjson").exists()


def test_values_at_the_bounds_work(one_segment: Path) -> None:
    assert invoke("alerts", "--now", "1970-01-01T00:00:00Z").exit_code == 0
    assert invoke("alerts", "--now", "9999-01-01T00:00:00Z", "--days", "3650").exit_code in (0, 3)
    ok("export", "x.ndjson", "--since", "36500d")
    ok("export", "y.ndjson", "--since", "1970-01-01")
    ok("recent", "36500")
