"""Records as the SQLite store writes and reads them: insert parameters, export rows,
prepared batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from aimem.jsontext import export_values, loads_or_text
from aimem.records import EXPORT_COLUMNS, Attempt
from aimem.store import schema
from aimem.store.aggregates import (
    SCOPE_FAMILY_TYPE,
    SCOPE_FINGERPRINT,
    SCOPE_MODEL,
    SCOPE_MODEL_TYPE,
    SCOPE_SIGNATURE,
    SCOPE_TYPE,
    Rollup,
)

# (JSON line or None, timestamp, id, ...): see Store.archive_page
ArchiveRow = tuple[Any, ...]

ROW_COLUMNS = ", ".join(EXPORT_COLUMNS)
# A uid counts as stored when its row is hot or archived (or purged): importing
# it again must not count it twice.
_UID_STORED = (
    "SELECT 1 FROM fix_history WHERE uid = ? UNION ALL "
    "SELECT 1 FROM aimem_archived_uids WHERE uid = ? LIMIT 1"
)
_INSERT = schema.INSERT_ATTEMPT
# Page cache of a long streamed read: the export report at 100k rows (bench/
# datagen.py) runs no slower with 8 MiB than with the connection's 64 MiB
# (2.6-2.8 s against 3.1-3.3 s), at less than half the peak RSS (96 -> 43 MiB).
STREAM_CACHE_KIB = 8 * 1024
# From this many attempts on, ``insert_attempts_in`` inserts in bulk.
BULK_MIN_ROWS = 64
SCOPES = {
    "signature": SCOPE_SIGNATURE,
    "family_type": SCOPE_FAMILY_TYPE,
    "type": SCOPE_TYPE,
    "model": SCOPE_MODEL,
    "fingerprint": SCOPE_FINGERPRINT,
    "model_type": SCOPE_MODEL_TYPE,
}


def row_to_dict(row: Sequence[Any]) -> dict[str, Any]:
    """A ``fix_history`` row (selected as ROW_COLUMNS) in export form."""
    return export_values(EXPORT_COLUMNS, row)


def attempt_params(attempt: Attempt) -> tuple[Any, ...]:
    """Parameters of ``_INSERT`` for one attempt, in ``schema.ATTEMPT_COLUMNS`` order."""
    return (
        attempt.timestamp,
        attempt.model_name,
        attempt.issue_type,
        attempt.issue_signature,
        attempt.description,
        attempt.fixer_type,
        attempt.claude_analysis,
        orjson.dumps(attempt.fix_commands).decode(),
        int(attempt.fix_success),
        int(attempt.verification_success),
        attempt.execution_time_seconds,
        orjson.dumps(attempt.system_info).decode(),
        attempt.notes,
        attempt.uid,
        attempt.fingerprint,
        attempt.tokens_in,
        attempt.tokens_out,
        attempt.cost_usd,
        attempt.fixer_model,
    )


@dataclass(frozen=True, slots=True)
class PreparedAttempts:
    """Attempts turned into insert parameters and an aggregate plan before the write lock.

    Everything here is computed from the attempts alone, so a writer holds the
    lock only for the statements and the commit, however many writers wait.
    """

    params: list[tuple[Any, ...]]
    rollup: Rollup


def prepare_attempts(attempts: Sequence[Attempt]) -> PreparedAttempts:
    """``PreparedAttempts`` of ``attempts`` (no database access)."""
    params = [attempt_params(attempt) for attempt in attempts]
    rollup = Rollup()
    rollup.add_rows(params)
    return PreparedAttempts(params, rollup)


_EXACT_COLUMNS = (
    "id, pattern_name, issue_signature, coalesce(success_count, 0), "
    "coalesce(failure_count, 0), best_fix, last_seen, confidence_score, issue_type, model_family"
)


def _exact_row(r: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": r[0],
        "pattern_name": r[1],
        "issue_signature": r[2],
        "success_count": r[3],
        "failure_count": r[4],
        "best_fix": loads_or_text(r[5], None),
        "last_seen": r[6],
        "confidence_score": r[7],
        "issue_type": r[8],
        "model_family": r[9],
    }


class _DryRun(Exception):
    """Unwinds a dry-run import so that its transaction rolls back (args: read, added)."""
