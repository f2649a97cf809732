"""Advice for the next attempt: ``suggest``, ``gate``, ``alerts``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from aimem.cli._context import repo
from aimem.cli._listing import ColumnsOpt, NoHeadersOpt, WideOpt, table_view
from aimem.cli._output import (
    FORMAT_HELP,
    Format,
    TableView,
    deprecated,
    emit_json,
    emit_rows,
    note,
    resolve_format,
    selected,
    wrapped,
    write,
)
from aimem.cli._values import MAX_COUNT, finite, moment, since_window
from aimem.cli._values import since as since_option
from aimem.cli.app import app
from aimem.cli.query import JsonOnlyOpt, JsonOpt, ModelOpt, TypeOpt, issue_from_options

DescriptionOpt = Annotated[
    str | None,
    typer.Option(
        "--description",
        "-d",
        help="What went wrong (gives the failure fingerprint).",
        metavar="TEXT",
    ),
]
PromptOpt = Annotated[str | None, typer.Option("--prompt", help="The test prompt.", metavar="TEXT")]
ResponseOpt = Annotated[
    str | None, typer.Option("--response", help="The model's response.", metavar="TEXT")
]
MaxFailuresOpt = Annotated[
    int,
    typer.Option(
        "--max-failures",
        help="A fix that failed this many times for this fingerprint (and never worked "
        "for it) is a repeated failure.",
        metavar="N",
        min=1,
        max=MAX_COUNT,
    ),
]


class AlertKind(str, Enum):
    regression = "regression"
    drift = "drift"
    spike = "spike"


ALERT_CSV = ("kind", "subject", "message", "detail")


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
        int,
        typer.Option(
            "--limit", "-n", help="At most this many ranked fixes.", min=1, max=10000, metavar="N"
        ),
    ] = 5,
    max_failures: MaxFailuresOpt = 3,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Seed of the ranking's random draws, for a repeatable answer "
            "(default: fixed for the same question on the same history).",
            metavar="N",
        ),
    ] = None,
    as_json: JsonOnlyOpt = False,
    wide: WideOpt = False,
) -> None:
    """Rank the fixes worth trying for this issue on this model; say whether to explore.

    Each fix's chance of working on this model is estimated from its record on
    the model, then its family, then the issue type. Rank 1 is the fix to try
    now (Thompson sampling: drawn in proportion to the chance it is the best).
    "explore: yes" means asking the fixer for a new fix is worth more than
    reusing rank 1; the fixes under "Avoid" are known failures not to repeat.
    Commands that name a model are shown for the model asked about.

    \b
    Examples:
      aimem suggest -m qwen2.5:7b -t TIMEOUT \\
          -d "Model response timeout after 30 seconds"
      aimem suggest -m llama3.1:8b -t ERROR -d "CUDA out of memory" --json \\
          | jq .recommendation
    """
    result = repo(ctx).suggest(
        issue_from_options(
            model, issue_type, description=description, prompt=prompt, response=response
        ),
        limit,
        max_failures,
        seed,
    )
    if as_json:
        emit_json(result)
        return
    view = TableView(wide=wide)
    new_fix = result["new_fix"]
    write(
        wrapped(
            result["recommendation"]
            + f"\nexplore: {'yes' if result['explore'] else 'no'} (a new fix is estimated at "
            + f"{new_fix['mean']:.0%}, 95% interval {new_fix['low']:.0%}-{new_fix['high']:.0%})"
        )
        + "\n\nRanked fixes\n"
    )
    rows = [
        {
            **item,
            "fixers_text": _fixers(item),
            "estimate_text": f"{item['estimate']['mean']:.0%}",
            "interval_text": f"{item['estimate']['low']:.0%}-{item['estimate']['high']:.0%}",
            "record_text": f"{item['successes']}/{item['attempts']}",
        }
        for item in result["ranked_fixes"]
    ]
    emit_rows(
        rows,
        [
            "rank",
            "fix_commands",
            "estimate_text",
            "interval_text",
            "record_text",
            "basis",
            "last_success",
            "fixers_text",
        ],
        Format.table,
        ["#", "fix", "estimate", "95% interval", "verified", "evidence", "last success", "fixers"],
        "(no verified fix yet)",
        view=view,
        section=True,
        shrink="fix_commands",
        drop=("fixers_text", "last_success", "interval_text", "basis"),
    )
    write("\nAvoid (known failures here)\n")
    emit_rows(
        [{"fix_commands": commands} for commands in result["avoid"]],
        ["fix_commands"],
        Format.table,
        ["fix"],
        "(none)",
        view=view,
        section=True,
        shrink="fix_commands",
    )
    write("\nTried for this failure and failed\n")
    emit_rows(
        result["failed_for_fingerprint"],
        ["fix_commands", "failures", "successes", "last_attempt", "repeated_failure"],
        Format.table,
        ["fix", "failures", "verified", "last attempt", "repeated failure"],
        "(nothing failed for this fingerprint)",
        view=view,
        section=True,
        shrink="fix_commands",
        drop=("last_attempt",),
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
            help="Skip (exit 4) unless some fix's estimated chance of working on this "
            "model has a 95% lower bound at least this high.",
            metavar="RATE",
            min=0.0,
            max=1.0,
            callback=finite,
        ),
    ] = 0.0,
    max_failures: MaxFailuresOpt = 3,
    as_json: JsonOnlyOpt = False,
) -> None:
    """Decide whether a fix attempt is worth paying for; the exit code says.

    The estimate is suggest's (this model, then its family, then the issue
    type). Exit 0: try. Exit 3: skip, a fix failed --max-failures times for
    this failure and nothing else clears --min-rate. Exit 4: skip, the best
    95% lower bound is under --min-rate. (1 is an error, 2 a usage error.)

    \b
    Examples:
      aimem gate -m qwen2.5:7b -t TIMEOUT -d "timeout after 30s" --min-rate 0.3 \\
          || escalate
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
        # the message may open with the decision ('try `x`: ...'): say it once
        message = result["message"].removeprefix(f"{result['decision']} ")
        write(f"{result['decision']} ({result['reason']}): {message}\n")
    if result["exit_code"]:
        raise typer.Exit(result["exit_code"])


