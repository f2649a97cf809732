"""``aimem record``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aimem.cli._click import click_exceptions
from aimem.cli._context import repo
from aimem.cli._output import emit_json, warning, write
from aimem.cli._values import MAX_AMOUNT, MAX_COUNT, QuietOpt, filled, finite
from aimem.cli.app import app


def _record_warning_on_repeat(
    ctx: typer.Context,
    items: list[Any],
    source: str | None,
    lines: list[int] | None,
    strict: bool,
    max_failures: int,
) -> list[int]:
    # The library warns (RepeatedFixWarning); the command line says so on stderr.
    import warnings

    from aimem.learn.advice import RepeatedFixWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RepeatedFixWarning)
        ids = repo(ctx, create=False).record_many(
            items, source=source, lines=lines, strict=strict, max_failures=max_failures
        )
    for caught_warning in caught:
        if issubclass(caught_warning.category, RepeatedFixWarning):
            warning(str(caught_warning.message))
    return ids


@app.command(name="record")
def record_command(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model under test, e.g. qwen2.5:7b.", metavar="MODEL"),
    ] = None,
    issue_type: Annotated[
        str | None,
        typer.Option(
            "--issue-type",
            "-t",
            help="TIMEOUT, MODEL_NOT_AVAILABLE, ... or CUSTOM_NAME.",
            metavar="TYPE",
        ),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="What went wrong.", metavar="TEXT")
    ] = None,
    fixer: Annotated[
        str | None,
        typer.Option(
            "--fixer", help="The AI fixer that tried: claude (default), qwen, ...", metavar="FIXER"
        ),
    ] = None,
    analysis: Annotated[
        str | None, typer.Option("--analysis", help="The fixer's analysis.", metavar="TEXT")
    ] = None,
    command: Annotated[
        list[str] | None,
        typer.Option(
            "--command", "-c", help="A fix command (repeat for several).", metavar="COMMAND"
        ),
    ] = None,
    success: Annotated[bool, typer.Option("--success", help="The fix was applied.")] = False,
    failure: Annotated[bool, typer.Option("--failure", help="The fix was not applied.")] = False,
    verified: Annotated[
        bool, typer.Option("--verified", help="The applied fix was verified.")
    ] = False,
    unverified: Annotated[
        bool, typer.Option("--unverified", help="The applied fix was not verified.")
    ] = False,
    seconds: Annotated[
        float | None,
        typer.Option(
            "--time",
            help="Seconds the fix took.",
            min=0,
            max=MAX_AMOUNT,
            metavar="SECONDS",
            callback=finite,
        ),
    ] = None,
    notes: Annotated[
        str | None, typer.Option("--notes", help="Free-form notes.", metavar="TEXT")
    ] = None,
    prompt: Annotated[
        str | None,
        typer.Option("--prompt", help="The test prompt (for the signature).", metavar="TEXT"),
    ] = None,
    response: Annotated[
        str | None,
        typer.Option(
            "--response",
            help="The model's actual response (for the signature).",
            metavar="TEXT",
        ),
    ] = None,
    input_file: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="Read attempts from FILE ('-' for stdin): one JSON object or NDJSON lines "
            "with record_fix_attempt's arguments.",
            metavar="FILE",
            callback=filled,
        ),
    ] = None,
    json_file: Annotated[
        str | None,
        typer.Option(
            "--json",
            help="Deprecated spelling of --input FILE (--json will mean JSON output, as on "
            "every other command).",
            metavar="FILE",
            callback=filled,
            hidden=True,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--print-json", help='Print {"ids": [...]} instead of ids.')
    ] = False,
    tokens_in: Annotated[
        int | None,
        typer.Option(
            "--tokens-in", help="Tokens the fixer read.", min=0, max=int(MAX_AMOUNT), metavar="N"
        ),
    ] = None,
    tokens_out: Annotated[
        int | None,
        typer.Option(
            "--tokens-out", help="Tokens the fixer wrote.", min=0, max=int(MAX_AMOUNT), metavar="N"
        ),
    ] = None,
    cost: Annotated[
        float | None,
        typer.Option(
            "--cost",
            help="What the attempt cost, in USD.",
            metavar="USD",
            min=0,
            max=MAX_AMOUNT,
            callback=finite,
        ),
    ] = None,
    fixer_model: Annotated[
        str | None,
        typer.Option(
            "--fixer-model",
            help="The fixer's model version, e.g. claude-3-5-sonnet.",
            metavar="MODEL",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Refuse (write nothing) when a fix repeats one that already failed "
            "--max-failures times for the same failure.",
        ),
    ] = False,
    max_failures: Annotated[
        int,
        typer.Option(
            "--max-failures",
            help="Failures that make a fix a repeated failure.",
            metavar="N",
            min=1,
            max=MAX_COUNT,
        ),
    ] = 3,
    quiet_: QuietOpt = False,
) -> None:
    """Record fix attempts; prints the new id(s), one per line.

    A success needs both --success and --verified. With --input, every line is
    checked before anything is written: one bad line rejects the whole input.

    \b
    Examples:
      aimem record -m qwen2.5:7b -t TIMEOUT -d "timeout after 30s" \\
          --fixer qwen -c "# Increase timeout to 60 seconds" \\
          --success --verified --time 45.2
      aimem record --input attempts.ndjson
      some-fixer | aimem record --input -
      aimem record -m qwen2.5:7b -t TIMEOUT -d "timeout after 30s" \\
          -c "ollama pull qwen2.5:7b" --failure --tokens-in 1200 \\
          --tokens-out 300 --cost 0.0081 --fixer-model claude-3-5-sonnet
    """
    from aimem.cli.record_input import attempts_from_flags, outcome_from_flags, read_attempts

    applied = outcome_from_flags(("--success", success), ("--failure", failure))
    checked = outcome_from_flags(("--verified", verified), ("--unverified", unverified))
    if json_file is not None:
        if input_file is not None:
            raise click_exceptions.UsageError("give --input FILE, not both --input and --json")
        warning("--json FILE is deprecated: use --input FILE (--json will mean JSON output)")
        input_file = json_file
    if input_file is not None:
        flags = (model, issue_type, description, fixer, analysis, command, applied, checked)
        cost_flags = (tokens_in, tokens_out, cost, fixer_model)
        if any(f is not None for f in (*flags, seconds, notes, prompt, response, *cost_flags)):
            raise click_exceptions.UsageError(
                "--input FILE cannot be combined with per-attempt flags"
            )
        source, items, lines = read_attempts(input_file)
    else:
        source, lines, items = (
            None,
            None,
            [
                attempts_from_flags(
                    model,
                    issue_type,
                    description,
                    fixer,
                    analysis,
                    command,
                    applied,
                    checked,
                    seconds,
                    notes,
                    prompt,
                    response,
                    tokens_in,
                    tokens_out,
                    cost,
                    fixer_model,
                )
            ],
        )
    ids = _record_warning_on_repeat(ctx, items, source, lines, strict, max_failures)
    if as_json:
        emit_json({"ids": ids}, pretty=False)
    else:
        write("".join(f"{i}\n" for i in ids))
