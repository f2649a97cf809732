"""The SQLite backend: ``Store`` (store.py) and the record shapes it writes (rows.py).

By concern: core.py (connection, transactions, meta), writes.py, reads.py,
patterns.py (what was learned), learned.py (advice, alerts, cost, retention),
archive.py (segments, cleanup), checks.py (integrity, drift, repair),
export.py (export lines and CSV cells).
"""

from __future__ import annotations

from aimem.store.sqlite.archive import SEGMENT_FIELDS
from aimem.store.sqlite.rows import (
    BULK_MIN_ROWS,
    ROW_COLUMNS,
    ArchiveRow,
    PreparedAttempts,
    attempt_params,
    prepare_attempts,
    row_to_dict,
)
from aimem.store.sqlite.store import Store

__all__ = [
    "BULK_MIN_ROWS",
    "ROW_COLUMNS",
    "SEGMENT_FIELDS",
    "ArchiveRow",
    "PreparedAttempts",
    "Store",
    "attempt_params",
    "prepare_attempts",
    "row_to_dict",
]
