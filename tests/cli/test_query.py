"""Read commands on a demo repository and on an empty one: formats, JSON keys, errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from tests.cli.conftest import fails, invoke, ok, ok_json

ATTEMPT_KEYS = {
    "id",
    "timestamp",
    "model_name",
    "issue_type",
    "issue_signature",
    "description",
    "fixer_type",
    "claude_analysis",
    "fix_commands",
    "fix_success",
    "verification_success",
    "execution_time_seconds",
    "system_info",
    "notes",
    "uid",
    "fingerprint",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "fixer_model",
}
STATS_KEYS = [
    "total_fixes_attempted",
    "successful_fixes",
    "success_rate",
    "models_encountered",
    "issue_types_seen",
    "recent_activity_7days",
    "knowledge_base_size",
    "memory_directory",
]
MODELS_KEYS = {
    "model_name",
    "attempts",
    "successes",
    "success_rate",
    "wilson_low",
    "wilson_high",
    "issue_types",
    "last_seen",
}
SUCCESSFUL_KEYS = {
    "issue_type",
    "fix_commands",
    "successes",
    "attempts",
    "success_rate",
    "wilson_low",
    "wilson_high",
    "confidence",  # the pattern confidence next to the interval
    "last_success",
}
PATTERN_KEYS = {
    "kind",
    "name",
    "issue_type",
    "model_family",
    "issue_signature",
    "attempts",
    "successes",
    "failures",
    "success_rate",
    "confidence",
    "wilson_low",
    "wilson_high",
    "best_fix",
    "last_seen",
    "detail",
}
MODEL_KEYS = {
    "model_name",
    "total_tests",
    "success_rate",
    "common_issues",
    "effective_fixes",
    "recent_history",
    "successes",
    "wilson_low",
    "wilson_high",
    "fixers",
    "avg_execution_time",
    "first_seen",
    "last_seen",
    "last_updated",
    "performance_notes",
    "effective_fix_stats",
}
ANALYTICS_KEYS = {
    "daily_stats": {
        "date",
        "attempts",
        "fix_successes",
        "successes",
        "success_rate",
        "avg_execution_time",
    },
    "model_performance": {"model_name", "issue_type", "attempts", "successes", "success_rate"},
    "issue_trends": {
        "issue_type",
        "total_attempts",
        "success_rate",
        "last_7_days",
        "previous_7_days",
        "window_days",
        "window_attempts",
        "change",
        "trend",
    },
    "fixer_comparison": {
        "fixer_type",
        "total_attempts",
        "successes",
        "success_rate",
        "wilson_low",
        "wilson_high",
        "avg_execution_time",
    },
}

# (arguments, key set of each JSON row) for every listing command.
LISTINGS = [
    (["models"], MODELS_KEYS),
    (["recent", "30"], ATTEMPT_KEYS | {"outcome"}),
    (["successful"], SUCCESSFUL_KEYS),
    (["patterns"], PATTERN_KEYS),
    (["search", "ollama"], ATTEMPT_KEYS | {"rank", "snippet", "outcome", "archived"}),
    (["similar", "-m", "qwen2.5:7b", "-t", "TIMEOUT"], ATTEMPT_KEYS | {"match", "outcome"}),
]


LISTING_IDS = [" ".join(args) for args, _ in LISTINGS]


def test_stats_lines_and_json(demo: Path) -> None:
    lines = ok("stats").stdout.splitlines()
    assert lines[0] == "🧠 Claude Memory Statistics:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == STATS_KEYS
    assert "  total_fixes_attempted: 480" in lines
    data = ok_json("stats", "--json")
    assert list(data) == STATS_KEYS
    assert data["total_fixes_attempted"] == 480
    assert 0 < data["successful_fixes"] < 480
    assert data["memory_directory"] == str(demo)


def test_stats_on_an_empty_repository(empty: Path) -> None:
    data = ok_json("stats", "--json")
    assert list(data) == STATS_KEYS
    assert data["total_fixes_attempted"] == 0
    assert data["success_rate"] == 0
    assert "  total_fixes_attempted: 0" in ok("stats").stdout


@pytest.mark.parametrize(("args", "keys"), LISTINGS, ids=LISTING_IDS)
def test_listing_formats_on_demo(demo: Path, args: list[str], keys: set[str]) -> None:
    as_json = ok(*args, "--format", "json").stdout
    if args[0] != "similar":  # similar's JSON is one object of lists, tested below
        rows = orjson.loads(as_json)
        assert rows, args
        assert all(set(row) == keys for row in rows)
        assert ok(*args, "--json").stdout == as_json
        ndjson = [
            orjson.loads(line) for line in ok(*args, "--format", "ndjson").stdout.splitlines()
        ]
        assert ndjson == rows
    else:
        rows = [orjson.loads(line) for line in ok(*args, "--format", "ndjson").stdout.splitlines()]
        assert rows and all(set(row) == keys for row in rows)
    table = ok(*args).stdout
    assert table == ok(*args, "--format", "table").stdout
    header, rule = table.splitlines()[:2]
    assert header.split()[0] in ("model", "id", "issue", "kind", "match")
    assert set(rule) <= {"-", " "}
    assert len(table.splitlines()) == len(rows) + 2
    parsed = list(csv.reader(io.StringIO(ok(*args, "--format", "csv").stdout)))
    assert set(parsed[0]) == keys
    assert len(parsed) == len(rows) + 1
    first = dict(zip(parsed[0], parsed[1], strict=True))
    assert first["fix_commands" if "fix_commands" in keys else parsed[0][0]] != ""
    if "fix_commands" in keys:
        assert orjson.loads(first["fix_commands"]) == rows[0]["fix_commands"]


@pytest.mark.parametrize(("args", "keys"), LISTINGS, ids=LISTING_IDS)
def test_listing_on_an_empty_repository(empty: Path, args: list[str], keys: set[str]) -> None:
    table = invoke(*args)
    assert table.exit_code == 0
    assert table.stdout == ""
    assert table.stderr.strip() != ""  # says there is nothing, on stderr
    assert ok(*args, "--format", "ndjson").stdout == ""
    if args[0] == "similar":
        assert ok_json(*args, "--json") == {
            "exact_matches": [],
            "model_matches": [],
            "type_matches": [],
            "fingerprint_matches": [],  # after the other three
        }
    else:
        assert ok_json(*args, "--json") == []


def test_similar_json_is_the_design_object(demo: Path) -> None:
    found = ok_json(
        "similar", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "--prompt", "Hi", "-n", "3", "--json"
    )
    # the three seed lists, then aimem's fingerprint_matches
    assert list(found) == ["exact_matches", "model_matches", "type_matches", "fingerprint_matches"]
    for key in found:
        assert len(found[key]) <= 3
        assert all(set(row) == ATTEMPT_KEYS for row in found[key])
    assert all(row["model_name"] == "qwen2.5:7b" for row in found["model_matches"])
    assert all(row["issue_type"] == "TIMEOUT" for row in found["type_matches"])


def test_model_insights(demo: Path) -> None:
    data = ok_json("model", "qwen2.5:7b")
    assert set(data) == MODEL_KEYS
    assert data["model_name"] == "qwen2.5:7b"
    assert data["total_tests"] == sum(
        row["attempts"] for row in ok_json("models", "--json") if row["model_name"] == "qwen2.5:7b"
    )
    assert list(data)[:6] == [
        "model_name",
        "total_tests",
        "success_rate",
        "common_issues",
        "effective_fixes",
        "recent_history",
    ]


def test_unknown_model_is_an_error_with_a_hint(demo: Path) -> None:
    result = fails(1, "model", "nope:1b")
    assert result.stderr.splitlines() == [
        "aimem: error: no history for model 'nope:1b'",
        "hint: known models include: deepseek-coder:6.7b, gemma2:9b, llama3.1:8b, "
        "mistral:7b, phi3:mini",
    ]
    fails(2, "--dir", str(demo), "model", "")  # an unset variable, not a model


def test_model_on_an_empty_repository(empty: Path) -> None:
    result = fails(1, "model", "qwen2.5:7b")
    assert result.stderr.splitlines()[1] == "hint: no models recorded yet"


def test_recent_days_and_limit(demo: Path) -> None:
    week = ok_json("recent", "--json")
    month = ok_json("recent", "30", "--json")
    assert 0 < len(week) < len(month)
    assert [r["timestamp"] for r in month] == sorted((r["timestamp"] for r in month), reverse=True)
    assert len(ok_json("recent", "30", "-n", "5", "--json")) == 5
    assert {r["outcome"] for r in month} <= {"verified", "applied", "failed"}
    fails(2, "recent", "-1")
    fails(2, "recent", "soon")


def test_successful_filter(demo: Path) -> None:
    rows = ok_json("successful", "--issue-type", "TIMEOUT", "--json")
    assert rows and {r["issue_type"] for r in rows} == {"TIMEOUT"}
    assert all(r["successes"] >= 1 for r in rows)
    assert ok_json("successful", "-t", "NO_SUCH_TYPE", "--json") == []


def test_patterns_filters(demo: Path) -> None:
    kinds = {r["kind"] for r in ok_json("patterns", "--json")}
    assert kinds == {"exact", "model", "general", "temporal"}
    for kind in [*kinds, "fingerprint"]:  # fingerprint patterns only by kind
        rows = ok_json("patterns", "--kind", kind, "--json")
        assert rows and {r["kind"] for r in rows} == {kind}
    confident = ok_json("patterns", "--min-confidence", "0.9", "--json")
    assert confident and all(r["confidence"] >= 0.9 for r in confident)
    assert len(ok_json("patterns", "-n", "3", "--json")) == 3
    result = fails(2, "patterns", "--kind", "bogus")
    assert (
        "'bogus' is not one of 'exact', 'model', 'general', 'temporal', 'fingerprint'"
        in result.stderr
    )
    fails(2, "patterns", "--min-confidence", "2")


def test_analytics(demo: Path) -> None:
    data = ok_json("analytics", "--json")
    assert list(data) == [
        "daily_stats",
        "model_performance",
        "issue_trends",
        "fixer_comparison",
        "cost",
    ]
    for key, keys in ANALYTICS_KEYS.items():
        assert data[key], key
        assert all(set(row) == keys for row in data[key]), key
    text = ok("analytics").stdout
    for title in ("Daily statistics", "Model performance", "Issue trends", "Fixer effectiveness"):
        assert title in text
    assert len(ok_json("analytics", "--days", "3", "--json")["daily_stats"]) <= 4


def test_analytics_on_an_empty_repository(empty: Path) -> None:
    data = ok_json("analytics", "--json")
    assert data == {key: [] for key in ANALYTICS_KEYS} | {
        "issue_trends": data["issue_trends"],
        "cost": {
            key: []
            for key in ("by_fixer", "by_fixer_model", "by_issue_type", "by_fixer_and_issue_type")
        },
    }
    assert "Daily statistics" in ok("analytics").stdout


def test_context_is_markdown(demo: Path) -> None:
    text = ok("context", "--model", "qwen2.5:7b", "--issue-type", "TIMEOUT").stdout
    assert text.startswith("# Historical context: TIMEOUT on qwen2.5:7b\n")
    assert "## " in text
    short = ok("context", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "--max-chars", "500").stdout
    assert len(short) <= 501
    fails(2, "context", "-m", "qwen2.5:7b")
    fails(2, "context", "-m", "qwen2.5:7b", "-t", "TIMEOUT", "--max-chars", "10")


def test_context_on_an_empty_repository(empty: Path) -> None:
    text = ok("context", "-m", "qwen2.5:7b", "-t", "TIMEOUT").stdout
    assert text.startswith("# Historical context: TIMEOUT on qwen2.5:7b\n")


def test_search_words_and_snippet(demo: Path) -> None:
    rows = ok_json("search", "ollama", "pull", "--json")
    assert rows
    assert all("ollama" in r["snippet"].lower() for r in rows)
    assert len(ok_json("search", "ollama", "-n", "2", "--json")) == 2
    assert ok_json("search", "zzzznothinglikethis", "--json") == []
    fails(2, "search")


def test_json_is_utf8_and_stable(demo: Path) -> None:
    first = ok("models", "--json").stdout
    assert first == ok("models", "--json").stdout
    assert first.startswith("[\n  {\n")


def test_commands_that_only_print_json_accept_json(demo: object) -> None:
    from tests.cli.conftest import ok

    assert ok("model", "qwen2.5:7b", "--json").stdout == ok("model", "qwen2.5:7b").stdout
    assert ok("kb", "show", "--json").stdout == ok("kb", "show").stdout
