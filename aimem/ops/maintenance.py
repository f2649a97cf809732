"""Retention and integrity: cleanup (archive or purge), thaw, check, repair, gc.

Segments' bytes live where ``aimem.ops.segment_storage`` says: files in
``archive/`` (SQLite) or a table of the database (PostgreSQL). With files, the
order of work for one segment of ``cleanup``, under the archive lock, is:
select the rows; build the segment in memory; journal it in ``aimem_pending``;
write a temp file, fsync, rename, fsync the folder; re-read and verify it
(hash, frames, row count, the exact uids); then one transaction registers the
segment, deletes the rows and clears the journal entry. In the database the
segment's bytes are stored by that same transaction, and nothing is journalled. A kill -9 anywhere
leaves either the rows hot (and maybe a redundant file) or the rows archived
and registered: never lost, never counted twice. The next ``AIMemory`` open
(or ``check --repair``) resolves a journal entry: a file whose rows are all
still hot is deleted (undo); otherwise it is registered and its hot copies
deleted (finish). ``thaw`` runs the same journal in reverse.

Aggregates count all history and never change here: archived and purged rows
still count. A purge keeps a ``facts-`` segment (what aggregates are computed
from, without text) so ``check`` can still recompute them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimem.errors import (
    AimemError,
    CorruptRepositoryError,
    InvalidInputError,
    LockTimeoutError,
    NotFoundError,
)
from aimem.fsutil import TEMP_MARKER, remove_temp, stale_temps
from aimem.learn.knowledge import KnowledgeFile
from aimem.ops import archive
from aimem.ops.segment_storage import (
    ARCHIVE_LOCK_NAME,
    SegmentStorage,
    SegmentTable,
    segment_storage,
)
from aimem.ops.segment_storage import read as read_segment
from aimem.paths import KNOWLEDGE_BASE_NAME, Layout
from aimem.records import attempt_from_row
from aimem.store import Store
from aimem.store.aggregates import Fact, fact_from_row
from aimem.store.migrations import MIGRATIONS
from aimem.store.sqlite import ArchiveRow
from aimem.timeutil import days_ago_iso, now_iso

__all__ = ["ARCHIVE_LOCK_NAME"]
ERROR = "error"
HINT = "hint"
REPAIR = "aimem check --repair"


@contextmanager
def archive_lock(
    store: Store, layout: Layout | None, timeout: float = 60.0, shared: bool = False
) -> Iterator[None]:
    """One cleanup, thaw or repair at a time per repository (released even on kill -9).

    ``shared``: for readers that need the segments to stay as the index says
    (check, backup); they exclude the writers, not each other.
    """
    with segment_storage(store, layout).lock(shared=shared, timeout=timeout):
        yield


def _rows(storage: SegmentStorage, entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return archive.iter_segment_data(read_segment(storage, entry), entry["name"], entry["sha256"])


# ---- reading the archive ---------------------------------------------------


def iter_archived_rows(store: Store, layout: Layout | None) -> Iterator[dict[str, Any]]:
    """Every archived row in the export row format (with its original id).

    Segments come oldest first; inside a segment rows come grouped by issue
    type and model, not in time order. Each segment's sha256 is checked before
    its rows are read (CorruptRepositoryError when it does not match). Purged
    rows (``facts-`` segments) are not included: their text is gone.
    """
    storage = segment_storage(store, layout)
    for entry in store.segments(archive.KIND_ROWS):
        yield from _rows(storage, entry)


def iter_archived_facts(store: Store, layout: Layout | None) -> Iterator[Fact]:
    """The aggregate facts of every archived and purged row."""
    storage = segment_storage(store, layout)
    for entry in store.segments():
        for row in _rows(storage, entry):
            yield fact_from_row(row)


def archived_count_since(store: Store, layout: Layout | None, since: str) -> int:
    """Archived (and purged) rows newer than ``since``; reads only segments that overlap."""
    count = 0
    storage = segment_storage(store, layout)
    for entry in store.segments_since(since):
        if entry["min_timestamp"] > since:
            count += int(entry["row_count"])
            continue
        data = read_segment(storage, entry)
        rows = archive.iter_segment_data(data, entry["name"])
        count += sum(1 for row in rows if row["timestamp"] > since)
    return count


def archived_rows_since(store: Store, layout: Layout | None, since: str) -> list[dict[str, Any]]:
    """Archived rows (export format) newer than ``since``; reads only overlapping segments."""
    found = []
    storage = segment_storage(store, layout)
    for entry in store.segments_since(since):
        if entry["kind"] != archive.KIND_ROWS:
            continue
        found += [r for r in _rows(storage, entry) if r["timestamp"] > since]
    return found


def resolve_segment(store: Store, name: str) -> dict[str, Any]:
    """A segment by its name or a unique prefix of it (NotFoundError otherwise)."""
    name = Path(name).name
    if not name.strip():
        # an unset shell variable must not select "the only segment there is"
        raise InvalidInputError(
            "segment",
            "must not be empty: name a segment or a unique prefix of one",
            hint="see 'aimem archive list'",
        )
    entry = store.segment(name)
    if entry is not None:
        return entry
    matches = [s for s in store.segments() if s["name"].startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"no archive segment {name!r}", hint="see 'aimem archive list'")
    raise InvalidInputError("segment", f"{name!r} matches {len(matches)} segments; give more")


# ---- cleanup ----------------------------------------------------------------


def _check_days(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 36500:
        raise InvalidInputError(name, "must be a number of days from 0 to 36500")
    return float(value)


def cleanup(
    store: Store,
    layout: Layout | None,
    days: float,
    *,
    keep_successful: float | None = None,
    purge: bool = False,
    dry_run: bool = False,
    keep_failures_per_fingerprint: int | None = None,
) -> dict[str, Any]:
    """Move rows older than ``days`` into archive segments (or purge them).

    With ``keep_failures_per_fingerprint`` N only failed attempts
    older than the latest N failures of their fingerprint are candidates: every
    success stays hot (see ``aimem.learn.advice.retention_plan``).

    Verified successes younger than ``keep_successful`` days stay hot. With
    ``purge`` the rows' text is deleted; their counts stay in every aggregate
    (they are history) and a ``facts-`` segment keeps what check needs.
    """
    if keep_failures_per_fingerprint is not None:
        from aimem.learn.advice import retention_plan

        retention = retention_plan(store, keep_failures_per_fingerprint)
        store.restrict_candidates(retention.pop("row_ids"))
        try:
            narrowed = cleanup(
                store, layout, days, keep_successful=keep_successful, purge=purge, dry_run=dry_run
            )
        finally:
            store.restrict_candidates(None)
        narrowed["retention"] = retention
        return narrowed
    days = _check_days("days", days)
    keep = None if keep_successful is None else _check_days("keep_successful", keep_successful)
    before = days_ago_iso(days)
    keep_since = None if keep is None else days_ago_iso(keep)
    plan = store.count_archive_candidates(before, keep_since)
    result: dict[str, Any] = {
        "mode": "purge" if purge else "archive",
        "dry_run": dry_run,
        "cutoff": before,
        "rows": plan["rows"],
        "kept_successful": plan["kept"],
        "min_timestamp": plan["min_timestamp"],
        "max_timestamp": plan["max_timestamp"],
        "segments": [],
    }
    if dry_run or plan["rows"] == 0:
        return result
    kind = archive.KIND_FACTS if purge else archive.KIND_ROWS
    written: list[dict[str, Any]] = []
    ids: list[int] = []
    storage = segment_storage(store, layout)
    with storage.lock():
        recover(store, layout)
        start: tuple[str, int] | None = None
        try:
            while True:
                rows, rebuilt, bound = store.archive_page(
                    before,
                    keep_since,
                    _segment_rows(),
                    start,
                    archive.fields_for(kind),
                    archive.GROUP_COLUMNS,
                )
                if rows:
                    written.append(write_segment(store, storage, rows, kind, rebuilt))
                    ids.extend(r[2] for r in rows)
                del rows, rebuilt  # one page in memory at a time, not two
                if bound is None:
                    break
                start = bound
            if written:
                staged = storage.staged()
                if staged:
                    store.commit_segments(written, ids, contents=staged)
                else:
                    store.commit_segments(written, ids)
        except BaseException:
            for entry in written:
                with contextlib.suppress(Exception):
                    if store.segment(entry["name"]) is None:  # never a registered one
                        _undo(store, storage, entry["name"])
            raise
    result["segments"] = written
    result["rows"] = len(ids)
    return result


def _segment_rows() -> int:
    # AIMEM_SEGMENT_ROWS overrides the rows per segment (smaller segments: finer crash steps).
    text = os.environ.get("AIMEM_SEGMENT_ROWS", "")
    return int(text) if text.isdigit() and int(text) > 0 else archive.SEGMENT_MAX_ROWS


def write_segment(
    store: Store,
    storage: SegmentStorage,
    rows: list[ArchiveRow],
    kind: str = archive.KIND_ROWS,
    rebuilt: dict[int, bytes] | None = None,
) -> dict[str, Any]:
    """Build, journal, store and verify one segment of ``rows``; return its entry.

    The rows stay hot: the caller registers the segment and deletes them in one
    transaction (``Store.commit_segments``), which also stores the segment's
    bytes when they live in the database.
    """
    data, entry, raw_sha256 = archive.encode_segment(rows, kind, rebuilt)
    if storage.journalled:
        store.add_pending(entry["name"], "cleanup", len(rows), now_iso())
    back = storage.put(entry["name"], data)
    del data
    problem = archive.verify_written(back, entry["name"], entry, raw_sha256)
    del back
    if problem is not None:
        _undo(store, storage, entry["name"])
        raise CorruptRepositoryError(
            f"segment {entry['name']} failed verification after writing: {problem}; "
            "nothing was archived"
        )
    return entry


def _undo(store: Store, storage: SegmentStorage, name: str) -> None:
    storage.discard(name)
    if storage.journalled:
        store.drop_pending(name)


# ---- thaw -------------------------------------------------------------------


def thaw(store: Store, layout: Layout | None, name: str) -> dict[str, Any]:
    """Put a segment's rows back into ``fix_history``; retire the file after that commits."""
    storage = segment_storage(store, layout)
    with storage.lock():
        recover(store, layout)
        entry = resolve_segment(store, name)
        if entry["kind"] != archive.KIND_ROWS:
            raise InvalidInputError(
                "segment", f"{entry['name']} holds only the counts of purged rows; nothing to thaw"
            )
        rows = list(_rows(storage, entry))
        if len(rows) != entry["row_count"]:
            raise CorruptRepositoryError(
                f"{entry['name']}: {len(rows)} rows, the index says {entry['row_count']}"
            )
        attempts = [
            (row.get("id"), attempt_from_row(row, redact=False, source=entry["name"], line=n))
            for n, row in enumerate(rows, 1)
        ]
        if storage.journalled:
            store.add_pending(entry["name"], "thaw", len(rows), now_iso())
        counts = store.thaw_segment(entry["name"], attempts)
        _undo(store, storage, entry["name"])
    return {"segment": entry["name"], "rows": counts["inserted"], "skipped": counts["skipped"]}


