"""The SQLite implementation of the store, assembled from its concerns.

Each part is a class over ``StoreCore`` (the connection and its transactions)
in a module of its own; ``Store`` is all of them. The PostgreSQL store derives
from it and runs the same code through its dialect layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from aimem.records import Attempt
from aimem.store.sqlite.archive import ArchiveOps
from aimem.store.sqlite.checks import CheckOps
from aimem.store.sqlite.export import ExportOps
from aimem.store.sqlite.learned import LearnedOps
from aimem.store.sqlite.patterns import PatternOps
from aimem.store.sqlite.reads import ReadOps
from aimem.store.sqlite.writes import WriteOps

T = TypeVar("T")


class Store(WriteOps, ReadOps, PatternOps, LearnedOps, ArchiveOps, CheckOps, ExportOps):
    """One open SQLite database of one repository."""

    # Archive segments are files in the repository's archive/ folder (aimem.ops.segment_storage).
    segments_in_database = False

    def record_attempts(
        self,
        attempts: Sequence[Attempt],
        guard_pairs: Sequence[tuple[str, str]],
        check: Callable[[dict[tuple[str, str], tuple[int, int]]], T],
        refuse_at: int | None = None,
    ) -> tuple[list[int | None], T]:
        """Insert attempts with every aggregate in one transaction; return their ids
        and what ``check`` returned.

        ``check`` sees the fingerprint-scope counts of ``guard_pairs`` (the repeat
        guard's) read inside the transaction, so concurrent writers cannot slip
        past it; an exception from it leaves nothing written (``refuse_at``, the
        strict repeat limit, is for stores that decide on the server). Everything
        computable from the attempts alone happens before the write lock.
        """
        prepared = self.prepare(attempts)
        with self.transaction() as conn:
            verdict = check(self.fix_outcome_pairs("fingerprint", guard_pairs, conn))
            if prepared is None:
                ids = self.insert_attempts_in(conn, attempts)
            else:
                ids = self.insert_prepared(conn, prepared)
        return ids, verdict
