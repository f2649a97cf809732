"""Turning ``aimem record`` flags and JSON input into record_many items."""

from __future__ import annotations

from typing import IO, Any

from aimem.cli._click import click_exceptions
from aimem.errors import InvalidInputError
from aimem.fsutil import stdin_bytes

# The flag that sets each field record_fix_attempt validates (aimem.records).
FLAGS = {
    "issue_data.model": "--model",
    "issue_data.issue_type": "--issue-type",
    "issue_data.description": "--description",
    "issue_data.test_prompt": "--prompt",
    "issue_data.actual_response": "--response",
    "ai_response.analysis": "--analysis",
    "ai_response.fix_commands": "--command",
    "ai_response.tokens_in": "--tokens-in",
    "ai_response.tokens_out": "--tokens-out",
    "ai_response.cost_usd": "--cost",
    "ai_response.fixer_model": "--fixer-model",
    "execution_time": "--time",
    "notes": "--notes",
    "fixer_type": "--fixer",
}


def outcome_from_flags(yes: tuple[str, bool], no: tuple[str, bool]) -> bool | None:
    """True, False or None (neither) from a pair of opposite flags; both is a usage error."""
    if yes[1] and no[1]:
        raise click_exceptions.UsageError(f"{yes[0]} and {no[0]} contradict each other")
    return True if yes[1] else (False if no[1] else None)


def attempts_from_flags(
    model: str | None,
    issue_type: str | None,
    description: str | None,
    fixer: str | None,
    analysis: str | None,
    commands: list[str] | None,
    success: bool | None,
    verified: bool | None,
    seconds: float | None,
    notes: str | None,
    prompt: str | None,
    response: str | None,
    tokens_in: int | None = None,
    tokens_out: int | None = None,
    cost: float | None = None,
    fixer_model: str | None = None,
) -> dict[str, Any]:
    for value, flag in (
        (model, "--model"),
        (issue_type, "--issue-type"),
        (description, "--description"),
    ):
        if value is None:
            raise click_exceptions.UsageError(f"{flag} is required (or use --json FILE)")
    if success is None:
        raise click_exceptions.UsageError("say whether the fix was applied: --success or --failure")
    if verified is None:
        if success:
            raise click_exceptions.UsageError(
                "say whether the fix was verified: --verified or --unverified"
            )
        verified = False
    issue: dict[str, Any] = {"model": model, "issue_type": issue_type, "description": description}
    if prompt is not None:
        issue["test_prompt"] = prompt
    if response is not None:
        issue["actual_response"] = response
    reply: dict[str, Any] = {"analysis": analysis, "fix_commands": list(commands or [])}
    extras: dict[str, Any] = {
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost_usd": cost,
        "fixer_model": fixer_model,
    }
    reply.update({k: v for k, v in extras.items() if v is not None})
    item = {
        "issue_data": issue,
        "ai_response": {**reply, "analysis": analysis or ""},
        "fix_success": success,
        "verification_success": verified,
        "execution_time": seconds,
        "notes": notes,
        "fixer_type": "claude" if fixer is None else fixer,
    }
    _check_flags(item)
    return item


def _check_flags(item: dict[str, Any]) -> None:
    """Validate as record does, before the repository is opened; a bad value names its flag."""
    from aimem.records import attempt_from_call

    try:
        attempt_from_call(**item, redact=False)
    except InvalidInputError as error:
        flag = FLAGS.get(error.field.split("[", 1)[0])
        if flag is None:
            raise
        problem = f"{error.problem} ({error.hint})" if error.hint else error.problem
        raise click_exceptions.BadParameter(problem, param_hint=f"'{flag}'") from None


def read_attempts(name: str) -> tuple[str, list[Any], list[int]]:
    """Parse one JSON object (possibly spanning lines) or NDJSON, naming file and line on error.

    Read line by line within the input limits (aimem.input_limits): a line
    longer than the limit or nesting deeper than it is refused as it is read.
    One object spanning lines is at most one line's limit in all.
    """
    source = "<stdin>" if name == "-" else name
    try:
        stream = stdin_bytes() if name == "-" else open(name, "rb")  # noqa: SIM115
    except OSError as error:
        raise InvalidInputError("", f"cannot read: {error.strerror}", source) from None
    try:
        return _read_stream(stream, source)
    except OSError as error:
        raise InvalidInputError("", f"cannot read: {error.strerror}", source) from None
    finally:
        if name != "-":
            stream.close()


def _read_stream(stream: IO[bytes], source: str) -> tuple[str, list[Any], list[int]]:
    import orjson

    from aimem import input_limits

    lines = input_limits.iter_lines(stream, source)
    head: list[tuple[int, bytes]] = []
    size = 0
    # While the input could still be one object spanning lines, keep its lines.
    for number, line in lines:
        _check_text(line, source, number)
        head.append((number, line))
        size += len(line)
        if size > input_limits.MAX_LINE_BYTES:
            break
    else:
        data = b"".join(line for _, line in head)
        if not data.strip():
            raise InvalidInputError("", "no attempts in the input", source)
        try:
            whole = orjson.loads(data)
        except orjson.JSONDecodeError:
            whole = None
        if isinstance(whole, dict):
            if input_limits.exceeds_depth(whole):
                raise input_limits.too_deep(source, _first_line(head))
            return source, [whole], [1]
        if isinstance(whole, list):
            raise InvalidInputError(
                "", "expected one JSON object or NDJSON lines, not an array", source, 1
            )
    items: list[Any] = []
    numbers: list[int] = []

    def take(number: int, line: bytes) -> None:
        if not line.strip():
            return
        value = input_limits.loads_bounded(line, source, number)
        if not isinstance(value, dict):
            raise InvalidInputError("", "each line must be a JSON object", source, number)
        items.append(value)
        numbers.append(number)

    for number, line in head:
        take(number, line)
    for number, line in lines:
        _check_text(line, source, number)
        take(number, line)
    return source, items, numbers


def _first_line(head: list[tuple[int, bytes]]) -> int:
    return next((number for number, line in head if line.strip()), 1)


def _check_text(line: bytes, source: str, number: int) -> None:
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError("", "is not valid UTF-8", source, number) from None
