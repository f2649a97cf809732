"""Advice for the next attempt: ``suggest``, ``gate``, ``alerts``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aimem.cli._context import repo
from aimem.cli._output import (
    FORMAT_HELP,
    JSON_HELP,
    Format,
    emit_json,
    emit_rows,
    note,
    resolve_format,
    write,
)
from aimem.cli._values import MAX_COUNT, filled, finite, moment, one_of
from aimem.cli.app import app
from aimem.cli.query import issue_from_options

JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="Model name, e.g. qwen2.5:7b.", callback=filled)
]
TypeOpt = Annotated[
    str, typer.Option("--issue-type", "-t", help="Issue type, e.g. TIMEOUT.", callback=filled)
]
DescriptionOpt = Annotated[
    str | None,
    typer.Option("--description", "-d", help="What went wrong (gives the failure fingerprint)."),
]
PromptOpt = Annotated[str | None, typer.Option("--prompt", help="The test prompt.")]
ResponseOpt = Annotated[str | None, typer.Option("--response", help="The model's response.")]
MaxFailuresOpt = Annotated[
    int,
    typer.Option(
        "--max-failures",
        help="A fix that failed this many times for this fingerprint (and never worked "
        "for it) is a repeated failure.",
        min=1,
        max=MAX_COUNT,
    ),
]


def _fixers(item: dict[str, Any]) -> str:
    return ", ".join(f"{f['fixer_type']} ({f['successes']})" for f in item["fixers"])


@app.command(name="suggest")
def suggest_command(
    ctx: typer.Context,
    model: ModelOpt,
    issue_type: TypeOpt,
    description: DescriptionOpt = None,
    prompt: PromptOpt = None,
    response: ResponseOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="At most this many fixes.", min=1, max=10000)
    ] = 5,
    max_failures: MaxFailuresOpt = 3,
    as_json: JsonOpt = False,
) -> None:
    """Rank the fixes worth trying for this issue, and say what already failed for it.

    Fixes are ranked by the 95% Wilson lower bound of their verified-success rate
    on the most specific history that tried them (this failure's fingerprint,
    else model family and issue type, else issue type).

    \b
    Examples:
      aimem suggest -m qwen2.5:7b -t TIMEOUT -d "Model response timeout after 30 seconds"
      aimem suggest -m llama3.1:8b -t ERROR -d "CUDA out of memory" --json | jq .recommendation
    """
    result = repo(ctx).suggest(
        issue_from_options(
            model, issue_type, description=description, prompt=prompt, response=response
        ),
        limit,
        max_failures,
    )
    if as_json:
        emit_json(result)
        return
    write(result["recommendation"] + "\n\nRanked fixes\n")
    rows = [{**item, "fixers_text": _fixers(item)} for item in result["ranked_fixes"]]
    emit_rows(
        rows,
        [
            "rank",
            "fix_commands",
            "successes",
            "attempts",
            "wilson_low",
            "wilson_high",
            "confidence",
            "basis",
            "last_success",
            "fixers_text",
        ],
        Format.table,
        [
            "#",
            "fix",
            "verified",
            "attempts",
            "rate ≥ (95%)",
            "rate ≤ (95%)",
            "confidence",
            "evidence",
            "last success",
            "fixers",
        ],
        "(no verified fix yet)",
    )
    write("\nTried for this failure and failed\n")
    emit_rows(
        result["failed_for_fingerprint"],
        ["fix_commands", "failures", "successes", "last_attempt", "repeated_failure"],
        Format.table,
        ["fix", "failures", "verified", "last attempt", "repeated failure"],
        "(nothing failed for this fingerprint)",
    )


@app.command(name="gate")
def gate_command(
    ctx: typer.Context,
    model: ModelOpt,
    issue_type: TypeOpt,
    description: DescriptionOpt = None,
    prompt: PromptOpt = None,
    response: ResponseOpt = None,
    min_rate: Annotated[
        float,
        typer.Option(
            "--min-rate",
            help="Skip (exit 4) unless some fix has a 95% lower bound at least this high.",
            min=0.0,
            max=1.0,
            callback=finite,
        ),
    ] = 0.0,
    max_failures: MaxFailuresOpt = 3,
    as_json: JsonOpt = False,
) -> None:
    """Decide whether a fix attempt is worth paying for; the exit code says.

    Exit 0: try. Exit 3: skip, a fix failed --max-failures times for this
    failure and nothing else clears --min-rate. Exit 4: skip, the best 95% lower
    bound is under --min-rate. (1 is an error, 2 a usage error.)

    \b
    Examples:
      aimem gate -m qwen2.5:7b -t TIMEOUT -d "timeout after 30s" --min-rate 0.3 || escalate
      aimem gate -m qwen2.5:7b -t TIMEOUT -d "timeout after 30s" --json
    """
    result = repo(ctx).gate(
        issue_from_options(
            model, issue_type, description=description, prompt=prompt, response=response
        ),
        min_rate,
        max_failures,
    )
    if as_json:
        emit_json(result)
    else:
        write(f"{result['decision']} ({result['reason']}): {result['message']}\n")
    if result["exit_code"]:
        raise typer.Exit(result["exit_code"])


@app.command(name="alerts")
def alerts_command(
    ctx: typer.Context,
    days: Annotated[
        float,
        typer.Option(
            "--days",
            help="Regressions: failures within this many days.",
            min=0.001,
            max=3650,
            callback=finite,
        ),
    ] = 7,
    drift_days: Annotated[
        float,
        typer.Option(
            "--drift-days",
            help="Drift: recent window compared with the history before it.",
            min=0.001,
            max=3650,
            callback=finite,
        ),
    ] = 7,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            "-k",
            help="regression, drift or spike (repeat for several).",
            callback=one_of("regression", "drift", "spike"),
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", help="Evaluate as of this ISO 8601 time (default: now).", callback=moment
        ),
    ] = None,
    fmt: Annotated[Format | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Report regressions, fixer drift and issue spikes; exit 3 when any is found.

    \b
    Examples:
      aimem alerts || notify-team
      aimem alerts --kind regression --days 1 --json
    """
    chosen = resolve_format(fmt, as_json)
    result = repo(ctx).alerts(days, drift_days, now, list(kind) if kind else None)
    if chosen is Format.json:
        emit_json(result)
    elif chosen is Format.table:
        # One line per alert, in check's "<kind> <subject>: <detail>" style.
        write("".join(f"{a['kind']} {a['subject']}: {a['message']}\n" for a in result["alerts"]))
        if not result["alerts"]:
            note("no alerts")
    else:
        emit_rows(
            result["alerts"],
            ["kind", "subject", "message"],
            chosen,
            csv_columns=("kind", "subject", "message", "detail"),
        )
    if result["exit_code"]:
        raise typer.Exit(result["exit_code"])
