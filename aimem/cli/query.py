"""Read commands: stats, model, models, recent, successful, patterns, analytics,
similar, context, search."""

from __future__ import annotations

import math
from enum import Enum
from typing import Annotated, Any

import typer

from aimem.cli._context import repo
from aimem.cli._listing import ColumnsOpt, NoHeadersOpt, WideOpt, table_view
from aimem.cli._output import (
    FORMAT_HELP,
    JSON_HELP,
    JSON_ONLY_HELP,
    Format,
    TableView,
    deprecated,
    emit_json,
    emit_mapping,
    emit_rows,
    json_bytes,
    printable,
    resolve_format,
    selected,
    write,
)
from aimem.cli._values import filled, finite, since_window
from aimem.cli._values import since as since_option
from aimem.cli.app import app
from aimem.records import EXPORT_COLUMNS

FormatOpt = Annotated[Format | None, typer.Option("--format", "-f", help=FORMAT_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
JsonOnlyOpt = Annotated[bool, typer.Option("--json", help=JSON_ONLY_HELP)]
LimitOpt = Annotated[
    int,
    typer.Option("--limit", "-n", help="At most this many rows.", min=1, max=10000, metavar="N"),
]
OptionalLimitOpt = Annotated[
    int | None,
    typer.Option("--limit", "-n", help="At most this many rows.", min=1, max=10000, metavar="N"),
]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "-m", help="Model name, e.g. qwen2.5:7b.", metavar="MODEL", callback=filled
    ),
]
TypeOpt = Annotated[
    str,
    typer.Option(
        "--issue-type", "-t", help="Issue type, e.g. TIMEOUT.", metavar="TYPE", callback=filled
    ),
]
IssueTypeFilterOpt = Annotated[
    str | None,
    typer.Option(
        "--issue-type", "-t", help="Only this issue type.", metavar="TYPE", callback=filled
    ),
]
PromptOpt = Annotated[
    str | None,
    typer.Option("--prompt", help="The test prompt (for the exact signature).", metavar="TEXT"),
]
ResponseOpt = Annotated[
    str | None,
    typer.Option(
        "--response", help="The model's response (for the exact signature).", metavar="TEXT"
    ),
]
DescriptionOpt = Annotated[
    str | None, typer.Option("--description", "-d", help="What went wrong.", metavar="TEXT")
]

# The seed's title; an output encoding without the emoji gets it without
# (aimem.cli._output.ASCII_FALLBACKS).
STATS_TITLE = "🧠 Claude Memory Statistics:"
STATS_UNITS = {"knowledge_base_size": "bytes"}


# The fixed CSV header of each listing: every key its JSON rows have, in order,
# whether or not any row is found (docs/output.md).
RECORD_CSV = (*EXPORT_COLUMNS, "outcome")
MODELS_CSV = (
    "model_name",
    "attempts",
    "successes",
    "success_rate",
    "wilson_low",
    "wilson_high",
    "issue_types",
    "last_seen",
)
SUCCESSFUL_CSV = (
    "issue_type",
    "fix_commands",
    "successes",
    "attempts",
    "success_rate",
    "confidence",
    "wilson_low",
    "wilson_high",
    "last_success",
)
PATTERNS_CSV = (
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
)
SEARCH_CSV = (*EXPORT_COLUMNS, "rank", "snippet", "archived", "outcome")
SIMILAR_CSV = ("match", *EXPORT_COLUMNS, "outcome")
# similar's kinds of match: the "match" cell of flat formats, the list of its JSON.
MATCH_KINDS = (
    ("exact", "exact_matches"),
    ("model", "model_matches"),
    ("type", "type_matches"),
    ("fingerprint", "fingerprint_matches"),
)


class PatternKind(str, Enum):
    """The pattern kinds of aimem.learn.learning (exact, model, general, temporal, fingerprint)."""

    exact = "exact"
    model = "model"
    general = "general"
    temporal = "temporal"
    fingerprint = "fingerprint"  # one failure fingerprint seen twice or more


