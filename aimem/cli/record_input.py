"""Turning ``aimem record`` flags and JSON input into record_many items."""

from __future__ import annotations

import sys
from typing import Any

from aimem.cli._click import click_exceptions
from aimem.errors import InvalidInputError


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
    return {
        "issue_data": issue,
        "ai_response": {"analysis": analysis or "", "fix_commands": list(commands or [])},
        "fix_success": success,
        "verification_success": verified,
        "execution_time": seconds,
        "notes": notes,
        "fixer_type": fixer or "claude",
    }


def read_attempts(name: str) -> tuple[str, list[Any], list[int]]:
    """Parse one JSON object (possibly spanning lines) or NDJSON, naming file and line on error."""
    import orjson

    source = "<stdin>" if name == "-" else name
    try:
        data = sys.stdin.buffer.read() if name == "-" else open(name, "rb").read()  # noqa: SIM115
    except OSError as error:
        raise InvalidInputError("", f"cannot read: {error.strerror}", source) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidInputError("", "is not valid UTF-8", source, line) from None
    if not text.strip():
        raise InvalidInputError("", "no attempts in the input", source)
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        whole = None
    else:
        if isinstance(whole, dict):
            return source, [whole], [1]
        if isinstance(whole, list):
            raise InvalidInputError(
                "", "expected one JSON object or NDJSON lines, not an array", source, 1
            )
    items: list[Any] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(_Located(orjson.loads(line), number))
        except orjson.JSONDecodeError as error:
            raise InvalidInputError("", f"invalid JSON: {error.msg}", source, number) from None
    return source, [_unwrap(item, source) for item in items], [item.line for item in items]


class _Located:
    __slots__ = ("line", "value")

    def __init__(self, value: Any, line: int) -> None:
        self.value = value
        self.line = line


def _unwrap(item: _Located, source: str) -> Any:
    if not isinstance(item.value, dict):
        raise InvalidInputError("", "each line must be a JSON object", source, item.line)
    return item.value