@app.command(name="alerts")
def alerts_command(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Regressions: failures since then, a duration (7d, 12h) or a date (default 7d).",
            metavar="WHEN",
            callback=since_option,
        ),
    ] = None,
    days: Annotated[
        float | None,
        typer.Option(
            "--days",
            help="Deprecated: --since Nd.",
            min=0.001,
            max=3650,
            metavar="DAYS",
            callback=finite,
        ),
    ] = None,
    drift_days: Annotated[
        float,
        typer.Option(
            "--drift-days",
            help="Drift: recent window compared with the history before it.",
            min=0.001,
            max=3650,
            metavar="DAYS",
            callback=finite,
        ),
    ] = 7,
    kind: Annotated[
        list[AlertKind] | None,
        typer.Option("--kind", "-k", help="Only this kind of alert (repeat for several)."),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Evaluate as of this ISO 8601 time (default: now).",
            metavar="TIME",
            callback=moment,
        ),
    ] = None,
    fmt: Annotated[Format | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
    as_json: JsonOpt = False,
    columns: ColumnsOpt = None,
    no_headers: NoHeadersOpt = False,
) -> None:
    """Report regressions, fixer drift and issue spikes; exit 3 when any is found.

    \b
    Examples:
      aimem alerts || notify-team
      aimem alerts --kind regression --since 1d --json
    """
    if days is not None:
        if since is not None:
            raise typer.BadParameter("give --since or --days, not both", param_hint="'--days'")
        deprecated("--days N", "--since Nd")
    window = since_window(since) if since is not None else (days if days is not None else 7)
    if not 0 < window <= 3650:
        raise typer.BadParameter(
            "must be more than 0 and at most 3650 days back", param_hint="'--since'"
        )
    chosen = resolve_format(fmt, as_json)
    view = table_view(False, columns, no_headers, ALERT_CSV)
    result = repo(ctx).alerts(window, drift_days, now, [k.value for k in kind] if kind else None)
    if chosen is Format.json:
        if view.columns:
            result = {**result, "alerts": [selected(a, view.columns) for a in result["alerts"]]}
        emit_json(result)
    elif chosen is Format.table and not view.columns:
        # One line per alert, in check's "<kind> <subject>: <detail>" style.
        write("".join(f"{a['kind']} {a['subject']}: {a['message']}\n" for a in result["alerts"]))
        if not result["alerts"]:
            note("no alerts")
    else:
        emit_rows(
            result["alerts"],
            ["kind", "subject", "message"],
            chosen,
            csv_columns=ALERT_CSV,
            view=view,
            shrink="message",
            empty_message="no alerts",
        )
    if result["exit_code"]:
        raise typer.Exit(result["exit_code"])
