"""``aimem record``."""

from __future__ import annotations

from typing import Annotated

import typer

from aimem.cli._click import click_exceptions
from aimem.cli._context import repo
from aimem.cli._output import emit_json, write
from aimem.cli.app import app


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
    success: Annotated[
        bool | None,
        typer.Option(
            "--success/--failure", help="Whether the fix was applied.", show_default=False
        ),
    ] = None,
    verified: Annotated[
        bool | None,
        typer.Option(
            "--verified/--unverified", help="Whether the fix was verified.", show_default=False
        ),
    ] = None,
    seconds: Annotated[
        float | None, typer.Option("--time", help="Seconds the fix took.", min=0, metavar="SECONDS")
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
    json_file: Annotated[
        str | None,
        typer.Option(
            "--json",
            help="Read attempts from FILE ('-' for stdin): one JSON object or NDJSON lines "
            "with record_fix_attempt's arguments.",
            metavar="FILE",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--print-json", help='Print {"ids": [...]} instead of ids.')
    ] = False,
) -> None:
    """Record fix attempts; prints the new id(s), one per line.

    A success needs both --success and --verified. With --json, every line is
    checked before anything is written: one bad line rejects the whole input.

    \b
    Examples:
      aimem record -m qwen2.5:7b -t TIMEOUT -d "timeout after 30s" \\
          --fixer qwen -c "# Increase timeout to 60 seconds" --success --verified --time 45.2
      aimem record --json attempts.ndjson
      some-fixer | aimem record --json -
    """
    from aimem.cli.record_input import attempts_from_flags, read_attempts

    if json_file is not None:
        flags = (model, issue_type, description, fixer, analysis, command, success, verified)
        if any(f is not None for f in (*flags, seconds, notes, prompt, response)):
            raise click_exceptions.UsageError(
                "--json FILE cannot be combined with per-attempt flags"
            )
        source, items, lines = read_attempts(json_file)
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
                    success,
                    verified,
                    seconds,
                    notes,
                    prompt,
                    response,
                )
            ],
        )
    ids = repo(ctx, create=False).record_many(items, source=source, lines=lines)
    if as_json:
        emit_json({"ids": ids}, pretty=False)
    else:
        write("".join(f"{i}\n" for i in ids))
