"""The SQLite store's export reads: snapshots, export lines and CSV cells built by SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aimem.store.sqlite.core import StoreCore
from aimem.store.sqlite.rows import (
    STREAM_CACHE_KIB,
)


class ExportOps(StoreCore):
    """Streamed reads for export and the report."""

    @contextmanager
    def streaming_snapshot(self) -> Iterator[None]:
        """One read snapshot for a long streamed read (the export report).

        Its sorts (patterns by attempts) spill to temporary files instead of
        memory (``temp_store = MEMORY`` otherwise), and the page cache is
        STREAM_CACHE_KIB, so memory stays flat however many rows it reads;
        both settings are restored afterwards.
        """
        from aimem.store.connection import page_cache
        from aimem.store.snapshot import read_transaction

        temp_store = self.conn.execute("PRAGMA temp_store").fetchone()[0]
        self.conn.execute("PRAGMA temp_store = FILE")
        try:
            with page_cache(self.conn, STREAM_CACHE_KIB), read_transaction(self.conn):
                yield
        finally:
            self.conn.execute(f"PRAGMA temp_store = {int(temp_store)}")

    # Whether export's JSON lines and CSV cells are built by the database
    # (``export_chunks``, ``csv_rows``); else export encodes ``iter_rows``' rows.
    builds_export_lines = True

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """One read snapshot for several reads (nested: the outer one)."""
        from aimem.store.snapshot import read_transaction

        with read_transaction(self.conn):
            yield

    @contextmanager
    def memoized_reads(self) -> Iterator[None]:
        """One snapshot in which a read asked again (same statement, same
        parameters) is answered from the first time: for a composite answer,
        such as a fixer's context, whose parts ask some of the same questions.
        The block must not write."""
        if self._memo is not None:
            yield
            return
        with self.read_snapshot():
            self._memo = {}
            try:
                yield
            finally:
                self._memo = None

    @contextmanager
    def export_chunks(
        self, since: str | None, separator: bytes
    ) -> Iterator[Iterator[tuple[bytes, int]]]:
        """(bytes, rows) chunks of export lines of hot rows from ``since`` on, one snapshot."""
        from aimem.store.connection import page_cache
        from aimem.store.export_rows import SCAN_CACHE_KIB, iter_export_chunks
        from aimem.store.snapshot import read_transaction

        with page_cache(self.conn, SCAN_CACHE_KIB), read_transaction(self.conn) as conn:
            chunks = iter_export_chunks(conn, since, separator=separator)
            try:
                yield chunks
            finally:
                getattr(chunks, "close", lambda: None)()

    @contextmanager
    def csv_rows(self, since: str | None) -> Iterator[Iterator[list[tuple[Any, ...]]]]:
        """CSV cells of hot rows from ``since`` on, a chunk at a time (caller holds a snapshot)."""
        from aimem.store import export_rows

        rows = export_rows.iter_csv_rows(self.conn, since)
        try:
            yield rows
        finally:
            getattr(rows, "close", lambda: None)()