def _outcome(row: dict[str, Any]) -> str:
    if row["fix_success"] and row["verification_success"]:
        return "verified"
    return "applied" if row["fix_success"] else "failed"


def issue_from_options(
    model: str,
    issue_type: str,
    *,
    description: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
) -> dict[str, Any]:
    """The ``issue_data`` of the commands that describe an issue with options."""
    issue: dict[str, Any] = {"model": model, "issue_type": issue_type}
    for key, value in (
        ("description", description),
        ("test_prompt", prompt),
        ("actual_response", response),
    ):
        if value is not None:
            issue[key] = value
    return issue


@app.command(name="stats")
def stats_command(ctx: typer.Context, as_json: JsonOnlyOpt = False) -> None:
    """Show the memory statistics as key: value lines.

    \b
    Examples:
      aimem stats
      aimem stats --json | jq .success_rate
    """
    stats = repo(ctx).get_memory_stats()
    if as_json:
        emit_json(stats)
    else:
        emit_mapping(stats, STATS_TITLE, STATS_UNITS)


@app.command(name="model")
def model_command(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Model name, e.g. qwen2.5:7b.", metavar="NAME", callback=filled)
    ],
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            help="Add a line to the model's performance notes.",
            metavar="TEXT",
            callback=filled,
        ),
    ] = None,
    set_notes: Annotated[
        str | None,
        typer.Option(
            "--set-notes", help="Replace the performance notes ('' clears).", metavar="TEXT"
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON output (the only format; accepted for scripts).")
    ] = False,
) -> None:
    """Show one model's insights as JSON; --note or --set-notes writes its performance notes.

    \b
    Examples:
      aimem model qwen2.5:7b
      aimem model qwen2.5:7b --note "needs 12 GB VRAM at 8k context"
      aimem model qwen2.5:7b --set-notes ""
    """
    if note is not None and set_notes is not None:
        raise typer.BadParameter("give --note or --set-notes, not both", param_hint="--note")
    memory = repo(ctx)
    if note is not None:
        emit_json(memory.add_performance_note(name, note))
    elif set_notes is not None:
        emit_json(memory.set_performance_notes(name, set_notes))
    else:
        emit_json(memory.get_model_insights(name, strict=True))


@app.command(name="models")
def models_command(
    ctx: typer.Context,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    no_headers: NoHeadersOpt = False,
) -> None:
    """List every model with its attempts and success rate.

    \b
    Examples:
      aimem models
      aimem models --format csv > models.csv
    """
    chosen = resolve_format(fmt, as_json)
    view = table_view(wide, columns, no_headers, MODELS_CSV)
    rows = repo(ctx).models()
    emit_rows(
        rows,
        [
            "model_name",
            "attempts",
            "successes",
            "success_rate",
            "wilson_low",
            "issue_types",
            "last_seen",
        ],
        chosen,
        ["model", "attempts", "verified", "rate", "rate ≥ (95%)", "issue types", "last seen"],
        "no models recorded yet",
        MODELS_CSV,
        view=view,
        shrink="issue_types",
        drop=("last_seen", "wilson_low", "successes"),
        whole=("model_name",),
    )


