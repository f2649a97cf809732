"""The SQLite implementation of the store, assembled from its concerns.

Each part is a class over ``StoreCore`` (the connection and its transactions)
in a module of its own; ``Store`` is all of them. The PostgreSQL store derives
from it and runs the same code through its dialect layer.
"""

from __future__ import annotations

from aimem.store.sqlite.archive import ArchiveOps
from aimem.store.sqlite.checks import CheckOps
from aimem.store.sqlite.export import ExportOps
from aimem.store.sqlite.learned import LearnedOps
from aimem.store.sqlite.patterns import PatternOps
from aimem.store.sqlite.reads import ReadOps
from aimem.store.sqlite.writes import WriteOps


class Store(WriteOps, ReadOps, PatternOps, LearnedOps, ArchiveOps, CheckOps, ExportOps):
    """One open SQLite database of one repository."""

    # Archive segments are files in the repository's archive/ folder (aimem.ops.segment_storage).
    segments_in_database = False
