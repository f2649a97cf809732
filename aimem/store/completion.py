"""Values for shell completion, read with as little as possible (every Tab runs this).

A repository on SQLite is read with the standard library alone, read-only;
one on PostgreSQL (``config.json`` or ``$AIMEM_DB``) through psycopg with a
short connect timeout. Nothing here raises: a completion request must never
print errors into the user's prompt.
"""

from __future__ import annotations

QUERIES: dict[str, tuple[str | None, ...]] = {
    "models": (
        "SELECT DISTINCT model_name FROM aimem_totals",
        "SELECT DISTINCT model_name FROM fix_history",
    ),
    "issue-types": (
        "SELECT DISTINCT issue_type FROM aimem_totals",
        "SELECT DISTINCT issue_type FROM fix_history",
    ),
    "fixers": (
        "SELECT DISTINCT fixer_type FROM aimem_totals",
        "SELECT DISTINCT fixer_type FROM fix_history",
    ),
    "segments": ("SELECT name FROM aimem_segments ORDER BY name", None),
    # The names of the JSON object aimem_meta keeps under 'remotes' (aimem.ops.sync):
    # SQLite's spelling, then PostgreSQL's.
    "remotes": (
        "SELECT key FROM json_each((SELECT value FROM aimem_meta WHERE key = 'remotes')) "
        "ORDER BY key",
        "SELECT jsonb_object_keys(value::jsonb) AS name FROM aimem_meta "
        "WHERE key = 'remotes' ORDER BY name",
    ),
}
LIMIT = 1000


def stored_values(kind: str, database: str) -> list[str]:
    """The stored values of ``kind`` in ``database`` (a file path or a PostgreSQL URL)."""
    queries = [q for q in QUERIES.get(kind, ()) if q is not None]
    if not queries:
        return []
    if database.startswith(("postgresql://", "postgres://")):
        return _from_postgres(queries, database)
    return _from_sqlite(queries, database)


def _from_sqlite(queries: list[str], path: str) -> list[str]:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5)
        try:
            for sql in queries:
                try:
                    return [str(r[0]) for r in conn.execute(f"{sql} LIMIT {LIMIT}")]
                except sqlite3.OperationalError:
                    continue
        finally:
            conn.close()
    except sqlite3.Error:
        pass
    return []


def _from_postgres(queries: list[str], url: str) -> list[str]:
    try:
        import psycopg
    except ImportError:
        return []
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
            for sql in queries:
                try:
                    rows = conn.execute(f"{sql} LIMIT {LIMIT}").fetchall()
                    return [str(r[0]) for r in rows]
                except psycopg.Error:
                    continue
    except psycopg.Error:
        pass
    return []
