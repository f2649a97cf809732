"""The operations every backend provides: the one seam between aimem and its storage.

The rest of aimem holds a store through this protocol (``aimem.store.Store``
names it for type checking), so nothing outside ``aimem/store`` depends on a
backend. ``aimem.store.sqlite.Store`` (a SQLite file) and
``aimem.store.postgres.store.PostgresStore`` both satisfy it; mypy checks that
below. A write transaction yields the backend's own connection, which callers
only hand back to the store's operations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from aimem.records import Attempt
    from aimem.store import unwritable
    from aimem.store.aggregates import Fact, OutcomeQuestion
    from aimem.store.sqlite.rows import ArchiveRow, PreparedAttempts


T = TypeVar("T")


class StoreOps(Protocol):
    """One open repository database."""

    @property
    def path(self) -> Path | str:
        """The database file, or the PostgreSQL URL without its password (for messages)."""
        ...

    @property
    def label(self) -> str:
        """How findings name the database (a file name, or a URL without its password)."""
        ...

    @property
    def builds_export_lines(self) -> bool:
        """Whether ``export_chunks`` and ``csv_rows`` are available (else export encodes rows)."""
        ...

    def snapshot_to(self, dest: Path, label: Path | None = None) -> None:
        """A consistent copy of the whole database as a SQLite file ``dest``."""
        ...

    def add_pending(self, name: str, action: str, row_count: int, started_at: str) -> None: ...

    def aggregate_drift(self, extra_facts: Iterable[Fact]) -> list[tuple[str, str]]:
        """Compare every aggregate with a recomputation from hot rows plus ``extra_facts``."""
        ...

    def archive_page(
        self,
        before: str,
        keep_successes_since: str | None,
        limit: int,
        start: tuple[str, int] | None,
        columns: Sequence[str],
        group: Sequence[str],
    ) -> tuple[list[ArchiveRow], dict[int, bytes], tuple[str, int] | None]:
        """The next page of rows to archive: up to ``limit`` hot rows older than"""
        ...

    def bad_timestamps(self, limit: int = 20) -> list[tuple[int, str]]:
        """(id, timestamp) of hot rows whose timestamp is not in the storage form."""
        ...

    def close(self) -> None: ...

    def commit_segments(
        self,
        segments: Sequence[dict[str, Any]],
        ids: Sequence[int],
        before_commit: Callable[[], None] | None = None,
        *,
        contents: Mapping[str, bytes] | None = None,
    ) -> None:
        """Register written, verified segments and delete their rows, in one transaction
        (with ``contents``, segment bytes by name, stored by that transaction too, on a
        backend whose ``segments_in_database``)."""
        ...

    @property
    def segments_in_database(self) -> bool:
        """Whether archive segments' bytes live in the database (else files in archive/)."""
        ...

    def database_bytes(self) -> int:
        """The database's size in bytes (``gc``'s before and after)."""
        ...

    def cost_rows(self) -> list[dict[str, Any]]:
        """The cost rollup: per fixer, fixer model and issue type (failed attempts included)."""
        ...

    def count_archive_candidates(
        self, before: str, keep_successes_since: str | None
    ) -> dict[str, Any]:
        """How many rows ``archive_page`` would return in all, and their time range."""
        ...

    def count_rows(self) -> int: ...

    def count_since(self, since: str) -> int:
        """Hot rows newer than ``since`` (uses the timestamp index)."""
        ...

    def csv_rows(
        self, since: str | None
    ) -> AbstractContextManager[Iterator[list[tuple[Any, ...]]]]:
        """CSV cells of hot rows from ``since`` on, a chunk at a time (caller holds a snapshot)."""
        ...

    def daily(self, since_day: str | None = None) -> list[dict[str, Any]]:
        """Daily rollup rows (day, model, type, fixer, counts), oldest first."""
        ...

    def distinct_values(self, column: str, prefix: str = "", limit: int = 200) -> list[str]:
        """Distinct model names, issue types or fixer types (for completion)."""
        ...

    def drop_pending(self, name: str) -> None: ...

    def exact_patterns(
        self,
        *,
        issue_type: str | None = None,
        signature: str | None = None,
        min_attempts: int = 0,
        limit: int | None = None,
        order: str = "attempts",
    ) -> list[dict[str, Any]]:
        """Exact-signature pattern rows."""
        ...

    def existing_uids(self, uids: Sequence[str]) -> set[str]:
        """Which of ``uids`` are in the hot table (``fix_history``), archived ones not included."""
        ...

    def export_chunks(
        self, since: str | None, separator: bytes
    ) -> AbstractContextManager[Iterator[tuple[bytes, int]]]:
        """(bytes, rows) chunks of export lines of hot rows from ``since`` on, one snapshot."""
        ...

    def failure_ids_beyond(self, keep: int) -> list[dict[str, Any]]:
        """Hot failed attempts older than the ``keep`` latest failures of their fingerprint."""
        ...

    def failures_by_fingerprint(self, since: str, until: str) -> list[dict[str, Any]]:
        """Failed hot attempts in [since, until] grouped by fingerprint (timestamp index)."""
        ...

    def fingerprint_rows(self, fingerprint: str, limit: int) -> list[dict[str, Any]]: ...

    def fingerprint_rows_after(self, fingerprint: str, after: str, until: str) -> list[Any]:
        """(timestamp, model_name, issue_type, description, success) of hot rows of a"""
        ...

    def fingerprint_summaries(
        self, issue_type: str | None = None, min_attempts: int = 2
    ) -> list[dict[str, Any]]:
        """Per fingerprint: attempts, successes, last attempt, and its latest hot row's"""
        ...

    def finish_segment(self, segment: dict[str, Any], uids: Sequence[str]) -> int:
        """Register an unregistered segment and delete whichever of its rows are still hot."""
        ...

    def fix_outcome_pairs(
        self, scope: str, pairs: Sequence[tuple[str, str]], conn: Any = None
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """(attempts, successes) of (scope key, fix key) pairs in one scope, in few queries."""
        ...

    def fix_outcomes(
        self,
        scope: str,
        scope_key: str | None = None,
        limit: int | None = None,
        min_successes: int = 0,
    ) -> list[dict[str, Any]]:
        """What each fix achieved within a scope (optionally one key), best first."""
        ...

    def fix_outcomes_many(self, questions: Sequence[OutcomeQuestion]) -> list[list[dict[str, Any]]]:
        """``fix_outcomes`` of several (scope, scope key, limit, min successes), in one statement."""
        ...

    def fixers_for_model(self, model_name: str) -> list[dict[str, Any]]: ...

    def fixers_of_successes(self, issue_type: str, limit: int = 500) -> list[dict[str, Any]]:
        """Which fixers produced the latest ``limit`` verified successes of an issue type,"""
        ...

    def fts_problem(self) -> str | None:
        """None when the full-text index matches ``fix_history``, else SQLite's complaint."""
        ...

    def fts_rebuild(self) -> None: ...

    def generation(self) -> int:
        """A counter bumped by every write that changes what has been learned."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def get_row(self, record_id: int) -> dict[str, Any] | None: ...

    def hot_fix_counts(self) -> dict[str, int]:
        """Hot rows per fix-command JSON text (for retention explanations)."""
        ...

    def housekeeping(self, vacuum: bool) -> None:
        """WAL checkpoint (TRUNCATE), ``PRAGMA optimize``, ``ANALYZE``, optionally ``VACUUM``."""
        ...

    def import_transaction(self) -> AbstractContextManager[Any]:
        """The write transaction of one import: all of it is stored, or none."""
        ...

    def insert_attempts(
        self, attempts: Sequence[Attempt], *, skip_existing: bool = False
    ) -> list[int | None]:
        """Insert attempts and update every aggregate in one transaction."""
        ...

    def merge_import(
        self, messages: Iterable[tuple[str, Any]], *, dry_run: bool = False
    ) -> tuple[int, int]:
        """Merge a staged import (a spool's messages) in one import transaction:
        (rows read, rows added); ``dry_run`` rolls it back all the same."""
        ...

    def prepare(self, attempts: Sequence[Attempt]) -> PreparedAttempts | None:
        """What an insert can compute before the write lock; None for a batch
        that takes the bulk path of ``insert_attempts_in``."""
        ...

    def translated_errors(self) -> AbstractContextManager[None]:
        """Database errors raised in the block turned into aimem errors."""
        ...

    def insert_attempts_in(
        self, conn: Any, attempts: Sequence[Attempt], *, skip_existing: bool = False
    ) -> list[int | None]:
        """``insert_attempts`` inside a transaction the caller already holds."""
        ...

    def record_attempts(
        self,
        attempts: Sequence[Attempt],
        guard_pairs: Sequence[tuple[str, str]],
        check: Callable[[dict[tuple[str, str], tuple[int, int]]], T],
        refuse_at: int | None = None,
    ) -> tuple[list[int | None], T]:
        """Insert attempts with every aggregate in one transaction, after ``check``
        saw the fingerprint-scope counts of ``guard_pairs`` read inside it (an
        exception from it writes nothing); return the ids and its result.
        ``refuse_at``: strict mode's repeat limit, which a store may check on
        its server before writing (``check`` must then raise for the same counts)."""
        ...

    def insert_prepared(self, conn: Any, prepared: PreparedAttempts) -> list[int | None]:
        """Insert ``prepare_attempts`` output inside a transaction the caller holds."""
        ...

    def integrity_problems(self, quick: bool = False, limit: int = 20) -> list[str]:
        """SQLite's ``integrity_check`` (or ``quick_check``) messages; empty when sound."""
        ...

    def iter_exact_patterns(self, chunk: int = 2000) -> Iterator[dict[str, Any]]:
        """Every exact-signature pattern row, most attempts first then by name, streamed."""
        ...

    def iter_fingerprint_summaries(
        self, min_attempts: int = 2, chunk: int = 2000
    ) -> Iterator[dict[str, Any]]:
        """``fingerprint_summaries`` of every issue type, most attempts first, streamed."""
        ...

    def iter_rows(self, since: str | None = None, chunk: int = 2000) -> Iterator[dict[str, Any]]:
        """Every hot row in id order (optionally newer than ``since``), streamed."""
        ...

    def kb_imported(self) -> dict[str, Any]: ...

    def kb_merge_imported(self, entries: dict[str, Any], imported_at: str) -> None:
        """Store top-level entries of an external knowledge base (replacing same keys)."""
        ...

    def last_fingerprint_success(self, fingerprint: str) -> dict[str, Any] | None:
        """The fix with the latest verified success for a fingerprint (archive included)."""
        ...

    def learned_patterns(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Exact patterns with a verified success, most recently seen first, and their count."""
        ...

    def missing_uids(self, uids: Sequence[str]) -> set[str]:
        """Which of ``uids`` this repository lacks: stored neither hot nor archived (purged
        records count as stored)."""
        ...

    def model_characteristics(self, model_name: str) -> dict[str, Any] | None: ...

    def model_names(self) -> list[str]:
        """Every model with a row in the seed's model_characteristics table."""
        ...

    def model_recent_rows(self, model_name: str, limit: int) -> list[dict[str, Any]]: ...

    def model_totals(self, model_name: str | None = None) -> list[dict[str, Any]]:
        """Per model: attempts, fix successes, verified successes, time, first/last seen."""
        ...

    def notes_for_type(self, issue_type: str, limit: int) -> list[tuple[str, str]]:
        """(timestamp, notes) of the latest verified successes of an issue type with notes."""
        ...

    def page_stats(self) -> dict[str, int]:
        """Page size, page count and free pages of the database file."""
        ...

    def pending(self) -> list[dict[str, Any]]:
        """Journal entries of cleanups or thaws whose file step may be half done."""
        ...

    def read_snapshot(self) -> AbstractContextManager[None]:
        """One read snapshot for several reads (nested: the outer one)."""
        ...

    def memoized_reads(self) -> AbstractContextManager[None]:
        """One snapshot in which a read asked again is answered from the first time."""
        ...

    def rebuild_aggregates(self, extra_facts: Iterable[Fact]) -> None:
        """Recompute every aggregate from hot rows plus ``extra_facts`` (``check --repair``)."""
        ...

    def recent_rows(
        self, since: str, limit: int | None, filters: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Rows newer than ``since``, newest first; ``filters`` as ``row_matches`` reads them."""
        ...

    def restrict_candidates(self, ids: Sequence[int] | None) -> None:
        """Limit cleanup's candidates to ``ids`` (a temp table), or lift the limit (None)."""
        ...

    def rows_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The hot rows with these ids (as ``iter_rows`` gives them), in id order."""
        ...

    def schema_version(self) -> int: ...

    def scope_totals(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """(attempts, successes) summed over every fix of each (scope, scope key), in one query."""
        ...

    def scratch_folder(self) -> Path:
        """Where an import stages its rows: next to the database (the same disk)."""
        ...

    def search(self, match: str, limit: int) -> list[dict[str, Any]]:
        """FTS5 match, best (BM25) first, with a snippet of the best-matching column."""
        ...

    def segment(self, name: str) -> dict[str, Any] | None: ...

    def segments(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The segment index, oldest time range first."""
        ...

    def segments_since(self, since: str) -> list[dict[str, Any]]:
        """Segments holding at least one row newer than ``since`` (by their time range)."""
        ...

    def set_meta(self, key: str, value: str) -> None: ...

    def set_performance_notes(self, model_name: str, text: str | None, *, append: bool) -> None:
        """Replace (or with ``append`` add a line to) a model's performance notes."""
        ...

    def similar_rows(
        self, signature: str, model_name: str, issue_type: str, limit: int
    ) -> dict[str, list[dict[str, Any]]]:
        """Exact (signature), model (model + type) and type matches, newest successes first."""
        ...

    def streaming_snapshot(self) -> AbstractContextManager[None]:
        """One read snapshot for a long streamed read (the export report)."""
        ...

    def temporal_counts(
        self, issue_type: str | None = None
    ) -> list[tuple[str, int, int, int, int]]:
        """(issue_type, weekday, hour, attempts, successes) rows, of one issue type if given."""
        ...

    def thaw_segment(
        self,
        name: str,
        attempts: Sequence[tuple[int | None, Attempt]],
        before_commit: Callable[[], None] | None = None,
    ) -> dict[str, int]:
        """Put archived rows back into ``fix_history`` and retire the segment, atomically."""
        ...

    def totals(self) -> dict[str, int]:
        """Attempts, successes, distinct models and issue types over all history."""
        ...

    def totals_by(self, *columns: str, issue_type: str | None = None) -> list[dict[str, Any]]:
        """Rollup totals grouped by some of model_name, issue_type, fixer_type
        (of one issue type when ``issue_type`` is given)."""
        ...

    def transaction(self) -> AbstractContextManager[Any]:
        """A write transaction with SQLite errors translated to aimem errors."""
        ...

    def uid_page(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, uid) of up to ``limit`` hot rows with an id above ``after_id``, in id order."""
        ...

    def update_meta(self, key: str, change: Callable[[str | None], str | None]) -> str | None:
        """Replace a meta value by ``change(old)`` in one write transaction (None removes it)."""
        ...

    def unwritable_values(self, limit: int = 20) -> unwritable.Found:
        """The first ``limit`` hot rows (id, column, problem) holding a value that"""
        ...


if TYPE_CHECKING:
    from aimem.store.postgres.store import PostgresStore
    from aimem.store.sqlite.store import Store as SqliteStore

    def _sqlite_is_a_store(store: SqliteStore) -> StoreOps:
        return store

    def _postgres_is_a_store(store: PostgresStore) -> StoreOps:
        return store
