"""Validation of raw input into typed attempts, and the export row format.

Everything that enters the repository passes through here: the
``record_fix_attempt`` arguments and rows read back from exports or segments.
A bad value raises InvalidInputError naming the field (and file and line when
known) before anything is written.

The export row format is the seed schema's ``fix_history`` columns plus aimem's
extras, with ``fix_commands`` as a JSON array and ``system_info`` as an object.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aimem.errors import InvalidInputError
from aimem.learn.signatures import (
    generate_fingerprint,
    generate_issue_signature,
    new_uid,
    normalize_issue_type,
)
from aimem.redact import redact_text, redact_value
from aimem.timeutil import normalize_timestamp, now_iso, output_timestamp

STANDARD_ISSUE_TYPES = (
    "MODEL_NOT_AVAILABLE",
    "TIMEOUT",
    "UNEXPECTED_RESPONSE",
    "NO_OUTPUT",
    "ERROR",
    "CUSTOM",
)
KNOWN_FIXER_TYPES = ("claude", "qwen", "gpt", "gemini", "custom")

# Columns of fix_history in export order: the seed schema's, then aimem's extras.
DESIGN_COLUMNS = (
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
)
EXTRA_COLUMNS = ("uid", "fingerprint", "tokens_in", "tokens_out", "cost_usd", "fixer_model")
EXPORT_COLUMNS = DESIGN_COLUMNS + EXTRA_COLUMNS
_EXPORT_COLUMN_SET = frozenset(EXPORT_COLUMNS)
# REAL columns: exports write them as Python's repr, as they always have.
REAL_COLUMNS = ("execution_time_seconds", "cost_usd")
STORED_COLUMNS = tuple(c for c in EXPORT_COLUMNS if c != "id")

_CUSTOM_TYPE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_FIXER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$")
_UID = re.compile(r"[0-9a-f]{32}")  # fullmatch: "$" would let a trailing newline in
_HEX16 = re.compile(r"[0-9a-f]{16}")

LIMITS = {
    "model": 256,
    "description": 20_000,
    "analysis": 200_000,
    "command": 20_000,
    "commands": 500,
    "notes": 100_000,
    "prompt": 10_000_000,
    "response": 10_000_000,
    "system_info": 100_000,
    "fixer_model": 256,
    "fixer_text": 100_000,
    "issue_type_text": 100_000,
}


def normalize_fixer(name: str) -> str:
    """The one spelling a fixer's name is stored and compared in: trimmed, lower case.

    ``Claude``, ``CLAUDE`` and ``claude`` are one fixer, spelled as the seed
    schema's fixer types are (claude, qwen, gpt, gemini, custom), as
    ``signatures.normalize_issue_type`` makes ``timeout`` the issue type
    TIMEOUT. Every attempt's fixer goes through this, a stored row read back
    (an import, a thaw, an archived fact) too; migration m016 respelled the
    rows stored before.
    """
    return name.strip().lower()


@dataclass(frozen=True)
class Attempt:
    """One fix attempt, validated and ready to store."""

    timestamp: str
    model_name: str
    issue_type: str
    issue_signature: str
    description: str
    fixer_type: str
    claude_analysis: str
    fix_commands: list[str]
    fix_success: bool
    verification_success: bool
    execution_time_seconds: float | None
    system_info: dict[str, Any]
    notes: str | None
    uid: str = field(default_factory=new_uid)
    fingerprint: str = ""
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    fixer_model: str | None = None

    @property
    def success(self) -> bool:
        """A success is a fix that was applied and verified (what the success rate counts)."""
        return self.fix_success and self.verification_success

    def to_row(self, record_id: int | None = None) -> dict[str, Any]:
        """The export row (seed column names plus aimem's extras)."""
        row: dict[str, Any] = {"id": record_id}
        for column in STORED_COLUMNS:
            row[column] = getattr(self, column)
        return {column: row[column] for column in EXPORT_COLUMNS}


class _Checker:
    """Field checks that name the field and the place in the input."""

    def __init__(self, source: str | None, line: int | None) -> None:
        self.source = source
        self.line = line

    def fail(self, name: str, problem: str, hint: str | None = None) -> InvalidInputError:
        return InvalidInputError(name, problem, self.source, self.line, hint)

    def text(self, name: str, value: Any, limit: int, *, required: bool) -> str:
        if value is None:
            if required:
                raise self.fail(name, "is missing")
            return ""
        if not isinstance(value, str):
            raise self.fail(name, f"must be a string, not {_kind(value)}")
        if required and (not value or value.isspace()):
            raise self.fail(name, "must not be empty")
        if len(value) > limit:
            raise self.fail(name, f"is too long ({len(value)} characters, limit {limit})")
        if "\x00" in value:
            raise self.fail(name, "contains a NUL byte")
        if not value.isascii():  # ASCII is valid UTF-8: skip the copy
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise self.fail(name, "is not valid UTF-8 text") from None
        return value

    def boolean(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, not {_kind(value)}")
        return value

    def number(self, name: str, value: Any, *, integer: bool = False) -> float | int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(name, f"must be a number, not {_kind(value)}")
        if integer and not isinstance(value, int):
            raise self.fail(name, "must be a whole number")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(name, "must be a finite number")
        if value < 0:
            raise self.fail(name, "must not be negative")
        if value > 1e12:
            raise self.fail(name, "is absurdly large")
        return value

    def commands(self, name: str, value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(name, f"must be a list of strings, not {_kind(value)}")
        if len(value) > LIMITS["commands"]:
            raise self.fail(
                name, f"has too many commands ({len(value)}, limit {LIMITS['commands']})"
            )
        return [
            self.text(f"{name}[{index}]", item, LIMITS["command"], required=False)
            for index, item in enumerate(value)
        ]

    def issue_type(self, name: str, value: Any) -> str:
        text = normalize_issue_type(self.text(name, value, 64, required=True))
        if text in STANDARD_ISSUE_TYPES or _CUSTOM_TYPE.match(text):
            return text
        raise self.fail(
            name,
            f"unknown issue type {text!r}",
            hint="use one of "
            + ", ".join(STANDARD_ISSUE_TYPES)
            + " or a custom name in UPPER_SNAKE_CASE",
        )

    def fixer(self, name: str, value: Any) -> str:
        text = self.text(name, value, 64, required=True).strip()
        if not _FIXER.match(text):
            raise self.fail(name, f"invalid fixer type {text!r} (letters, digits, _ . : + -)")
        return normalize_fixer(text)

    def stored_fixer(self, name: str, value: Any) -> str:
        # A stored row keeps any fixer text the seed schema took (TEXT NOT
        # NULL): 'Claude 3.5 Sonnet' from the seed system is history,
        # not bad input. Only new attempts get the strict form above; both
        # get the one spelling, so 'Claude' and 'claude' stay one fixer.
        if value is None:
            raise self.fail(name, "is missing")
        return normalize_fixer(self.text(name, value, LIMITS["fixer_text"], required=False))

    def stored_issue_type(self, name: str, value: Any) -> str:
        # Stored rows hold whatever the seed schema took; normalized, not refused.
        text = normalize_issue_type(
            self.text(name, value, LIMITS["issue_type_text"], required=True)
        )
        if not text:
            raise self.fail(name, "must not be empty")
        return text

    def timestamp(self, name: str, value: Any) -> str:
        text = self.text(name, value, 64, required=True)
        try:
            return normalize_timestamp(text)
        except ValueError:
            raise self.fail(name, f"is not an ISO 8601 timestamp: {text!r}") from None

    def mapping(self, name: str, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, f"must be an object, not {_kind(value)}")
        from aimem import input_limits

        # Redaction and serialisation walk it recursively: bound the depth first.
        if input_limits.exceeds_depth(value):
            raise self.fail(name, f"is nested deeper than {input_limits.MAX_DEPTH} levels")
        return value


def _kind(value: Any) -> str:
    names = {bool: "a boolean", str: "a string", int: "a number", float: "a number"}
    names.update({list: "a list", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)


_SYSTEM_INFO: dict[str, Any] | None = None
# Device files a GPU runtime that ollama can use leaves: NVIDIA's driver, AMD's ROCm.
GPU_DEVICE_PATTERNS = ("/dev/nvidia[0-9]*", "/proc/driver/nvidia/gpus/*", "/dev/kfd")
OLLAMA_TIMEOUT_SECONDS = 2.0


def default_system_info() -> dict[str, Any]:
    """Facts about this machine, gathered once per process (the ``system_info`` column).

    The seed's keys ``os``, ``ram_gb``, ``gpu_available`` and
    ``ollama_version`` (None when ollama is not installed or does not answer
    within OLLAMA_TIMEOUT_SECONDS), then aimem's. Gathered on the first
    attempt recorded without ``system_info``, never at import: asking ollama
    starts a program.
    """
    global _SYSTEM_INFO
    if _SYSTEM_INFO is None:
        import platform

        info: dict[str, Any] = {"os": platform.system()}
        try:
            pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            info["ram_gb"] = round(pages / 2**30, 1)
        except (ValueError, OSError, AttributeError):
            pass
        info["gpu_available"] = gpu_available()
        info["ollama_version"] = ollama_version()
        info.update(
            {
                "os_release": platform.release(),
                "machine": platform.machine(),
                "python": platform.python_version(),
                "cpu_count": os.cpu_count(),
            }
        )
        _SYSTEM_INFO = info
    return dict(_SYSTEM_INFO)


def gpu_available() -> bool:
    """Whether this machine has a GPU that ollama can use (NVIDIA, AMD ROCm, Apple silicon)."""
    import glob
    import platform

    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return True  # Metal, on every Apple silicon Mac
    return any(glob.glob(pattern) for pattern in GPU_DEVICE_PATTERNS)


def ollama_version() -> str | None:
    """The installed ollama's version (``ollama --version``), or None."""
    import shutil
    import signal
    import subprocess

    program = shutil.which("ollama")
    if program is None:
        return None
    try:
        # Its own process group: a wrapper script's children that keep the
        # output pipe open are stopped with it when it does not answer in time.
        child = subprocess.Popen(
            [program, "--version"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError:
        return None
    try:
        output, _ = child.communicate(timeout=OLLAMA_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        from contextlib import suppress

        with suppress(OSError):  # already gone
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return None
    return parse_ollama_version(output.decode("utf-8", "replace"))


def parse_ollama_version(output: str) -> str | None:
    """The version in ``ollama --version`` output: "ollama version is 0.1.17", or
    "Warning: client version is 0.5.7" when no server is running."""
    match = re.search(r"version is v?([0-9][\w.+-]*)", output)
    return match.group(1) if match else None


def performance_note(model_name: Any, text: Any, *, required: bool) -> tuple[str, str]:
    """A model name and a performance note, checked (``model_characteristics.performance_notes``)."""
    check = _Checker(None, None)
    model = check.text("model_name", model_name, LIMITS["model"], required=True)
    return model, check.text("notes", text, LIMITS["notes"], required=required)


def _json_size(value: Any) -> int:
    import orjson

    try:
        return len(orjson.dumps(value))
    except TypeError:
        return -1


def attempt_from_call(
    issue_data: Any,
    ai_response: Any,
    fix_success: Any,
    verification_success: Any,
    execution_time: Any,
    notes: Any = None,
    fixer_type: Any = "claude",
    *,
    timestamp: Any = None,
    redact: bool = True,
    source: str | None = None,
    line: int | None = None,
) -> Attempt:
    """Validate the ``record_fix_attempt`` arguments into an Attempt."""
    check = _Checker(source, line)
    if not isinstance(issue_data, Mapping):
        raise check.fail("issue_data", f"must be an object, not {_kind(issue_data)}")
    if ai_response is None:
        ai_response = {}
    if not isinstance(ai_response, Mapping):
        raise check.fail("ai_response", f"must be an object, not {_kind(ai_response)}")
    model = check.text("issue_data.model", issue_data.get("model"), LIMITS["model"], required=True)
    issue_type = check.issue_type("issue_data.issue_type", issue_data.get("issue_type"))
    description = check.text(
        "issue_data.description",
        issue_data.get("description"),
        LIMITS["description"],
        required=True,
    )
    prompt = check.text(
        "issue_data.test_prompt", issue_data.get("test_prompt"), LIMITS["prompt"], required=False
    )
    response = check.text(
        "issue_data.actual_response",
        issue_data.get("actual_response"),
        LIMITS["response"],
        required=False,
    )
    analysis = check.text(
        "ai_response.analysis", ai_response.get("analysis"), LIMITS["analysis"], required=False
    )
    commands = check.commands("ai_response.fix_commands", ai_response.get("fix_commands"))
    fixed = check.boolean("fix_success", fix_success)
    verified = check.boolean("verification_success", verification_success)
    seconds = check.number("execution_time", execution_time)
    note_text = (
        check.text("notes", notes, LIMITS["notes"], required=False) if notes is not None else None
    )
    fixer = check.fixer("fixer_type", fixer_type)
    system_info = check.mapping("issue_data.system_info", issue_data.get("system_info"))
    if not system_info:
        system_info = default_system_info()
    if _json_size(system_info) < 0:
        raise check.fail("issue_data.system_info", "must hold only JSON values")
    if _json_size(system_info) > LIMITS["system_info"]:
        raise check.fail("issue_data.system_info", "is too large")
    when = now_iso() if timestamp is None else check.timestamp("timestamp", timestamp)
    tokens_in = check.number("ai_response.tokens_in", ai_response.get("tokens_in"), integer=True)
    tokens_out = check.number("ai_response.tokens_out", ai_response.get("tokens_out"), integer=True)
    cost = check.number("ai_response.cost_usd", ai_response.get("cost_usd"))
    fixer_model_value = ai_response.get("fixer_model")
    fixer_model = (
        check.text(
            "ai_response.fixer_model", fixer_model_value, LIMITS["fixer_model"], required=False
        )
        if fixer_model_value is not None
        else None
    )
    # The signature sees the raw input, as the seed system's did, so old signatures match.
    signature = generate_issue_signature(
        {
            "issue_type": issue_type,
            "model": model,
            "test_prompt": prompt,
            "actual_response": response,
        }
    )
    fingerprint = generate_fingerprint(issue_type, model, description, response)
    if redact:
        description = redact_text(description)
        analysis = redact_text(analysis)
        commands = [redact_text(c) for c in commands]
        note_text = redact_text(note_text) if note_text is not None else None
        system_info = redact_value(system_info)
    return Attempt(
        timestamp=when,
        model_name=model,
        issue_type=issue_type,
        issue_signature=signature,
        description=description,
        fixer_type=fixer,
        claude_analysis=analysis,
        fix_commands=commands,
        fix_success=fixed,
        verification_success=verified,
        execution_time_seconds=None if seconds is None else float(seconds),
        system_info=system_info,
        notes=note_text,
        fingerprint=fingerprint,
        tokens_in=None if tokens_in is None else int(tokens_in),
        tokens_out=None if tokens_out is None else int(tokens_out),
        cost_usd=None if cost is None else float(cost),
        fixer_model=fixer_model,
    )


# Listings (recent, search, similar --json) add display fields; import reads export rows.
EXPORT_HINT = (
    "import reads what 'aimem export' writes (ndjson, json or csv), not the output "
    "of listing commands such as 'aimem recent --json'"
)


def attempt_from_row(
    row: Any,
    *,
    redact: bool = True,
    source: str | None = None,
    line: int | None = None,
) -> Attempt:
    """Validate one export row (from an export file or a segment) into an Attempt."""
    check = _Checker(source, line)
    if not isinstance(row, Mapping):
        raise check.fail("", f"a record must be a JSON object, not {_kind(row)}")
    unknown = row.keys() - _EXPORT_COLUMN_SET
    if unknown:
        raise check.fail(
            sorted(unknown)[0], "is not a column of the export row format", EXPORT_HINT
        )
    model = check.text("model_name", row.get("model_name"), LIMITS["model"], required=True)
    issue_type = check.stored_issue_type("issue_type", row.get("issue_type"))
    signature = check.text("issue_signature", row.get("issue_signature"), 64, required=True)
    description = check.text(
        "description", row.get("description"), LIMITS["description"], required=True
    )
    fixer = check.stored_fixer("fixer_type", row.get("fixer_type"))
    analysis = check.text(
        "claude_analysis", row.get("claude_analysis"), LIMITS["analysis"], required=False
    )
    commands = check.commands("fix_commands", row.get("fix_commands"))
    fixed = check.boolean("fix_success", row.get("fix_success"))
    verified = check.boolean("verification_success", row.get("verification_success"))
    seconds = check.number("execution_time_seconds", row.get("execution_time_seconds"))
    notes_value = row.get("notes")
    notes = (
        check.text("notes", notes_value, LIMITS["notes"], required=False)
        if notes_value is not None
        else None
    )
    system_info = check.mapping("system_info", row.get("system_info"))
    when = check.timestamp("timestamp", row.get("timestamp"))
    uid = row.get("uid")
    if uid is None:
        raise check.fail("uid", "is missing")
    if not isinstance(uid, str) or not _UID.fullmatch(uid):
        raise check.fail("uid", "must be 32 lowercase hex characters")
    fingerprint = row.get("fingerprint")
    if fingerprint is None or fingerprint == "":
        fingerprint = generate_fingerprint(issue_type, model, description)
    elif not isinstance(fingerprint, str) or not _HEX16.fullmatch(fingerprint):
        raise check.fail("fingerprint", "must be 16 lowercase hex characters")
    # A given fingerprint is kept as it is: it was computed when the attempt was
    # recorded, from text (the response) that the export row does not carry.
    tokens_in = check.number("tokens_in", row.get("tokens_in"), integer=True)
    tokens_out = check.number("tokens_out", row.get("tokens_out"), integer=True)
    cost = check.number("cost_usd", row.get("cost_usd"))
    fixer_model_value = row.get("fixer_model")
    fixer_model = (
        check.text("fixer_model", fixer_model_value, LIMITS["fixer_model"], required=False)
        if fixer_model_value is not None
        else None
    )
    if redact:
        description = redact_text(description)
        analysis = redact_text(analysis)
        commands = [redact_text(c) for c in commands]
        notes = redact_text(notes) if notes is not None else None
        system_info = redact_value(system_info)
    return Attempt(
        timestamp=when,
        model_name=model,
        issue_type=issue_type,
        issue_signature=signature,
        description=description,
        fixer_type=fixer,
        claude_analysis=analysis,
        fix_commands=commands,
        fix_success=fixed,
        verification_success=verified,
        execution_time_seconds=None if seconds is None else float(seconds),
        system_info=system_info,
        notes=notes,
        uid=uid,
        fingerprint=fingerprint,
        tokens_in=None if tokens_in is None else int(tokens_in),
        tokens_out=None if tokens_out is None else int(tokens_out),
        cost_usd=None if cost is None else float(cost),
        fixer_model=fixer_model,
    )


def design_row_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """The content of a seed-schema row in export form, for a deterministic uid.

    Used for rows that predate aimem (no uid): the in-place migration and the
    import of an old ``ai_memory.db`` derive the same uid for the same row.
    """
    from aimem.jsontext import loads_or_text as parse

    timestamp = row["timestamp"]
    try:
        timestamp = normalize_timestamp(str(timestamp), naive_is_local=True)
    except ValueError:
        timestamp = str(timestamp)
    return {
        "timestamp": timestamp,
        "model_name": row["model_name"],
        "issue_type": row["issue_type"],
        "issue_signature": row["issue_signature"],
        "description": row["description"],
        "fixer_type": row["fixer_type"],
        "claude_analysis": row["claude_analysis"],
        "fix_commands": parse(row["fix_commands"], []),
        "fix_success": bool(row["fix_success"]),
        "verification_success": bool(row["verification_success"]),
        "execution_time_seconds": row["execution_time_seconds"],
        "system_info": parse(row["system_info"], {}),
        "notes": row["notes"],
    }


def export_form(row: dict[str, Any]) -> dict[str, Any]:
    """An export row as JSON outputs write it, changed in place: the timestamp
    with ISO 8601's T (``output_timestamp``), REAL columns as ``repr``.

    orjson and ``repr`` print a float alike (the shortest digits that read
    back exactly, in fixed notation) from 1e-4 up to 1e16, where stored costs
    and durations lie; outside it (``repr`` 4e-05, orjson 4e-5) the ``repr``
    goes in as it is.
    """
    if "timestamp" in row:
        row["timestamp"] = output_timestamp(row["timestamp"])
    for column in REAL_COLUMNS:
        value = row.get(column)
        if type(value) is float and not 1e-4 <= abs(value) < 1e16 and math.isfinite(value):
            import orjson

            row[column] = orjson.Fragment(repr(value).encode())
    return row