# ---- resolving half-done steps ---------------------------------------------


def _orphans(store: Store, storage: SegmentStorage) -> list[str]:
    return storage.unregistered({s["name"] for s in store.segments()})


def recover(store: Store, layout: Layout | None, orphans: bool = False) -> list[str]:
    """Finish or undo every journalled (and, with ``orphans``, unregistered) segment.

    The caller holds the archive lock. Returns one line per action taken.
    """
    actions: list[str] = []
    storage = segment_storage(store, layout)
    registered = {s["name"] for s in store.segments()}
    journal = {p["name"]: p for p in store.pending()}
    names = set(journal) | (set(_orphans(store, storage)) if orphans else set())
    for name in sorted(names):
        storage.clear_temps(name)
        try:
            data = None if name in registered else storage.get_unregistered(name)
            if data is None:
                store.drop_pending(name)
                actions.append(f"cleared the journal entry of {name}")
                continue
            header, _ = archive.read_header(data, name)
            uids: list[str] = []
            if archive.verify_segment_data(data, name, None, uids):
                raise CorruptRepositoryError(f"{name} is damaged")
        except CorruptRepositoryError:
            continue  # never delete what cannot be read; check reports it
        hot = store.existing_uids(uids)
        if len(hot) == len(uids):
            _undo(store, storage, name)
            actions.append(f"undid the interrupted step of {name} (its rows are in fix_history)")
            continue
        entry = {
            "name": name,
            "kind": header["kind"],
            "sha256": hashlib.sha256(data).hexdigest(),
            "row_count": header["row_count"],
            "min_timestamp": header["min_timestamp"],
            "max_timestamp": header["max_timestamp"],
            "raw_bytes": header["raw_bytes"],
            "compressed_bytes": len(data),
            "created_at": now_iso(),
        }
        store.finish_segment(entry, sorted(hot))
        actions.append(f"finished the interrupted step of {name} (registered it)")
    return actions


