"""The body of ``aimem export``, shared by the typer command and the typer-free path.

``aimem.cli.transfer.export_command`` (typer) and ``aimem.cli._fast`` (no typer,
for start-up: scripts pay for the whole process) both call ``run_export``, so the
two paths cannot drift: same library call, same messages, same ``--json``
summary. Nothing here may import typer or click.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import TYPE_CHECKING

from aimem.cli._output import emit_json, note
from aimem.cli._progress import counter, done

if TYPE_CHECKING:
    from aimem.memory import AIMemory


class ExportFormat(str, Enum):
    report = "report"
    json = "json"
    ndjson = "ndjson"
    csv = "csv"


def run_export(
    memory: AIMemory,
    file: str,
    fmt: ExportFormat | None,
    since: str | None,
    include_archive: bool,
    as_json: bool,
) -> None:
    """Export ``memory`` to ``file`` ('-' = stdout) and report it on stderr (or ``--json``).

    The caller rejects ``--json`` with FILE '-' (a usage error) before calling.
    """
    target = sys.stdout.buffer if file == "-" else file
    if file == "-" and fmt is None:
        fmt = ExportFormat.ndjson
    progress = counter("exported") if file != "-" else None
    summary = memory.export_records(
        target, fmt.value if fmt else None, since, include_archive, progress
    )
    done(progress)
    summary["file"] = file
    if as_json:
        emit_json(summary)
    elif file == "-":
        return  # stdout carried the export; nothing to add in a pipe
    elif summary["records"] is None:
        note(f"wrote the {summary['format']} to {file}")
    else:
        note(f"exported {summary['records']} records to {file} ({summary['format']})")
