"""The named migrations on PostgreSQL, recorded in ``aimem_meta``.

The steps carry the SQLite migrations' names, in the same order, so a schema
version means the same on both backends. The version and the name of every
step that ran are kept in ``aimem_meta`` (``schema_version``,
``migration:NNN``), since PostgreSQL has no ``user_version``. All pending steps
run in one transaction that holds the writers' lock.

Several SQLite steps convert history the seed system or an older aimem left
in a database file (local timestamps, rows without uids, old fingerprints,
issue-type spellings). No PostgreSQL database predates this backend, so those
steps have nothing to convert here and only record that they ran. A step
added to the SQLite list needs its entry in ``STEPS`` (a missing one fails
every test that opens PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable

from aimem.errors import SchemaTooNewError
from aimem.store import migrations as sqlite_migrations
from aimem.store.postgres import schema
from aimem.store.postgres.connection import Connection
from aimem.store.postgres.record_function import RECORD_FUNCTION, RECORD_FUNCTION_VERSION
from aimem.timeutil import now_iso

Step = Callable[[Connection], None]


def _script(conn: Connection, script: str) -> None:
    # the DO block holds semicolons of its own: it is one statement
    for statement in _statements(script):
        conn.raw.execute(statement)


def _statements(script: str) -> list[str]:
    statements = []
    pending = ""
    in_dollar = False
    for line in script.splitlines(keepends=True):
        pending += line
        in_dollar ^= line.count("$$") % 2 == 1
        if not in_dollar and line.rstrip().endswith(";"):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements


def _add_columns(conn: Connection) -> None:
    for table, extras in (
        ("fix_history", schema.FIX_HISTORY_EXTRA_COLUMNS),
        ("issue_patterns", schema.ISSUE_PATTERN_EXTRA_COLUMNS),
    ):
        for name, kind in extras:
            conn.raw.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {kind}")


def _nothing_to_convert(conn: Connection) -> None:
    return None


STEPS: dict[str, Step] = {
    "m001_design_schema": lambda c: _script(c, schema.DESIGN_TABLES + schema.FUNCTIONS),
    "m002_utc_timestamps": _nothing_to_convert,
    "m003_extra_columns": _add_columns,
    "m004_record_uids": _nothing_to_convert,
    "m005_query_indexes": lambda c: _script(c, schema.QUERY_INDEXES),
    "m006_meta_and_segments": lambda c: _script(c, schema.META),
    "m007_rollups": lambda c: _script(c, schema.ROLLUPS),
    "m008_full_text_search": lambda c: _script(c, schema.FULL_TEXT),
    "m009_rebuild_aggregates": _nothing_to_convert,
    "m010_read_path_indexes": lambda c: _script(c, schema.READ_PATH_INDEXES),
    "m011_segment_kind_and_pending": lambda c: _script(c, schema.PENDING),
    "m012_advice_cost_and_fingerprints": lambda c: _script(c, schema.COST_ROLLUP),
    "m013_archived_uids": lambda c: _script(c, schema.ARCHIVED_UIDS),
    "m014_fix_templates": _nothing_to_convert,
    "m015_one_issue_type_spelling": _nothing_to_convert,
    "m016_one_fixer_spelling": _nothing_to_convert,
}


def names() -> list[str]:
    """The migrations' names in order: the SQLite list's (a test pins both together)."""
    return [step.__name__ for step in sqlite_migrations.MIGRATIONS]


def schema_version(conn: Connection) -> int:
    """The recorded version; 0 for a database aimem has not set up."""
    found = conn.raw.execute("SELECT to_regclass('aimem_meta') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.raw.execute("SELECT value FROM aimem_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def check_version(conn: Connection, shown: str) -> int:
    version = schema_version(conn)
    if version > len(names()):
        raise SchemaTooNewError(
            f"{shown} has schema version {version}, newer than this aimem knows "
            f"({len(names())}); it was not changed",
            hint="upgrade aimem (pip install -U aimem)",
        )
    return version


def _record_function_current(conn: Connection) -> bool:
    row = conn.raw.execute("SELECT value FROM aimem_meta WHERE key = 'record_function'").fetchone()
    return row is not None and row[0] == RECORD_FUNCTION_VERSION


def migrate(conn: Connection, shown: str) -> int:
    """Bring the database to the current version in one transaction; return the version.

    The record function (``record_function``) is not a numbered step: it is
    replaced whenever its text changed, so the schema version keeps meaning
    the same on both backends."""
    every = names()
    if check_version(conn, shown) == len(every) and _record_function_current(conn):
        return len(every)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = check_version(conn, shown)  # another process may have migrated meanwhile
        for name in every[version:]:
            STEPS[name](conn)
        if not _record_function_current(conn):
            _script(conn, RECORD_FUNCTION)
            conn.raw.execute(
                "INSERT INTO aimem_meta(key, value) VALUES ('record_function', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (RECORD_FUNCTION_VERSION,),
            )
        # Recorded after the steps: the first ones run before aimem_meta exists.
        done = now_iso()
        for number, name in enumerate(every[version:], start=version + 1):
            conn.raw.execute(
                "INSERT INTO aimem_meta(key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"migration:{number:03d}", f"{name} {done}"),
            )
        conn.raw.execute(
            "INSERT INTO aimem_meta(key, value) VALUES ('schema_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(len(every)),),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return len(every)
