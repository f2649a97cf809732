"""Ordered, named schema migrations; the schema version is ``PRAGMA user_version``.

A database exactly as the seed system leaves it (its three tables, version
0, local naive timestamps, no uid) is adopted in place. All pending migrations
run in one ``BEGIN IMMEDIATE`` transaction together with the new version, so a
crash leaves the old database or the fully migrated one. A database whose
version is newer than this aimem knows is refused before anything is written.

Never edit a shipped migration: append a new one (a test pins the names).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aimem.errors import AimemError, CorruptRepositoryError, SchemaTooNewError
from aimem.learn.signatures import content_uid, generate_fingerprint
from aimem.records import design_row_payload
from aimem.store import schema
from aimem.store.connection import atomic, run_script
from aimem.timeutil import is_storage_form, normalize_timestamp

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []
migration = MIGRATIONS.append


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


@migration
def m001_design_schema(conn: sqlite3.Connection) -> None:
    # Adopts the seed schema's tables when they exist (legacy database), creates them otherwise.
    run_script(conn, schema.DESIGN_TABLES)


@migration
def m002_utc_timestamps(conn: sqlite3.Connection) -> None:
    # The seed system stored datetime.now().isoformat(): local, naive, 'T'-separated.
    for table, key, column in (
        ("fix_history", "id", "timestamp"),
        ("issue_patterns", "id", "last_seen"),
        ("model_characteristics", "model_name", "last_updated"),
    ):
        rows = conn.execute(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL")
        updates = []
        for row_key, value in rows.fetchall():
            if is_storage_form(str(value)):
                continue
            try:
                updates.append((normalize_timestamp(str(value), naive_is_local=True), row_key))
            except ValueError:
                continue  # unreadable legacy text is kept as it was; check reports it
        conn.executemany(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", updates)


@migration
def m003_extra_columns(conn: sqlite3.Connection) -> None:
    for table, extras in (
        ("fix_history", schema.FIX_HISTORY_EXTRA_COLUMNS),
        ("issue_patterns", schema.ISSUE_PATTERN_EXTRA_COLUMNS),
    ):
        present = _columns(conn, table)
        for name, kind in extras:
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


@migration
def m004_record_uids(conn: sqlite3.Connection) -> None:
    # Legacy rows get a uid derived from their content, the same one that
    # 'aimem import old.db' derives, so both routes merge without duplicates.
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            "SELECT * FROM fix_history WHERE uid IS NULL OR fingerprint IS NULL ORDER BY id"
        ).fetchall()
    finally:
        conn.row_factory = None
    seen: dict[str, int] = {}
    updates = []
    for row in rows:
        uid = row["uid"]
        if uid is None:
            base = content_uid(design_row_payload(row))
            seen[base] = seen.get(base, 0) + 1
            uid = content_uid(design_row_payload(row), seen[base])
        fingerprint = row["fingerprint"] or generate_fingerprint(
            row["issue_type"], row["model_name"], row["description"]
        )
        updates.append((uid, fingerprint, row["id"]))
    conn.executemany("UPDATE fix_history SET uid = ?, fingerprint = ? WHERE id = ?", updates)


@migration
def m005_query_indexes(conn: sqlite3.Connection) -> None:
    run_script(conn, schema.QUERY_INDEXES)


@migration
def m006_meta_and_segments(conn: sqlite3.Connection) -> None:
    run_script(conn, schema.META)


@migration
def m007_rollups(conn: sqlite3.Connection) -> None:
    run_script(conn, schema.ROLLUPS.format(schema="main"))


@migration
def m008_full_text_search(conn: sqlite3.Connection) -> None:
    run_script(conn, schema.FULL_TEXT)
    conn.execute("INSERT INTO fix_history_fts(fix_history_fts) VALUES ('rebuild')")


@migration
def m009_rebuild_aggregates(conn: sqlite3.Connection) -> None:
    # Legacy aggregates may follow other rules; recompute them from the rows,
    # keeping every pattern row's id and name.
    from aimem.store.rebuild import rebuild_aggregates

    rebuild_aggregates(conn)


@migration
def m010_read_path_indexes(conn: sqlite3.Connection) -> None:
    # Measured by bench/run.py at 100k attempts: the knowledge base file lists the
    # newest learned signatures after every writing process, which sorted every
    # pattern (2.7 s per `aimem record`); a model's recent history sorted all of
    # that model's rows (get_model_insights, build_context).
    conn.execute(
        "CREATE INDEX IF NOT EXISTS aimem_issue_patterns_learned "
        "ON issue_patterns(last_seen DESC, id) WHERE success_count > 0"
    )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS aimem_fix_history_model_time "
        "ON fix_history(model_name, timestamp)"
    )


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's schema version (``PRAGMA user_version``)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection, path: Path) -> int:
    """Return the version, refusing a database from a newer aimem (nothing written)."""
    try:
        version = schema_version(conn)
    except sqlite3.DatabaseError as error:
        raise CorruptRepositoryError(
            f"{path} is not a readable SQLite database: {error}"
        ) from error
    if version > len(MIGRATIONS):
        raise SchemaTooNewError(
            f"{path} has schema version {version}, newer than this aimem knows "
            f"({len(MIGRATIONS)}); it was not changed",
            hint="upgrade aimem (pip install -U aimem)",
        )
    return version


def refuse_unreadable(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse to migrate a table another program left a value in that the steps
    cannot read (a BLOB or text that is not UTF-8; see aimem.store.unwritable):
    they hash, normalize and count every row. Called before anything is written
    (the switch to WAL included), for a database that has steps to run."""
    from aimem.records import EXPORT_COLUMNS
    from aimem.store import unwritable

    present = _columns(conn, "fix_history")
    if "id" not in present:
        return  # a new database, or not the seed schema's table: m001 decides
    columns = [c for c in EXPORT_COLUMNS if c in present]
    found = unwritable.find(conn, columns=columns).first
    if found:
        row_id, column, problem = found[0]
        raise AimemError(
            f"{path}: fix_history row {row_id}, column {column} {problem}; this aimem "
            "cannot upgrade the database until that value is corrected (nothing was changed)",
            hint=unwritable.REMEDY,
        )


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the database to the current version in one transaction; return the version."""
    if check_version(conn, path) == len(MIGRATIONS):
        return len(MIGRATIONS)
    with atomic(conn):
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = check_version(conn, path)
        for step in MIGRATIONS[version:]:
            step(conn)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    return len(MIGRATIONS)


@migration
def m011_segment_kind_and_pending(conn: sqlite3.Connection) -> None:
    # Segments hold full rows ("rows") or, after ``cleanup --purge``,
    # only the facts aggregates need ("facts"); ``aimem_pending`` journals a
    # cleanup or thaw whose file step may be half done (finished or undone on
    # the next open or by ``check --repair``).
    if "kind" not in _columns(conn, "aimem_segments"):
        conn.execute("ALTER TABLE aimem_segments ADD COLUMN kind TEXT NOT NULL DEFAULT 'rows'")
    conn.execute(
        """CREATE TABLE IF NOT EXISTS aimem_pending (
               name TEXT PRIMARY KEY,
               action TEXT NOT NULL,
               row_count INTEGER NOT NULL,
               started_at TEXT NOT NULL
           ) WITHOUT ROWID"""
    )


@migration
def m012_advice_cost_and_fingerprints(conn: sqlite3.Connection) -> None:
    # The cost rollup, fingerprints recomputed with the improved
    # normalization, and best fixes re-ranked by Wilson lower bound. Works from
    # the rollups and a targeted re-read, not a full recomputation, so that
    # upgrading a large repository holds the write lock briefly.
    from aimem.learn.signatures import _legacy_fingerprint_v1, model_family
    from aimem.store.aggregates import SCOPE_FINGERPRINT, AggregateWriter

    run_script(conn, schema.COST_ROLLUP.format(schema="main"))
    # m009 may have just filled it (a database adopted in this same upgrade).
    conn.execute("DELETE FROM aimem_cost")
    cursor = conn.execute(
        "SELECT fixer_type, coalesce(fixer_model, ''), issue_type, count(*), "
        "coalesce(sum(fix_success = 1 AND verification_success = 1), 0), "
        "coalesce(sum(cost_usd), 0), count(cost_usd), coalesce(sum(tokens_in), 0), "
        "coalesce(sum(tokens_out), 0), "
        "coalesce(sum(tokens_in IS NOT NULL OR tokens_out IS NOT NULL), 0) "
        "FROM fix_history GROUP BY 1, 2, 3"
    )
    conn.executemany(
        "INSERT INTO aimem_cost VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", cursor.fetchall()
    )
    writer = AggregateWriter(conn)
    # With archived segments, recomputing fingerprint outcomes from the hot rows
    # alone would drop archived counts: fingerprints then stay as they are (and
    # the cost rollup covers hot rows until 'check --repair' recomputes it).
    if not conn.execute("SELECT 1 FROM aimem_segments LIMIT 1").fetchone():
        # A stored fingerprint can be recomputed only when it was made from the
        # description alone (rows recorded without a response, which is not
        # stored). Rows whose fingerprint included a response keep it.
        cache: dict[tuple[str, str, str], tuple[str, str]] = {}
        updates: list[tuple[str, int]] = []
        affected: set[str] = set()
        rows = conn.execute(
            "SELECT id, issue_type, model_name, description, fingerprint FROM fix_history"
        )
        for row_id, issue_type, model_name, description, stored in rows:
            key = (issue_type, model_family(model_name), description)
            known = cache.get(key)
            if known is None:
                known = cache[key] = (
                    _legacy_fingerprint_v1(issue_type, model_name, description),
                    generate_fingerprint(issue_type, model_name, description),
                )
                if len(cache) > 200_000:
                    cache.clear()
            legacy, fresh = known
            if stored and stored != legacy:
                continue
            if fresh != stored:
                updates.append((fresh, row_id))
                affected.update(k for k in (stored, fresh) if k)
        conn.executemany("UPDATE fix_history SET fingerprint = ? WHERE id = ?", updates)
        keys = sorted(affected)
        outcome_rows: list[tuple[object, ...]] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            outcome_rows += conn.execute(
                "SELECT fingerprint, fix_commands, fix_success, verification_success, timestamp "
                f"FROM fix_history WHERE fingerprint IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        writer.rebuild_scope_keys(SCOPE_FINGERPRINT, affected, outcome_rows)
    writer.rerank()
    # Best fixes may have changed: knowledge_base.json is stale.
    conn.execute(
        "UPDATE aimem_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
    )


@migration
def m013_archived_uids(conn: sqlite3.Connection) -> None:
    # The uids of archived and purged rows, so that importing a record that
    # now lives in a segment does not count it a second time (import's merge
    # rule extends to the archive). Segments written before this
    # migration are read back for their uids; purge segments keep no uids.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS aimem_archived_uids (uid TEXT PRIMARY KEY) WITHOUT ROWID"
    )
    database = conn.execute("PRAGMA database_list").fetchone()[2]
    if not database:
        return
    from aimem.ops import archive
    from aimem.paths import ARCHIVE_NAME

    folder = Path(database).parent / ARCHIVE_NAME
    for name, sha256, kind in conn.execute(
        "SELECT name, sha256, kind FROM aimem_segments"
    ).fetchall():
        path = folder / name
        if kind != archive.KIND_ROWS or not path.is_file():
            continue  # a missing segment is check's finding, not the migration's
        conn.executemany(
            "INSERT OR IGNORE INTO aimem_archived_uids(uid) VALUES (?)",
            ((row["uid"],) for row in archive.iter_segment_rows(path, sha256) if row.get("uid")),
        )


@migration
def m014_fix_templates(conn: sqlite3.Connection) -> None:
    # Fixes that name their model are learned as templates (``ollama pull
    # {model}``) in the scopes that span models, and a new scope holds each
    # model's own record per issue type: the aggregates are recomputed from
    # every row, archived facts included. Without readable segments they stay
    # as they are, for 'check --repair' once the segments are back (recomputing
    # without a segment's facts would lose its counts).
    if not _segments_readable(conn):
        return
    from aimem.store.rebuild import rebuild_aggregates

    rebuild_aggregates(conn, _archived_facts(conn))
    conn.execute(
        "UPDATE aimem_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
    )


@migration
def m015_one_issue_type_spelling(conn: sqlite3.Connection) -> None:
    # The seed system stored issue types as given ('timeout', 'Timeout'),
    # and imports did too: rows are brought to the one spelling queries use
    # (aimem.learn.signatures.normalize_issue_type). Signatures stay as stored (they
    # are history, and the seed's standard types never change spelling); a
    # fingerprint made from the type as given is remade from the new spelling.
    # Aggregates are recomputed only when a row changed, archived facts included.
    from aimem.learn.signatures import _fingerprint_of, normalize_issue_type

    renamed = {
        stored: normalize_issue_type(stored)
        for (stored,) in conn.execute("SELECT DISTINCT issue_type FROM fix_history")
        if isinstance(stored, str) and normalize_issue_type(stored) not in ("", stored)
    }
    if not renamed:
        return
    for stored, spelled in renamed.items():
        rows = conn.execute(
            "SELECT id, model_name, description, fingerprint FROM fix_history WHERE issue_type = ?",
            (stored,),
        ).fetchall()
        updates = []
        for row_id, model_name, description, fingerprint in rows:
            if fingerprint == _fingerprint_of(stored, str(model_name), str(description)):
                fingerprint = _fingerprint_of(spelled, str(model_name), str(description))
            updates.append((spelled, fingerprint, row_id))
        conn.executemany(
            "UPDATE fix_history SET issue_type = ?, fingerprint = ? WHERE id = ?", updates
        )
    if not _segments_readable(conn):
        # Recomputing without a segment's facts would lose its counts: the
        # aggregates stay as they are, for 'check --repair' once it is back.
        return
    from aimem.store.rebuild import rebuild_aggregates

    rebuild_aggregates(conn, _archived_facts(conn))
    conn.execute(
        "UPDATE aimem_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
    )


def _segment_rows(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    """Every row of every segment (m013's way of finding them), sha256 checked."""
    database = conn.execute("PRAGMA database_list").fetchone()[2]
    segments = conn.execute("SELECT name, sha256 FROM aimem_segments").fetchall()
    if not database or not segments:
        return
    from aimem.ops import archive
    from aimem.paths import ARCHIVE_NAME

    folder = Path(database).parent / ARCHIVE_NAME
    for name, sha256 in segments:
        yield from archive.iter_segment_rows(folder / name, sha256)


def _segments_readable(conn: sqlite3.Connection) -> bool:
    try:
        for _ in _segment_rows(conn):
            pass
    except Exception:  # missing, corrupt, not zstd: any of these means 'not now'
        return False
    return True


def _archived_facts(conn: sqlite3.Connection) -> Iterator[Any]:
    from aimem.store.aggregates import fact_from_row

    for row in _segment_rows(conn):
        yield fact_from_row(row)


# The aggregate tables keyed on the fixer: (table, key columns, summed columns,
# columns merged by min, by max).
_FIXER_ROLLUPS = (
    (
        "aimem_totals",
        ("model_name", "issue_type", "fixer_type"),
        ("attempts", "fix_successes", "successes", "time_sum", "time_n"),
        ("first_seen",),
        ("last_seen",),
    ),
    (
        "aimem_daily",
        ("day", "model_name", "issue_type", "fixer_type"),
        ("attempts", "fix_successes", "successes", "time_sum", "time_n"),
        (),
        (),
    ),
    (
        "aimem_cost",
        ("fixer_type", "fixer_model", "issue_type"),
        (
            "attempts",
            "successes",
            "cost_sum",
            "cost_n",
            "tokens_in_sum",
            "tokens_out_sum",
            "tokens_n",
        ),
        (),
        (),
    ),
)


@migration
def m016_one_fixer_spelling(conn: sqlite3.Connection) -> None:
    # New attempts store the fixer in one spelling (aimem.records.normalize_fixer:
    # 'Claude', 'CLAUDE' and 'claude' are one fixer); rows stored earlier, and the
    # rollups they fed, are brought to it. The rollup rows of two spellings are
    # merged in place (their counts add up) rather than recomputed from rows:
    # that is exact, needs no archive segment to be readable, and keeps the
    # counts of purged attempts, which exist nowhere else. Archive segments are
    # never rewritten; their rows are respelled as they are read
    # (aggregates.fact_from_row, records.attempt_from_row).
    from aimem.records import normalize_fixer

    tables = ["fix_history"] + [table for table, *_ in _FIXER_ROLLUPS if table in _tables(conn)]
    stored = set()
    for table in tables:
        stored |= {
            name
            for (name,) in conn.execute(f"SELECT DISTINCT fixer_type FROM {table}")
            if isinstance(name, str)
        }
    renamed = {name: normalize_fixer(name) for name in stored if normalize_fixer(name) != name}
    if not renamed:
        return
    conn.execute("CREATE TEMP TABLE aimem_fixer_names (stored TEXT PRIMARY KEY, spelled TEXT)")
    conn.executemany("INSERT INTO aimem_fixer_names VALUES (?, ?)", renamed.items())
    conn.execute(
        """UPDATE fix_history SET fixer_type =
               (SELECT spelled FROM aimem_fixer_names WHERE stored = fixer_type)
           WHERE fixer_type IN (SELECT stored FROM aimem_fixer_names)"""
    )
    for table, keys, sums, lows, highs in _FIXER_ROLLUPS:
        if table not in tables:
            continue
        picked = ", ".join(
            "coalesce(n.spelled, t.fixer_type)" if key == "fixer_type" else f"t.{key}"
            for key in keys
        )
        merged = (
            [f"sum(t.{c})" for c in sums]
            + [f"min(t.{c})" for c in lows]
            + [f"max(t.{c})" for c in highs]
        )
        updates = (
            [f"{c} = {c} + excluded.{c}" for c in sums]
            + [f"{c} = min({c}, excluded.{c})" for c in lows]
            + [f"{c} = max({c}, excluded.{c})" for c in highs]
        )
        columns = ", ".join([*keys, *sums, *lows, *highs])
        # Fold the old spellings' rows first, then add them onto the rows already
        # in the one spelling; GROUP BY merges 'Claude' with 'CLAUDE'.
        conn.execute(
            f"""CREATE TEMP TABLE aimem_fixer_rows AS
                SELECT {picked}, {", ".join(merged)} FROM {table} AS t
                JOIN aimem_fixer_names AS n ON n.stored = t.fixer_type
                GROUP BY {picked}"""
        )
        conn.execute(
            f"DELETE FROM {table} WHERE fixer_type IN (SELECT stored FROM aimem_fixer_names)"
        )
        conn.execute(
            f"""INSERT INTO {table}({columns}) SELECT * FROM aimem_fixer_rows WHERE true
                ON CONFLICT({", ".join(keys)}) DO UPDATE SET {", ".join(updates)}"""
        )
        conn.execute("DROP TABLE temp.aimem_fixer_rows")
    conn.execute("DROP TABLE temp.aimem_fixer_names")
    conn.execute(
        "UPDATE aimem_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
    )


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
