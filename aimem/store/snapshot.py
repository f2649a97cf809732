"""Database snapshots and inspection for backup bundles (all of backup's SQL).

``snapshot_to`` uses SQLite's online backup API in one step: a single read
transaction, so the copy is consistent while other processes keep writing
(WAL readers never block writers). ``inspect_database`` opens a copy read-only
and reports its integrity, schema version and record counts.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aimem.store.connection import translate_sqlite_error

COUNTED_TABLES = ("fix_history", "issue_patterns", "model_characteristics", "aimem_segments")


def snapshot_to(
    conn: sqlite3.Connection, dest: Path, source_path: Path, label: Path | None = None
) -> None:
    """Copy the database behind ``conn`` into a new file ``dest`` (consistent snapshot).

    ``dest`` is scratch in WAL mode: it is not fsynced (whatever is made from
    it must be); the caller switches it to ``journal_mode = DELETE`` when done.
    A failed write (a full disk) is reported as writing ``label`` (what the
    scratch copy is for), anything else as an error of ``source_path``.
    """
    try:
        target = sqlite3.connect(dest, isolation_level=None)
        try:
            # A scratch copy: the bundle made from it is what gets fsynced, so
            # syncing the copy too would force all of it to disk for nothing
            # (it more than doubles the backup time at 100k rows).
            target.execute("PRAGMA synchronous = OFF")
            target.execute("PRAGMA journal_mode = OFF")
            conn.backup(target, pages=-1)
            # In WAL mode, as aimem opens it (switching modes later would sync it).
            target.execute("PRAGMA journal_mode = WAL")
        finally:
            target.close()
    except sqlite3.Error as error:
        name = str(getattr(error, "sqlite_errorname", ""))
        failed_write = name.startswith(("SQLITE_FULL", "SQLITE_IOERR"))
        where = label if failed_write and label is not None else source_path
        raise translate_sqlite_error(error, where) from error


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Row counts of the seed tables, segments, archived records and all attempts."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    result: dict[str, int] = {}
    for table in COUNTED_TABLES:
        result[table] = (
            int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            if table in tables
            else 0
        )
    result["archived_records"] = (
        int(conn.execute("SELECT coalesce(sum(row_count), 0) FROM aimem_segments").fetchone()[0])
        if "aimem_segments" in tables
        else 0
    )
    result["total_attempts"] = (
        int(conn.execute("SELECT coalesce(sum(attempts), 0) FROM aimem_totals").fetchone()[0])
        if "aimem_totals" in tables
        else result["fix_history"]
    )
    return result


def segment_files(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(name, sha256) of every archive segment the database knows."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "aimem_segments" not in tables:
        return []
    return [(r[0], r[1]) for r in conn.execute("SELECT name, sha256 FROM aimem_segments")]


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: every query inside sees one snapshot of the database."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


# What ANALYZE (run by 'aimem gc') adds; SQLite's own text for them.
_STAT_TABLES = {
    "sqlite_stat1": "CREATE TABLE sqlite_stat1(tbl,idx,stat)",
    "sqlite_stat4": "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)",
}
SchemaObject = tuple[str, str, str, str]  # type, name, table, normalized SQL


def _normalize_sql(sql: str | None) -> str:
    # A database adopted from the seed system keeps its own CREATE TABLE
    # text (other indentation); whitespace carries no meaning outside literals.
    if sql is None:
        return ""
    text = re.sub(r"\s+", " ", sql.strip())
    return re.sub(r" ?([(),;]) ?", r"\1", text)


def _schema_objects(conn: sqlite3.Connection) -> set[SchemaObject]:
    return {
        (str(kind), str(name), str(table), _normalize_sql(sql))
        for kind, name, table, sql in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"
        )
    }


def expected_schema(version: int) -> set[SchemaObject]:
    """The schema objects of a blank database migrated to ``version`` (built in memory)."""
    from aimem.store.migrations import MIGRATIONS

    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute("BEGIN")
        for step in MIGRATIONS[:version]:
            step(conn)
        conn.execute("COMMIT")
        return _schema_objects(conn)
    finally:
        conn.close()


def schema_problem(conn: sqlite3.Connection, version: int) -> str | None:
    """None when the schema is exactly aimem's at ``version``; else what differs (one line).

    A database restored from a bundle is run by aimem as it is: a foreign
    trigger would fire on every write, a view in place of a table would be
    read by every query. Only ANALYZE's statistics tables may be extra.
    """
    actual = _schema_objects(conn)
    expected = expected_schema(version)
    kinds = {(kind, name): sql for kind, name, _, sql in expected}
    names = {name: kind for kind, name, _, _ in expected}
    for kind, name, table, sql in sorted(actual - expected):
        if kind == "table" and _STAT_TABLES.get(name) == sql:
            continue
        if name in names and names[name] != kind:
            return f"{name} is a {kind}, aimem's schema has a {names[name]}"
        if (kind, name) in kinds:
            return f"{kind} {name} differs from aimem's schema version {version}"
        return f"{kind} {name} (on {table}) is not part of aimem's schema version {version}"
    missing = sorted(expected - actual)
    if missing:
        kind, name = missing[0][0], missing[0][1]
        return f"{kind} {name} of aimem's schema version {version} is missing"
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def inspect_database(path: Path) -> dict[str, Any]:
    """Problems (empty when fine), schema version and counts of a database file.

    A problem is (kind, one line): the first finding of ``integrity_check`` (with how
    many there were), or how the schema differs from aimem's for its version.
    Counts are read only from a sound database.
    """
    from aimem.store.migrations import MIGRATIONS

    empty: dict[str, Any] = {"schema_version": None, "counts": {}, "segments": []}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            findings = [
                _one_line(str(r[0]))
                for r in conn.execute("PRAGMA integrity_check(20)")
                if r[0] != "ok"
            ]
            if findings:
                more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
                return {"problems": [("corrupt-database", f"{findings[0]}{more}")], **empty}
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if not 0 < version <= len(MIGRATIONS):
                return {
                    "problems": [
                        (
                            "unsupported-version",
                            f"schema version {version} is not one this aimem reads "
                            f"(1 to {len(MIGRATIONS)})",
                        )
                    ],
                    **empty,
                    "schema_version": version,
                }
            problem = schema_problem(conn, version)
            if problem is not None:
                return {
                    "problems": [("foreign-schema", problem)],
                    **empty,
                    "schema_version": version,
                }
            found = counts(conn)
            segments = segment_files(conn)
            index = segment_index(conn)
        finally:
            conn.close()
    except sqlite3.Error as error:
        return {"problems": [("corrupt-database", _one_line(str(error)))], **empty}
    return {
        "problems": [],
        "schema_version": version,
        "counts": found,
        "segments": segments,
        "segment_index": index,
    }


def segment_index(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Every segment of the index by name: sha256, kind, row_count, raw_bytes."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "aimem_segments" not in tables:
        return {}
    columns = {r[1] for r in conn.execute("PRAGMA table_info(aimem_segments)")}
    kind = "kind" if "kind" in columns else "'rows'"  # the column came with schema version 11
    return {
        str(name): {"sha256": sha, "kind": k, "row_count": rows, "raw_bytes": raw}
        for name, sha, k, rows, raw in conn.execute(
            f"SELECT name, sha256, {kind}, row_count, raw_bytes FROM aimem_segments"
        )
    }


def repository_identity(path: Path) -> str | None:
    """The repository id stored in the database file ``path`` (None if it has none or
    cannot be read)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            row = conn.execute(
                "SELECT value FROM aimem_meta WHERE key = 'repository_id'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def set_repository_identity(path: Path, repository_id: str | None, folder: Path) -> str:
    """Give the database file ``path`` its repository id (a new one when None), bound
    to the repository ``folder``; return the id."""
    new_id = repository_id or secrets.token_hex(6)
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO aimem_meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [("repository_id", new_id), ("repository_path", str(folder))],
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise translate_sqlite_error(error, path) from error
    return new_id


def describe_database(path: Path) -> dict[str, Any]:
    """Schema version, counts and segment files of a database file (no integrity check)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        with read_transaction(conn):
            return {
                "schema_version": int(conn.execute("PRAGMA user_version").fetchone()[0]),
                "counts": counts(conn),
                "segments": segment_files(conn),
            }
    finally:
        conn.close()


# ---- row-by-row copies (a repository on another backend) ---------------------
# A bundle's database is always SQLite. A repository on another backend is
# copied into one row by row, from one read snapshot; a bundle is restored
# into one the same way. The full-text index is not copied: it is rebuilt
# from fix_history.
COPY_BATCH = 5000


def copied_tables(conn: sqlite3.Connection) -> list[tuple[str, list[str]]]:
    """(table, columns) of every table of aimem's schema in ``conn`` that holds rows
    of its own: all but SQLite's and the full-text index's."""
    names = [
        str(r[0])
        for r in conn.execute(
            """SELECT name FROM sqlite_master WHERE type = 'table'
               AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'fix_history_fts%'
               ORDER BY name"""
        )
    ]
    return [
        (name, [str(r[1]) for r in conn.execute(f"PRAGMA table_info({name})")]) for name in names
    ]


def _plain(value: Any) -> Any:
    # booleans as SQLite stores them; exact decimals as the REAL SQLite keeps
    if isinstance(value, bool):
        return int(value)
    if type(value).__name__ == "Decimal":
        return float(value)
    return value


def copy_into_sqlite(
    source: Any, dest: Path, sequences: dict[str, int], label: Path | None = None
) -> None:
    """Write every row ``source`` holds into a new SQLite database ``dest`` of aimem's
    current schema.

    ``source`` is a connection with the ``sqlite3`` surface (``?`` placeholders),
    inside one read snapshot: every table is read from the same moment.
    ``sequences`` are the next-id counters (table -> last id handed out), so
    ids of archived rows are never handed out again. ``dest`` is scratch, as
    with ``snapshot_to``; a failed write is reported as writing ``label``.
    """
    from aimem.store.migrations import MIGRATIONS

    try:
        target = sqlite3.connect(dest, isolation_level=None)
        try:
            target.execute("PRAGMA synchronous = OFF")
            target.execute("PRAGMA journal_mode = OFF")
            target.execute("BEGIN")
            for step in MIGRATIONS:
                step(target)
            target.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            for table, columns in copied_tables(target):
                target.execute(f"DELETE FROM {table}")
                names = ", ".join(columns)
                cursor = source.execute(f"SELECT {names} FROM {table}")
                insert = f"INSERT INTO {table}({names}) VALUES ({', '.join('?' * len(columns))})"
                while rows := cursor.fetchmany(COPY_BATCH):
                    target.executemany(insert, [tuple(map(_plain, row)) for row in rows])
            target.execute("DELETE FROM sqlite_sequence")
            target.executemany(
                "INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)",
                sorted((t, int(n)) for t, n in sequences.items() if n),
            )
            target.execute("INSERT INTO fix_history_fts(fix_history_fts) VALUES ('rebuild')")
            target.execute("COMMIT")
            target.execute("PRAGMA journal_mode = WAL")
        finally:
            target.close()
    except sqlite3.Error as error:
        raise translate_sqlite_error(error, label or dest) from error


def iter_table_rows(path: Path) -> Iterator[tuple[str, list[str], Iterator[list[tuple[Any, ...]]]]]:
    """(table, columns, batches of rows) of every table a bundle's database ``path``
    holds rows in (``copied_tables``), read from one snapshot."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        with read_transaction(conn):
            for table, columns in copied_tables(conn):
                cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {table}")

                def batches(cursor: sqlite3.Cursor = cursor) -> Iterator[list[tuple[Any, ...]]]:
                    while rows := cursor.fetchmany(COPY_BATCH):
                        yield rows

                yield table, columns, batches()
    finally:
        conn.close()


def sequences(path: Path) -> dict[str, int]:
    """The next-id counters of a database file (table -> last id handed out)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        return {str(n): int(s) for n, s in conn.execute("SELECT name, seq FROM sqlite_sequence")}
    finally:
        conn.close()