@app.command(name="recent")
def recent_command(
    ctx: typer.Context,
    days: Annotated[
        float | None,
        typer.Argument(
            help="How many days back (default 7; --since says it any way).",
            min=0.001,
            max=36500,
            metavar="DAYS",
            callback=finite,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only attempts since then: a duration (7d, 12h, 30m, 2w) or a date "
            "(2026-01-15, 2026-01-15T08:00:00Z).",
            metavar="WHEN",
            callback=since_option,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Only attempts on this model.", metavar="MODEL", callback=filled
        ),
    ] = None,
    issue_type: IssueTypeFilterOpt = None,
    fixer: Annotated[
        str | None,
        typer.Option(
            "--fixer",
            help="Only attempts by this fixer (any case).",
            metavar="FIXER",
            callback=filled,
        ),
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only attempts whose fix failed.")
    ] = False,
    limit: OptionalLimitOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
    include_archive: Annotated[
        bool, typer.Option("--include-archive", help="Also read archive segments.")
    ] = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    no_headers: NoHeadersOpt = False,
) -> None:
    """Show the attempts of the last 7 days (or --since, or DAYS), newest first.

    \b
    Examples:
      aimem recent
      aimem recent --since 12h --failed
      aimem recent --since 30d --model qwen2.5:7b --format ndjson
      aimem recent --since 2026-01-01 --include-archive --fixer claude
    """
    if days is not None and since is not None:
        raise typer.BadParameter("give DAYS or --since, not both", param_hint="'--since'")
    chosen = resolve_format(fmt, as_json)
    view = table_view(wide, columns, no_headers, RECORD_CSV)
    rows = repo(ctx).recent(
        days or 7,
        limit,
        include_archive=include_archive,
        since=since,
        model=model,
        issue_type=issue_type,
        fixer=fixer,
        failed=failed,
    )
    for row in rows:
        row["outcome"] = _outcome(row)
    emit_rows(
        rows,
        ["id", "timestamp", "model_name", "issue_type", "fixer_type", "outcome", "fix_commands"],
        chosen,
        ["id", "time (UTC)", "model", "issue type", "fixer", "outcome", "commands"],
        f"no attempts since {since}" if since else f"no attempts in the last {days or 7:g} days",
        RECORD_CSV,
        view=view,
        shrink="fix_commands",
        drop=("fixer_type", "issue_type", "id"),
    )


@app.command(name="show")
def show_command(
    ctx: typer.Context,
    record_id: Annotated[
        int, typer.Argument(help="The attempt's id (see 'aimem recent').", min=1, metavar="ID")
    ],
    as_json: JsonOnlyOpt = False,
) -> None:
    """Show one attempt with every field, hot or archived.

    \b
    Examples:
      aimem show 42
      aimem show 42 --json | jq .fix_commands
    """
    row = repo(ctx).get_attempt(record_id)
    row["outcome"] = _outcome(row)
    if as_json:
        emit_json(row)
        return
    width = max(len(key) for key in row)
    lines = []
    for key, value in row.items():
        if isinstance(value, list):
            shown = "\n".join(f"{'':{width + 2}}{item}" for item in value).lstrip() or "(none)"
        elif isinstance(value, dict):
            shown = json_bytes(value, pretty=False).decode()
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        else:
            shown = "" if value is None else str(value)
        lines.append(f"{key + ':':{width + 2}}{printable(shown, lines=True)}")
    write("\n".join(lines) + "\n")


@app.command(name="successful")
def successful_command(
    ctx: typer.Context,
    issue_type: IssueTypeFilterOpt = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Show commands filled in for this model, and leave out those naming another.",
            metavar="MODEL",
            callback=filled,
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            help="At most this many fixes per issue type.",
            min=1,
            max=10000,
            metavar="N",
        ),
    ] = 10,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    no_headers: NoHeadersOpt = False,
) -> None:
    """List the fix strategies that worked, per issue type, best 95% lower bound first.

    Fixes are learned as templates ({model} for the model's name); --model
    shows them as they read for one model.

    \b
    Examples:
      aimem successful
      aimem successful --issue-type TIMEOUT --model qwen2.5:7b --json
    """
    chosen = resolve_format(fmt, as_json)
    view = table_view(wide, columns, no_headers, SUCCESSFUL_CSV)
    rows = repo(ctx).successful_strategies(issue_type, limit, model=model)
    emit_rows(
        rows,
        [
            "issue_type",
            "fix_commands",
            "successes",
            "attempts",
            "success_rate",
            "wilson_low",
            "confidence",
            "last_success",
        ],
        chosen,
        [
            "issue type",
            "fix",
            "verified",
            "attempts",
            "rate",
            "rate ≥ (95%)",
            "confidence",
            "last success",
        ],
        "no verified successes yet",
        SUCCESSFUL_CSV,
        view=view,
        shrink="fix_commands",
        drop=("last_success", "confidence", "wilson_low", "successes"),
    )


