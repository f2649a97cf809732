"""Archive segments, bundle snapshots and restores on PostgreSQL.

A segment's bytes are one row of ``aimem_segment_data``, keyed by their
sha256 (content-addressed: the same bytes are stored once, whoever wrote
them). They are inserted by the transaction that registers the segment in
``aimem_segments`` and deletes its rows from ``fix_history``, and deleted by
the one that thaws it: a crash leaves the rows or the segment, never neither
and never both, so no journal is needed. Every runner that shares the
database sees the same segments.

Cleanup, thaw and repair take turns through a session advisory lock
(``ARCHIVE_LOCK``); check and backup hold it shared. The server releases it
when a runner's connection ends, even on kill -9.

A backup's database is SQLite whatever the backend: ``snapshot_to`` copies
every table from one read-only repeatable-read transaction into it, and
``restore_from`` copies a bundle's database back in one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from aimem.errors import AimemError, LockTimeoutError
from aimem.jsontext import export_values
from aimem.records import EXPORT_COLUMNS, Attempt
from aimem.store import snapshot, unwritable
from aimem.store.postgres.connection import Connection, where

# The advisory lock key of cleanup, thaw and repair ('aimar' as an integer).
ARCHIVE_LOCK = 0x61696D6172
# aimem_meta keys that record this database's migrations: kept by a restore,
# never written into a bundle (SQLite keeps its version in user_version).
_MIGRATION_KEYS = "key = 'schema_version' OR left(key, 10) = 'migration:'"
# Tables whose ids come from an identity sequence.
_SEQUENCED = ("fix_history", "issue_patterns")


class PostgresArchive:
    """The PostgreSQL store's segment, snapshot and restore operations (mixed into it)."""

    segments_in_database = True
    url: str
    _pg: Connection

    if TYPE_CHECKING:  # the store's own, which this class is mixed into

        def read_snapshot(self) -> AbstractContextManager[None]: ...

        def _candidate_filter(
            self, before: str, keep_successes_since: str | None
        ) -> tuple[str, tuple[Any, ...]]: ...

        def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

        def _page_bounds(
            self, sql: str, params: tuple[Any, ...], start: tuple[str, int] | None, limit: int
        ) -> tuple[str, tuple[Any, ...], Any]: ...

        def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

        def transaction(self) -> AbstractContextManager[Any]: ...

        def segment(self, name: str) -> dict[str, Any] | None: ...

        def _register_segment(self, conn: Any, segment: dict[str, Any]) -> None: ...

        def _bump_generation(self, conn: Any) -> None: ...

    def describe(self) -> str:
        """The database as messages name it (host and database, no password)."""
        return where(self.url)

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._pg.translated():
            return self._pg.raw.execute(sql, params)

    # ---- segments ---------------------------------------------------------

    def segment_bytes(self, sha256: str) -> bytes | None:
        """The bytes of the segment whose sha256 is ``sha256`` (None: not stored)."""
        row = self._run("SELECT data FROM aimem_segment_data WHERE sha256 = %s", (sha256,))
        found = row.fetchone()
        return None if found is None else bytes(found[0])

    def segment_size(self, sha256: str) -> int | None:
        found = self._run(
            "SELECT octet_length(data) FROM aimem_segment_data WHERE sha256 = %s", (sha256,)
        ).fetchone()
        return None if found is None else int(found[0])

    @contextmanager
    def archive_lock(self, shared: bool = False, timeout: float = 60.0) -> Iterator[None]:
        """Hold the archive's advisory lock (``shared``: with other readers) for the block."""
        kind = "_shared" if shared else ""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while not self._run(f"SELECT pg_try_advisory_lock{kind}(%s)", (ARCHIVE_LOCK,)).fetchone()[
            0
        ]:
            if time.monotonic() >= deadline:
                raise LockTimeoutError(
                    f"timed out after {timeout:.0f}s waiting for the archive lock of "
                    f"{self.describe()}",
                    hint="another aimem process is archiving; retry when it has finished",
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            with suppress(AimemError):
                self._run(f"SELECT pg_advisory_unlock{kind}(%s)", (ARCHIVE_LOCK,))

    def commit_segments(
        self,
        segments: Sequence[dict[str, Any]],
        ids: Sequence[int],
        before_commit: Callable[[], None] | None = None,
        *,
        contents: Mapping[str, bytes] | None = None,
    ) -> None:
        """Store and register segments and delete their rows, in one transaction.

        ``contents`` holds every segment's bytes by name. Raises AimemError
        (nothing changed) when any of the rows is no longer hot.
        """
        contents = contents or {}
        missing = [s["name"] for s in segments if s["name"] not in contents]
        if missing:
            raise AimemError(f"segment {missing[0]} has no bytes to store; nothing was archived")
        doomed = sorted(ids)
        with self.transaction() as conn:
            present = self._run(
                "SELECT count(*) FROM fix_history WHERE id = ANY(%s)", (doomed,)
            ).fetchone()[0]
            if present != len(doomed):
                raise AimemError(
                    f"{len(doomed) - present} of the rows to archive are no longer in "
                    "fix_history; no segment was registered"
                )
            for segment in segments:
                self._register_segment(conn, segment)
                self._run(
                    "INSERT INTO aimem_segment_data(sha256, data) VALUES (%s, %s) "
                    "ON CONFLICT (sha256) DO NOTHING",
                    (segment["sha256"], contents[segment["name"]]),
                )
            self._run(
                "INSERT INTO aimem_archived_uids(uid) SELECT uid FROM fix_history "
                "WHERE id = ANY(%s) AND uid IS NOT NULL ON CONFLICT DO NOTHING",
                (doomed,),
            )
            self._run("DELETE FROM fix_history WHERE id = ANY(%s)", (doomed,))
            self._run(
                "DELETE FROM aimem_pending WHERE name = ANY(%s)", ([s["name"] for s in segments],)
            )
            self._bump_generation(conn)
            if before_commit is not None:
                before_commit()

    def thaw_segment(
        self,
        name: str,
        attempts: Sequence[tuple[int | None, Attempt]],
        before_commit: Callable[[], None] | None = None,
    ) -> dict[str, int]:
        """Put archived rows back into ``fix_history`` and retire the segment and its
        bytes, atomically (see the SQLite store's ``thaw_segment``).

        In bulk: one query finds the uids and ids already taken, then the rows
        go in as one pipelined batch (row by row, 15k rows took 16 s).
        """
        from aimem.store.schema import INSERT_ATTEMPT
        from aimem.store.sqlite import attempt_params

        insert = INSERT_ATTEMPT.replace("?", "%s")
        insert_with_id = insert.replace("fix_history(", "fix_history(id, ").replace(
            "VALUES (%s", "VALUES (%s, %s"
        )
        uids = [a.uid for _, a in attempts]
        entry = self.segment(name)
        sha = None if entry is None else entry["sha256"]
        with self.transaction() as conn:
            hot = {
                str(r[0])
                for r in self._run(
                    "SELECT uid FROM fix_history WHERE uid = ANY(%s)", (uids,)
                ).fetchall()
            }
            wanted = [i for i, a in attempts if i is not None and a.uid not in hot]
            taken = {
                int(r[0])
                for r in self._run(
                    "SELECT id FROM fix_history WHERE id = ANY(%s)", (wanted,)
                ).fetchall()
            }
            with_id, without_id = [], []
            seen: set[str] = set()
            for record_id, attempt in attempts:
                if attempt.uid in hot or attempt.uid in seen:
                    continue
                seen.add(attempt.uid)
                if record_id is not None and record_id not in taken:
                    taken.add(record_id)
                    with_id.append((record_id, *attempt_params(attempt)))
                else:
                    without_id.append(attempt_params(attempt))
            with self._pg.translated():
                cursor = self._pg.raw.cursor()
                if with_id:
                    cursor.executemany(insert_with_id, with_id)
                if without_id:
                    cursor.executemany(insert, without_id)
            self._run("DELETE FROM aimem_archived_uids WHERE uid = ANY(%s)", (uids,))
            self._run("DELETE FROM aimem_segments WHERE name = %s", (name,))
            # the bytes go with the last segment that names them
            self._run(
                "DELETE FROM aimem_segment_data WHERE sha256 = %s AND NOT EXISTS "
                "(SELECT 1 FROM aimem_segments WHERE sha256 = %s)",
                (sha, sha),
            )
            self._bump_generation(conn)
            if before_commit is not None:
                before_commit()
        inserted = len(with_id) + len(without_id)
        return {"inserted": inserted, "skipped": len(attempts) - inserted}

    def archive_page(
        self,
        before: str,
        keep_successes_since: str | None,
        limit: int,
        start: tuple[str, int] | None,
        columns: Sequence[str],
        group: Sequence[str],
    ) -> tuple[list[tuple[Any, ...]], dict[int, bytes], tuple[str, int] | None]:
        """The next page of rows to archive (see the SQLite store's ``archive_page``).

        Each row's line is built here from its values, as export writes it
        (SQLite builds most lines in SQL); nothing comes apart in ``rebuilt``.
        """
        if not set(columns) <= set(EXPORT_COLUMNS) or not set(group) <= set(EXPORT_COLUMNS):
            raise AimemError(f"unknown columns {columns} {group}")
        with self.read_snapshot():
            where, params = self._candidate_filter(before, keep_successes_since)
            where, params, bound = self._page_bounds(where, params, start, limit)
            found = self._query(
                f"SELECT id, timestamp, {', '.join(columns)} FROM fix_history WHERE {where} "
                "ORDER BY id",
                params,
            )
        at = {column: index for index, column in enumerate(columns, 2)}
        rows = []
        for row in found:
            try:
                line = orjson.dumps(export_values(columns, row[2:]))
            except orjson.JSONEncodeError:
                raise unwritable.error(row[0]) from None
            # the SQLite store's group key: the text of each column, unit separated
            key = "\x1f".join("" if row[at[c]] is None else str(row[at[c]]) for c in group)
            rows.append((line, row[1], row[0], key))
        rows.sort(key=itemgetter(3))  # stable: id order inside a group
        return rows, {}, (None if bound is None else (bound[0], bound[1]))

    def unreferenced_segment_bytes(self) -> list[str]:
        """sha256 of stored segment bytes that no segment of the index names."""
        rows = self._run(
            "SELECT sha256 FROM aimem_segment_data d WHERE NOT EXISTS "
            "(SELECT 1 FROM aimem_segments s WHERE s.sha256 = d.sha256) ORDER BY sha256"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def drop_segment_bytes(self, sha256s: Sequence[str]) -> None:
        """Delete stored bytes that no segment names (``check --repair``)."""
        with self.transaction():
            self._run(
                "DELETE FROM aimem_segment_data d WHERE sha256 = ANY(%s) AND NOT EXISTS "
                "(SELECT 1 FROM aimem_segments s WHERE s.sha256 = d.sha256)",
                (list(sha256s),),
            )

    def repository_home(self) -> str:
        """What this repository's bundle id is bound to: the server (its system
        identifier, where this role may read it) and the database's name, so
        every runner agrees however its URL spells the host."""
        name = str(self._run("SELECT current_database()").fetchone()[0])
        try:
            system = self._run("SELECT system_identifier FROM pg_control_system()").fetchone()[0]
        except AimemError:
            system = None  # not readable by this role
        return f"postgresql database {name}" + ("" if system is None else f" on system {system}")

    # ---- sizes --------------------------------------------------------------

    def database_bytes(self) -> int:
        """The database's size on the server (``pg_database_size``)."""
        return int(self._run("SELECT pg_database_size(current_database())").fetchone()[0])

    # ---- bundles ------------------------------------------------------------

    def _sequences(self) -> dict[str, int]:
        found = {}
        for table in _SEQUENCED:
            # A runner's role may not read the sequence: then the largest id
            # stands in (ids of archived rows newer than it may be handed out again
            # after a restore of this bundle; the owner's backups keep them).
            row = self._run(
                "SELECT CASE WHEN has_sequence_privilege(s, 'SELECT,USAGE') "
                "THEN pg_sequence_last_value(s) END "
                "FROM pg_get_serial_sequence(%s, 'id') AS s",
                (table,),
            ).fetchone()
            if row is not None and row[0] is not None:
                found[table] = int(row[0])
        return found

    def snapshot_to(self, dest: Path, label: Path | None = None) -> None:
        """Copy every table, as of one moment, into a new SQLite file ``dest``.

        One read-only repeatable-read transaction: writers go on meanwhile and
        the copy sees none of their changes. This database's migration records
        stay out (SQLite keeps its version in the file).
        """
        self._run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            sequences = self._sequences()
            snapshot.copy_into_sqlite(_WithoutMigrationKeys(self._pg), dest, sequences, label)
        finally:
            with suppress(AimemError):
                self._run("COMMIT")

    def holds_history(self) -> bool:
        """Whether anything was ever recorded here (a restore refuses to replace it)."""
        if not self._run("SELECT to_regclass('aimem_segments') IS NOT NULL").fetchone()[0]:
            return False  # a database aimem has not set up yet
        row = self._run(
            "SELECT EXISTS (SELECT 1 FROM fix_history) OR EXISTS (SELECT 1 FROM aimem_segments) "
            "OR EXISTS (SELECT 1 FROM aimem_totals) OR EXISTS (SELECT 1 FROM aimem_kb_imported)"
        ).fetchone()
        return bool(row[0])

    def restore_from(
        self, database: Path, segments: Mapping[str, bytes], identity: Mapping[str, str]
    ) -> None:
        """Replace everything this database holds with a bundle's database file and
        segments (sha256 -> bytes), in one transaction; ``identity`` overrides
        aimem_meta keys (the repository id)."""
        sequences = snapshot.sequences(database)
        with self.transaction() as conn:
            for table, columns, batches in snapshot.iter_table_rows(database):
                names = ", ".join(columns)
                marks = ", ".join(["%s"] * len(columns))
                if table == "aimem_meta":
                    self._run(f"DELETE FROM aimem_meta WHERE NOT ({_MIGRATION_KEYS})")
                    insert = (
                        f"INSERT INTO aimem_meta({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
                    )
                else:
                    self._run(f"DELETE FROM {table}")
                    insert = f"INSERT INTO {table}({names}) VALUES ({marks})"
                for rows in batches:
                    with self._pg.translated():
                        self._pg.raw.cursor().executemany(insert, rows)
            self._run(
                f"DELETE FROM aimem_meta WHERE key = ANY(%s) AND NOT ({_MIGRATION_KEYS})",
                (list(identity),),
            )
            for key, value in identity.items():
                self._run("INSERT INTO aimem_meta(key, value) VALUES (%s, %s)", (key, value))
            self._run("DELETE FROM aimem_segment_data")
            for sha, data in segments.items():
                self._run(
                    "INSERT INTO aimem_segment_data(sha256, data) VALUES (%s, %s)", (sha, data)
                )
            for table in _SEQUENCED:
                self._run(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    f"greatest((SELECT max(id) FROM {table}), %s, 1))",
                    (table, sequences.get(table, 0)),
                )
            # caches of other processes key on the generation: one they have never seen
            self._bump_generation(conn)


class _WithoutMigrationKeys:
    """The connection as a snapshot copy reads it: aimem_meta without this
    database's migration records."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        if sql.rstrip().endswith("FROM aimem_meta"):
            sql += f" WHERE NOT ({_MIGRATION_KEYS})"
        return self.conn.execute(sql, params)