def recover_if_idle(store: Store, layout: Layout | None) -> list[str]:
    """On open: resolve journalled steps unless another process is busy archiving."""
    if not store.pending():
        return []
    try:
        with archive_lock(store, layout, timeout=0):
            return recover(store, layout)
    except LockTimeoutError:
        return []


# ---- check ------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One problem: ``<kind> <subject>: <detail>``; errors fail check, hints do not."""

    kind: str
    subject: str
    detail: str
    severity: str = ERROR
    remedy: str | None = None

    def line(self) -> str:
        return f"{self.kind} {self.subject}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "detail": self.detail,
            "severity": self.severity,
            "remedy": self.remedy,
        }


@dataclass
class CheckReport:
    """What ``check`` found (and, with repair, what it did)."""

    findings: list[Finding] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    quick: bool = False

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def hints(self) -> int:
        return sum(1 for f in self.findings if f.severity == HINT)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.findings.append(Finding(*args, **kwargs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "quick": self.quick,
            "errors": self.errors,
            "hints": self.hints,
            "findings": [f.to_dict() for f in self.findings],
            "repaired": list(self.repaired),
            "checked": dict(self.checked),
        }


def unopenable_report(error: AimemError, database: str = "ai_memory.db") -> CheckReport:
    """The report for a database that cannot even be opened."""
    report = CheckReport()
    report.add(
        "corrupt-database",
        database,
        error.message,
        remedy="restore the repository from a backup; 'sqlite3 ai_memory.db .recover' may save rows",
    )
    return report


def leftover_temp_files(layout: Layout) -> list[Path]:
    """Temp files and folders of interrupted writes anywhere in the repository
    (their writer is no longer running): an export or a backup written into
    it leaves them where its destination was."""
    found = []
    for folder, dirs, _ in os.walk(layout.root):
        here = Path(folder)
        temps = stale_temps(here, own=True)
        found += temps
        dirs[:] = [d for d in dirs if not d.startswith(TEMP_MARKER)]
    return sorted(found)


def _rel(layout: Layout, path: Path) -> str:
    try:
        return str(path.relative_to(layout.root))
    except ValueError:
        return str(path)


def _check_database(store: Store, report: CheckReport, quick: bool) -> bool:
    problems = store.integrity_problems(quick=quick)
    for message in problems[:10]:
        report.add(
            "corrupt-database",
            store.label,
            message,
            remedy="restore from a backup; rows still readable can be exported first",
        )
    version = store.schema_version()
    if version != len(MIGRATIONS):
        report.add(
            "schema-version",
            store.label,
            f"version {version}, this aimem expects {len(MIGRATIONS)}",
            remedy="open the repository with this aimem to migrate it",
        )
    return not problems


def _check_segments(
    store: Store, storage: SegmentStorage, report: CheckReport, quick: bool
) -> bool:
    """Every registered segment; True when all are sound."""
    sound = True
    entries = store.segments()
    report.checked["segments"] = len(entries)
    gone = "the file is gone" if storage.journalled else "its bytes are gone from the database"
    for entry in entries:
        problems: list[tuple[str, str]] = []
        try:
            if quick:
                size = storage.size(entry)
                if size is None:
                    problems = [("missing-segment", gone)]
                elif size != entry["compressed_bytes"]:
                    problems = [("size-mismatch", "the stored size does not match the index")]
            else:
                data = storage.get(entry)
                problems = (
                    [("missing-segment", gone)]
                    if data is None
                    else archive.verify_segment_data(data, entry["name"], entry)
                )
        except CorruptRepositoryError as error:
            problems = [("unreadable-segment", error.message)]
        for kind, detail in problems:
            sound = False
            report.add(
                kind,
                entry["name"],
                detail,
                remedy="restore this file from a backup (its rows exist nowhere else)",
            )
    return sound


def _check_archive_state(store: Store, storage: SegmentStorage, report: CheckReport) -> None:
    # The caller holds the archive lock (shared): journal entries are not in progress.
    for pending in store.pending():
        report.add(
            f"half-done-{pending['action']}",
            pending["name"],
            f"a {pending['action']} of {pending['row_count']} rows was interrupted",
            remedy=REPAIR,
        )
    if isinstance(storage, SegmentTable):
        for sha in storage.store.unreferenced_segment_bytes():
            report.add(
                "unreferenced-segment-bytes",
                f"aimem_segment_data/{sha[:16]}",
                "stored segment bytes that no segment of the index names",
                severity=HINT,
                remedy=f"{REPAIR} (deletes them)",
            )
    journal = {p["name"] for p in store.pending()}
    for name in _orphans(store, storage):
        if name not in journal:
            report.add(
                "unregistered-segment",
                name,
                "the file is not in the segment index",
                remedy=REPAIR,
            )


def _kb_name(knowledge: KnowledgeFile) -> str:
    return KNOWLEDGE_BASE_NAME if knowledge.path is None else knowledge.path.name


def _check_knowledge(knowledge: KnowledgeFile, report: CheckReport) -> None:
    # Without a file (a database many runners share) there is nothing to fall behind.
    subject = _kb_name(knowledge)
    state = knowledge.state()
    if state == "corrupt":
        report.add(
            "corrupt-knowledge-base",
            subject,
            "not valid JSON",
            remedy=f"{REPAIR} (regenerates it and keeps a copy)",
        )
    elif state == "stale" or (state == "missing" and knowledge.store.generation() > 0):
        # A write whose file update failed (a full disk) leaves the file behind;
        # the next write catches it up too.
        report.add(
            "stale-knowledge-base",
            subject,
            "behind the database (a write could not update it)"
            if state == "stale"
            else "missing (a write could not create it)",
            severity=HINT,
            remedy=f"{REPAIR} (rewrites it from the database)",
        )
    elif state == "modified":
        report.add(
            "modified-knowledge-base",
            subject,
            "edited outside aimem; aimem will not overwrite it",
            severity=HINT,
            remedy=f"{REPAIR} (regenerates it and keeps a copy)",
        )


def _check_values(store: Store, report: CheckReport) -> bool:
    """Rows holding a value JSON and CSV cannot hold; True when there are any."""
    from aimem.store.unwritable import REMEDY

    found = store.unwritable_values()
    for record_id, column, problem in found.first:
        report.add(
            "unwritable-value",
            f"fix_history/{record_id}",
            f"column {column} {problem}: export and cleanup refuse this row",
            remedy=REMEDY,
        )
    if found.rows > len(found.first):
        report.add(
            "unwritable-value",
            "fix_history",
            f"{found.rows - len(found.first)} more rows like these",
            remedy=REMEDY,
        )
    return found.rows > 0


def check(
    store: Store,
    layout: Layout | None,
    knowledge: KnowledgeFile,
    *,
    quick: bool = False,
    repair: bool = False,
    dry_run: bool = False,
) -> CheckReport:
    """Verify the whole repository; with ``repair``, fix what can be derived, then re-check.

    Checks: SQLite integrity (``quick_check`` with ``quick``), schema version,
    every segment (hash, frames, rows; only presence and size with ``quick``),
    half-done cleanups and unregistered segments, aggregates against a
    recomputation from hot rows plus the archive (not with ``quick``), the
    full-text index, timestamps, values export cannot write (BLOBs, text that
    is not UTF-8; not with ``quick``), the knowledge base and leftover temp files.
    Repair never deletes a user's rows.

    On PostgreSQL there is no integrity_check to run (the server keeps its
    own pages sound), no full-text index to fall out of step (a generated
    column), no value export cannot write (typed, UTF-8 columns) and no
    knowledge base file; segments are checked as they are stored there,
    with stored bytes no segment names as a hint.
    """
    report = CheckReport(quick=quick)
    try:
        db_sound = _check_database(store, report, quick)
        report.checked["rows"] = store.count_rows() if db_sound else 0
    except AimemError as error:
        report.add("corrupt-database", store.label, error.message)
        db_sound = False
    segments_sound = False
    if db_sound:
        # First: a row that cannot be read would stop the recomputation below
        unreadable = not quick and _check_values(store, report)
        # A shared archive lock: no cleanup or thaw commits while segments are
        # read and aggregates recomputed, so both see the same history.
        storage = segment_storage(store, layout)
        try:
            with storage.lock(shared=True, timeout=0):
                segments_sound = _check_segments(store, storage, report, quick)
                _check_archive_state(store, storage, report)
                if not quick and segments_sound and unreadable:
                    report.add(  # not "aggregate-drift": --repair would rebuild from those rows
                        "aggregates-skipped",
                        "aggregates",
                        "not recomputed: the rows above hold values that cannot be read",
                        severity=HINT,
                        remedy="correct those rows, then run check again",
                    )
                elif not quick and segments_sound:
                    drift = store.aggregate_drift(iter_archived_facts(store, layout))
                    for table, detail in drift:
                        report.add("aggregate-drift", table, detail, remedy=REPAIR)
        except LockTimeoutError:
            report.add(
                "archive-busy",
                "archive",
                "another process is archiving; segments and aggregates were not checked",
                severity=HINT,
                remedy="run check again when it has finished",
            )
        fts = store.fts_problem()
        if fts is not None:
            report.add("search-index", "fix_history_fts", f"out of step: {fts}", remedy=REPAIR)
        for record_id, text in store.bad_timestamps():
            report.add(
                "bad-timestamp",
                f"fix_history/{record_id}",
                f"{text!r} is not an ISO 8601 UTC timestamp",
                severity=HINT,
                remedy="fix the row by hand; aggregates use its text as it is",
            )
    if db_sound:
        _check_knowledge(knowledge, report)
    temps = [] if layout is None else [_rel(layout, t) for t in leftover_temp_files(layout)]
    for temp in temps:
        report.add(
            "leftover-temp",
            temp,
            "left by an interrupted write",
            severity=HINT,
            remedy=REPAIR,
        )
    if not repair:
        return report
    repairable = [f for f in report.findings if f.remedy and f.remedy.startswith(REPAIR)]
    if dry_run:
        report.repaired = [f"would repair: {f.line()}" for f in repairable]
        return report
    actions = _repair(store, layout, knowledge, report, segments_sound)
    after = check(store, layout, knowledge, quick=quick)
    after.repaired = actions
    return after


def _repair(
    store: Store,
    layout: Layout | None,
    knowledge: KnowledgeFile,
    report: CheckReport,
    segments_sound: bool,
) -> list[str]:
    kinds = {f.kind for f in report.findings}
    actions: list[str] = []
    if kinds & {"half-done-cleanup", "half-done-thaw", "unregistered-segment"}:
        with archive_lock(store, layout):
            actions += recover(store, layout, orphans=True)
    if "unreferenced-segment-bytes" in kinds:
        storage = segment_storage(store, layout)
        if isinstance(storage, SegmentTable):
            with storage.lock():
                doomed = storage.store.unreferenced_segment_bytes()
                storage.store.drop_segment_bytes(doomed)
            actions.append(f"deleted {len(doomed)} unreferenced segment bytes")
    if "leftover-temp" in kinds and layout is not None:
        for temp in leftover_temp_files(layout):
            remove_temp(temp)
            actions.append(f"removed {_rel(layout, temp)}")
    if "aggregate-drift" in kinds and segments_sound:
        store.rebuild_aggregates(iter_archived_facts(store, layout))
        actions.append("rebuilt the aggregates from fix_history and the archive")
    if "search-index" in kinds:
        store.fts_rebuild()
        actions.append("rebuilt the full-text index")
    if kinds & {"corrupt-knowledge-base", "modified-knowledge-base"}:
        knowledge.sync(force=True)
        actions.append(f"regenerated {_kb_name(knowledge)} (a copy of the old one was kept)")
    elif "stale-knowledge-base" in kinds:
        knowledge.sync()
        actions.append(f"updated {_kb_name(knowledge)} from the database")
    return actions


# ---- gc ---------------------------------------------------------------------


def gc(store: Store, layout: Layout | None, vacuum: bool | None = None) -> dict[str, Any]:
    """Checkpoint the WAL, optimize, analyze, and VACUUM when worth it (>10% free pages).

    ``vacuum`` True/False forces the choice. Returns sizes before and after.
    """
    before = store.database_bytes()
    pages = store.page_stats()
    worth = pages["freelist_count"] > 0.1 * max(pages["page_count"], 1)
    do_vacuum = worth if vacuum is None else vacuum
    store.housekeeping(vacuum=do_vacuum)
    after = store.database_bytes()
    return {
        "bytes_before": before,
        "bytes_after": after,
        "bytes_reclaimed": max(0, before - after),
        "vacuumed": do_vacuum,
        "page_count": pages["page_count"],
        "free_pages": pages["freelist_count"],
    }