@app.command(name="patterns")
def patterns_command(
    ctx: typer.Context,
    kind: Annotated[
        PatternKind | None,
        typer.Option("--kind", "-k", help="Only this kind of pattern (default: all)."),
    ] = None,
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence",
            help="Only patterns at least this confident (0-1).",
            min=0,
            max=1,
            metavar="X",
            callback=finite,
        ),
    ] = 0.0,
    issue_type: IssueTypeFilterOpt = None,
    limit: OptionalLimitOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    no_headers: NoHeadersOpt = False,
) -> None:
    """List recurring issues and their success rates (exact, model, general, temporal,
    fingerprint); best fixes are ranked by the 95% Wilson lower bound.

    \b
    Examples:
      aimem patterns
      aimem patterns --kind temporal
      aimem patterns --kind exact --min-confidence 0.5 --json
      aimem patterns --kind fingerprint
    """
    chosen = resolve_format(fmt, as_json)
    view = table_view(wide, columns, no_headers, PATTERNS_CSV)
    rows = repo(ctx).patterns(kind.value if kind else None, min_confidence, issue_type, limit)
    emit_rows(
        rows,
        [
            "kind",
            "name",
            "attempts",
            "success_rate",
            "wilson_low",
            "confidence",
            "best_fix",
            "last_seen",
        ],
        chosen,
        [
            "kind",
            "pattern",
            "attempts",
            "rate",
            "rate ≥ (95%)",
            "confidence",
            "best fix",
            "last seen",
        ],
        "no patterns yet",
        PATTERNS_CSV,
        view=view,
        shrink="best_fix",
        drop=("last_seen", "confidence", "wilson_low"),
    )


@app.command(name="analytics")
def analytics_command(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Window of the daily statistics: a duration (90d, 2w) or a date "
            "(default 30d; whole days).",
            metavar="WHEN",
            callback=since_option,
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option("--days", help="Deprecated: --since Nd.", min=1, max=3650, metavar="DAYS"),
    ] = None,
    as_json: JsonOnlyOpt = False,
    wide: WideOpt = False,
) -> None:
    """Show daily statistics, the model performance matrix, issue trends and fixer effectiveness.

    \b
    Examples:
      aimem analytics
      aimem analytics --since 90d --json > analytics.json
    """
    if days is not None:
        if since is not None:
            raise typer.BadParameter("give --since or --days, not both", param_hint="'--days'")
        deprecated("--days N", "--since Nd")
    window = max(1, math.ceil(since_window(since))) if since is not None else (days or 30)
    if window > 3650:
        raise typer.BadParameter("at most 3650 days back", param_hint="'--since'")
    view = TableView(wide=wide)
    data = repo(ctx).analytics(window)
    if as_json:
        emit_json(data)
        return
    sections = (
        (
            "Daily statistics",
            "daily_stats",
            ["date", "attempts", "successes", "success_rate", "avg_execution_time"],
        ),
        (
            "Model performance",
            "model_performance",
            ["model_name", "issue_type", "attempts", "successes", "success_rate"],
        ),
        (
            "Issue trends",
            "issue_trends",
            ["issue_type", "total_attempts", "last_7_days", "previous_7_days", "trend"],
        ),
        (
            "Fixer effectiveness",
            "fixer_comparison",
            [
                "fixer_type",
                "total_attempts",
                "successes",
                "success_rate",
                "wilson_low",
                "avg_execution_time",
            ],
        ),
    )
    for index, (title, key, columns) in enumerate(sections):
        write(("\n" if index else "") + f"{title}\n")
        emit_rows(data[key], columns, Format.table, empty_message="(none)", view=view, section=True)
    # cost per verified success, failed attempts' cost included
    write("\nCost per verified success (failed attempts included)\n")
    emit_rows(
        data["cost"]["by_fixer_and_issue_type"],
        [
            "fixer_type",
            "issue_type",
            "attempts",
            "successes",
            "cost_usd",
            "cost_per_success",
            "cost_coverage",
        ],
        Format.table,
        ["fixer", "issue type", "attempts", "verified", "cost (USD)", "per success", "coverage"],
        "(none)",
        view=view,
        section=True,
    )


