"""The PostgreSQL backend: the SQLite store's operations over a psycopg connection.

Most operations are the SQLite store's own statements, run through the
dialect connection (``aimem.store.postgres.connection``); this class replaces
the ones that use what only SQLite has: its file, PRAGMAs, FTS5, the write
queue's lock file, ``last_insert_rowid()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar, cast

import psycopg

from aimem.errors import AimemError
from aimem.learn.search import fts_tokens
from aimem.records import EXPORT_COLUMNS, Attempt
from aimem.store.aggregates import Rollup
from aimem.store.postgres import migrations
from aimem.store.postgres.archive import PostgresArchive
from aimem.store.postgres.connection import Connection
from aimem.store.postgres.recording import record_prepared
from aimem.store.sqlite import Store, attempt_params, row_to_dict
from aimem.store.url import display_url

T = TypeVar("T")

_QUOTED = re.compile(r'"((?:[^"]|"")*)"(\*?)')
# ts_headline's options: the matched words in brackets, about a dozen words of
# context, and an ellipsis where the text was cut (SQLite's snippet(..., 12)).
_HEADLINE = (
    "StartSel=[, StopSel=], MaxWords=12, MinWords=4, ShortWord=0, "
    "MaxFragments=1, FragmentDelimiter=…"
)


def ts_query(match: str) -> str:
    """An FTS5 query of ``aimem.learn.search.to_match_query`` as a ``to_tsquery`` text.

    Words are ANDed; the tokens of one word form a phrase; the last token of
    the last word matches as a prefix. Tokens are letters and digits only, so
    nothing in the user's text can be tsquery syntax.
    """
    phrases = []
    words = _QUOTED.findall(match)
    for index, (word, star) in enumerate(words):
        tokens = fts_tokens(word.replace('""', '"'))
        if not tokens:
            continue
        if star and index == len(words) - 1:
            tokens[-1] += ":*"
        phrases.append("(" + " <-> ".join(tokens) + ")")
    if not phrases:
        raise AimemError(f"invalid search query {match!r}: no words")
    return " & ".join(phrases)


class PostgresStore(PostgresArchive, Store):
    """One PostgreSQL database of one repository."""

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        self.url = url
        self.shown = display_url(url)
        # Messages name the database by its password-free URL.
        self.path = cast(Any, self.shown)
        self.identity = None
        self._commits = 0
        self._cursors = 0
        self._pg = Connection(url)
        self.conn = cast(Any, self._pg)
        try:
            with self._pg.translated():
                migrations.check_version(self._pg, self.shown)
                if not readonly:
                    migrations.migrate(self._pg, self.shown)
        except BaseException:
            self._pg.close()
            raise

    def close(self) -> None:
        self._pg.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One write transaction, holding the writers' lock (see the connection module)."""
        conn = self._pg
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                with suppress(AimemError):  # the connection is gone: the server rolled back
                    conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def streaming_snapshot(self) -> Iterator[None]:
        with self.read_snapshot():
            yield

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """One repeatable-read snapshot for several reads (nested: the outer one)."""
        if self._pg.in_transaction:
            yield
            return
        self._pg.execute("BEGIN")
        try:
            yield
        finally:
            self._pg.commit()

    builds_export_lines = False

    @property
    def label(self) -> str:
        """How findings name the database: its URL, without a password."""
        return self.shown

    def scratch_folder(self) -> Path:
        """Where an import stages its rows: the system's temporary folder."""
        import tempfile

        return Path(tempfile.gettempdir())

    @contextmanager
    def import_transaction(self) -> Iterator[Any]:
        """One import's write transaction (a lost connection rolls all of it back)."""
        with self.transaction() as conn:
            yield conn

    def record_attempts(
        self,
        attempts: Sequence[Attempt],
        guard_pairs: Sequence[tuple[str, str]],
        check: Callable[[dict[tuple[str, str], tuple[int, int]]], T],
        refuse_at: int | None = None,
    ) -> tuple[list[int | None], T]:
        """A few attempts in one server-side call (``recording``); a large batch
        takes the bulk path under the exclusive writers' lock."""
        prepared = self.prepare(attempts)
        if prepared is None:
            return super().record_attempts(attempts, guard_pairs, check)
        return record_prepared(self._pg, prepared, guard_pairs, check, refuse_at)

    def generation(self) -> int:
        """The stored counter (bumped by imports and maintenance under the exclusive
        writers' lock) with the number of attempts recorded since: a record adds to
        ``aimem_totals`` and to no single row every writer would wait for."""
        row = self._one(
            """SELECT (SELECT CAST(value AS BIGINT) FROM aimem_meta WHERE key = 'generation'),
                      (SELECT coalesce(sum(attempts), 0) FROM aimem_totals)"""
        )
        stored, recorded = (int(row[0] or 0), int(row[1])) if row else (0, 0)
        return (stored << 40) + recorded

    def schema_version(self) -> int:
        return migrations.schema_version(self._pg)

    def _insert_bulk(self, conn: Any, attempts: Sequence[Attempt]) -> list[int | None]:
        from aimem.store.postgres.dialect import translate
        from aimem.store.schema import INSERT_ATTEMPT

        rows = [attempt_params(a) for a in attempts]
        ids: list[int | None] = []
        with self._pg.translated():
            cursor = self._pg.raw.cursor()
            cursor.executemany(
                translate(INSERT_ATTEMPT, self._pg.schema) + " RETURNING id",
                rows,
                returning=True,
            )
            while True:
                row = cursor.fetchone()
                if row is not None:
                    ids.append(int(row[0]))
                if not cursor.nextset():
                    break
        rollup = Rollup()
        rollup.add_rows(rows)
        from aimem.store.aggregates import AggregateWriter

        AggregateWriter(conn).write(rollup)
        self._bump_generation(conn)
        return ids

    def iter_rows(self, since: str | None = None, chunk: int = 2000) -> Iterator[dict[str, Any]]:
        """Every hot row in id order (optionally from ``since`` on), streamed from a
        server-side cursor: the client holds one chunk at a time, whatever the size."""
        from aimem.store.postgres.dialect import translate
        from aimem.store.sqlite import ROW_COLUMNS

        sql = f"SELECT {ROW_COLUMNS} FROM fix_history"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE timestamp >= ?"
            params = (since,)
        self._cursors += 1
        with self._pg.translated():
            # outside a transaction the cursor must outlive the implicit one
            cursor = self._pg.raw.cursor(
                name=f"aimem_rows_{self._cursors}", withhold=not self._pg.in_transaction
            )
            cursor.execute(translate(sql + " ORDER BY id", self._pg.schema), params)
        try:
            while True:
                with self._pg.translated():
                    rows = cursor.fetchmany(chunk)
                if not rows:
                    return
                for row in rows:
                    yield row_to_dict(row)
        finally:
            with suppress(psycopg.Error):
                cursor.close()

    # ---- full-text search ------------------------------------------------

    def search(self, match: str, limit: int) -> list[dict[str, Any]]:
        """PostgreSQL text search, best first (rank: lower is better, as BM25 on SQLite)."""
        query = ts_query(match)
        columns = ", ".join("h." + c for c in EXPORT_COLUMNS)
        text = (
            "coalesce(h.description, '') || ' ' || coalesce(h.claude_analysis, '') || ' ' || "
            "coalesce(h.fix_commands, '') || ' ' || coalesce(h.notes, '')"
        )
        with self._pg.translated():
            rows = self._pg.raw.execute(
                f"""WITH q AS (SELECT to_tsquery('simple', %s) AS q),
                    best AS (SELECT h.id, -ts_rank_cd(h.aimem_search, q.q) AS score
                             FROM fix_history h, q WHERE h.aimem_search @@ q.q
                             ORDER BY score, h.id LIMIT %s)
                    SELECT {columns}, best.score,
                           ts_headline('simple', {text}, q.q, %s)
                    FROM best JOIN fix_history h ON h.id = best.id, q
                    ORDER BY best.score, h.id""",
                (query, limit, _HEADLINE),
            ).fetchall()
        results = []
        for r in rows:
            record = row_to_dict(r[: len(EXPORT_COLUMNS)])
            record["rank"] = float(r[len(EXPORT_COLUMNS)])
            record["snippet"] = " ".join(str(r[len(EXPORT_COLUMNS) + 1]).split())
            results.append(record)
        return results

    # ---- integrity and housekeeping --------------------------------------

    def page_stats(self) -> dict[str, int]:
        """The database's size in 8 KiB pages; as free pages, the share of them that
        dead rows hold (what VACUUM makes reusable), from the server's statistics."""
        size = int(self._one("SELECT pg_database_size(current_database())")[0])
        if self._one("SELECT to_regproc('pg_stat_force_next_flush') IS NOT NULL")[0]:
            # this connection's own deletes count too (flushed when it is next idle)
            self._one("SELECT pg_stat_force_next_flush()")
        dead, total = self._one(
            "SELECT coalesce(sum(n_dead_tup), 0), coalesce(sum(n_live_tup + n_dead_tup), 0) "
            "FROM pg_stat_user_tables"
        )
        pages = size // 8192
        free = pages * int(dead) // int(total) if int(total) else 0
        return {"page_size": 8192, "page_count": pages, "freelist_count": free}

    def housekeeping(self, vacuum: bool) -> None:
        """``ANALYZE``, and ``VACUUM`` with ``vacuum`` (outside any transaction)."""
        with self._pg.translated():
            self._pg.raw.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")

    def integrity_problems(self, quick: bool = False, limit: int = 20) -> list[str]:
        """PostgreSQL keeps its own pages sound; aimem's checks are the other findings."""
        return []

    def fts_problem(self) -> str | None:
        return None  # a generated column cannot disagree with its row

    def fts_rebuild(self) -> None:
        return None

    def bad_timestamps(self, limit: int = 20) -> list[tuple[int, str]]:
        """(id, timestamp) of hot rows whose timestamp is not in the storage form."""
        rows = self._query(
            "SELECT id, timestamp FROM fix_history WHERE timestamp !~ ? ORDER BY id LIMIT ?",
            (r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}Z$", limit),
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def unwritable_values(self, limit: int = 20) -> Any:
        """None here: PostgreSQL's TEXT columns hold valid UTF-8 only, and no BLOBs."""
        from aimem.store.unwritable import Found

        return Found()

    def aggregate_drift(self, extra_facts: Any) -> list[tuple[str, str]]:
        """Compare every aggregate with a recomputation in temporary tables, on a
        connection of its own (one snapshot, rolled back). Returns (table, detail)."""
        from aimem.store.sqlite.checks import drift_from_recomputation

        conn = Connection(self.url)
        try:
            return drift_from_recomputation(conn, extra_facts)
        finally:
            conn.close()