@app.command(name="similar")
def similar_command(
    ctx: typer.Context,
    model: ModelOpt,
    issue_type: TypeOpt,
    prompt: PromptOpt = None,
    response: ResponseOpt = None,
    description: DescriptionOpt = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            help="At most this many attempts per kind of match.",
            min=1,
            max=10000,
            metavar="N",
        ),
    ] = 5,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    no_headers: NoHeadersOpt = False,
) -> None:
    """Find past attempts like this issue: exact, same model and type, same type.

    JSON output is one object of three lists; other formats flatten
    it with a "match" column.

    \b
    Example:
      aimem similar --model qwen2.5:7b --issue-type TIMEOUT \\
          --prompt "Write a haiku"
    """
    chosen = resolve_format(fmt, as_json)
    view = table_view(wide, columns, no_headers, SIMILAR_CSV)
    found = repo(ctx).query_similar_issues(
        issue_from_options(
            model, issue_type, description=description, prompt=prompt, response=response
        ),
        limit,
    )
    if chosen is Format.json:
        if view.columns:
            kinds = {key: match for match, key in MATCH_KINDS}
            found = {
                key: [
                    selected(
                        {"match": kinds.get(key), **row, "outcome": _outcome(row)}, view.columns
                    )
                    for row in rows
                ]
                for key, rows in found.items()
            }
        emit_json(found)
        return
    rows = []
    for match, key in MATCH_KINDS:
        for row in found[key]:
            rows.append({"match": match, **row, "outcome": _outcome(row)})
    emit_rows(
        rows,
        ["match", "id", "timestamp", "model_name", "fixer_type", "outcome", "fix_commands"],
        chosen,
        ["match", "id", "time (UTC)", "model", "fixer", "outcome", "commands"],
        "no similar attempts",
        SIMILAR_CSV,
        view=view,
        shrink="fix_commands",
        drop=("timestamp", "fixer_type", "id"),
    )


@app.command(name="context")
def context_command(
    ctx: typer.Context,
    model: ModelOpt,
    issue_type: TypeOpt,
    prompt: PromptOpt = None,
    response: ResponseOpt = None,
    description: DescriptionOpt = None,
    max_chars: Annotated[
        int,
        typer.Option(
            "--max-chars", help="Upper bound on the context's length.", min=200, metavar="N"
        ),
    ] = 8000,
) -> None:
    """Print the Markdown history a fixer should read before working on this issue.

    \b
    Examples:
      aimem context --model qwen2.5:7b --issue-type TIMEOUT
      aimem context -m llama3.1:8b -t NO_OUTPUT --max-chars 2000 | pbcopy
    """
    text = repo(ctx).build_context(
        issue_from_options(
            model, issue_type, description=description, prompt=prompt, response=response
        ),
        max_chars,
    )
    write(text if text.endswith("\n") else text + "\n")


@app.command(name="search")
def search_command(
    ctx: typer.Context,
    text: Annotated[
        list[str],
        typer.Argument(
            help="Words to look for (all must match).", metavar="TEXT...", callback=filled
        ),
    ],
    limit: LimitOpt = 20,
    include_archive: Annotated[
        bool,
        typer.Option(
            "--include-archive", help="Also read archived segments (after the hot matches)."
        ),
    ] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    no_headers: NoHeadersOpt = False,
) -> None:
    """Full-text search over descriptions, analyses, commands and notes, best match first.

    \b
    Examples:
      aimem search "out of memory"
      aimem search ollama pull --json
      aimem search --include-archive "cuda memory"
    """
    chosen = resolve_format(fmt, as_json)
    view = table_view(wide, columns, no_headers, SEARCH_CSV)
    rows = repo(ctx).search(" ".join(text), limit, include_archive)
    for row in rows:
        row["outcome"] = _outcome(row)
    emit_rows(
        rows,
        ["id", "timestamp", "model_name", "issue_type", "outcome", "snippet"],
        chosen,
        ["id", "time (UTC)", "model", "issue type", "outcome", "match"],
        "no matches",
        SEARCH_CSV,
        view=view,
        shrink="snippet",
        drop=("timestamp", "issue_type"),
    )
