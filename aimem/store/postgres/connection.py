"""psycopg 3 connections that the store can use as it uses ``sqlite3`` ones.

``Connection`` takes the store's SQLite statements (``?`` placeholders),
rewrites them once (``aimem.store.postgres.dialect``) and answers with the
calls the store makes on a ``sqlite3.Connection``: ``execute``, ``executemany``,
``fetchone``/``fetchall``/``fetchmany``, ``lastrowid``, ``rowcount``,
``in_transaction``. Transactions are explicit, as with SQLite in autocommit
mode: ``BEGIN IMMEDIATE`` (a write) begins and takes this database's writer
lock, a transaction-scoped advisory lock, so writers take turns as they do on
SQLite and every read-modify-write of an aggregate stays exact; a bare
``BEGIN`` (a read) is one repeatable-read snapshot.

Errors leave as ``AimemError`` naming the host and database, never the
password.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader

from aimem.errors import AimemError, ReadOnlyRepositoryError, StorageFullError
from aimem.store.postgres.dialect import translate
from aimem.store.url import display_url, host_and_database

# psycopg logs what it cannot report otherwise (a pipeline ended by a lost
# connection) at WARNING; with no handler, Python would print it above aimem's
# own one-line error. aimem reports the failure itself.
logging.getLogger("psycopg").addHandler(logging.NullHandler())

# The advisory lock key of aimem's writers ('aimem' as an integer).
WRITER_LOCK = 0x61696D656D
CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "aimem"


class _NumberLoader(Loader):
    """``numeric`` as int when whole, else float: sums and averages read as on SQLite."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        if text.lstrip("-").isdigit():
            return int(text)
        return float(text)


def where(url: str) -> str:
    """'host H, database D' for messages."""
    host, database = host_and_database(url)
    return f"host {host}, database {database}"


def _scrub(text: str, url: str) -> str:
    """``text`` with any password the URL carries removed."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
        secrets = [unquote(parts.password)] if parts.password else []
        secrets += [v for k, v in parse_qsl(parts.query) if k.lower().endswith("password")]
    except ValueError:
        secrets = []
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text.replace(url, display_url(url))


_SERVER_PREFIX = re.compile(
    r'^(?:connection failed: )?connection to server (?:at|on) "[^"]*"(?: \([^)]*\))?'
    r"(?:, port \d+)? failed: "
)


def _connect_detail(text: str) -> str:
    """libpq's reasons, without the repeated 'connection to server at ... failed' prefix."""
    reasons: list[str] = []
    for line in text.splitlines():
        line = _SERVER_PREFIX.sub("", line.strip())
        line = re.sub(r"^(FATAL|ERROR):\s+", "", line).strip()
        if line and line not in reasons:
            reasons.append(line)
    return "; ".join(reasons) or "the server refused"


def _connect_hint(detail: str, url: str) -> str:
    """What to do about a refused connection, by libpq's reason."""
    if re.search(r'database "[^"]*" does not exist', detail):
        place, database = host_and_database(url)
        host, colon, port = place.rpartition(":")
        if not (colon and port.isdigit()):
            host, port = place, ""
        # A unix-socket URL names no host: createdb finds the socket as libpq does;
        # an IPv6 address loses the URL's brackets.
        where_flags = ("" if "(socket)" in host else f"-h {host.strip('[]')} ") + (
            f"-p {port} " if port else ""
        )
        return (
            f"create it first (createdb {where_flags}{database}, as a role allowed to), "
            "or check the database name in the URL"
        )
    if "password authentication failed" in detail or "no password supplied" in detail:
        return "check the password: aimem reads it from PGPASSWORD, ~/.pgpass, a service file or the URL"
    return "check the URL, that the server is running, and the password (PGPASSWORD or ~/.pgpass)"


def translate_error(error: Exception, url: str) -> AimemError:
    """A psycopg error as an aimem error naming the host and database."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    first = _scrub(lines[0] if lines else type(error).__name__, url)
    place = where(url)
    if isinstance(error, pg_errors.InsufficientPrivilege):
        return ReadOnlyRepositoryError(f"PostgreSQL refused ({place}): {first}")
    if isinstance(error, (pg_errors.DiskFull, pg_errors.OutOfMemory)):
        return StorageFullError(
            f"PostgreSQL is out of space ({place}): {first}; nothing was changed"
        )
    if isinstance(error, psycopg.OperationalError):
        return AimemError(
            f"lost the connection to PostgreSQL ({place}): {first}; the transaction was rolled "
            "back",
            hint="check that the server is running, then run the command again",
        )
    return AimemError(f"PostgreSQL error ({place}): {first}")


class Cursor:
    """The part of ``sqlite3.Cursor`` the store uses."""

    def __init__(self, owner: Connection, cursor: psycopg.Cursor[Any]) -> None:
        self._owner = owner
        self._cursor = cursor
        self.lastrowid: int | None = None

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    @property
    def description(self) -> Any:
        return self._cursor.description

    def _rows(self) -> bool:
        return self._cursor.description is not None

    def fetchone(self) -> Any:
        if not self._rows():
            return None
        with self._owner.translated():
            return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        if not self._rows():
            return []
        with self._owner.translated():
            return self._cursor.fetchall()

    def fetchmany(self, size: int = 1) -> list[Any]:
        if not self._rows():
            return []
        with self._owner.translated():
            return self._cursor.fetchmany(size)

    def __iter__(self) -> Iterator[Any]:
        while rows := self.fetchmany(500):
            yield from rows

    def close(self) -> None:
        self._cursor.close()


class Connection:
    """A psycopg connection speaking the store's SQLite dialect (see the module doc)."""

    row_factory: Any = None

    def __init__(self, url: str) -> None:
        self.url = url
        # A read snapshot's BEGIN, sent with the first statement that needs it.
        self._pending_begin: str | None = None
        try:
            self._raw = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name=APPLICATION_NAME,
            )
        except psycopg.Error as error:
            detail = _scrub(_connect_detail(str(error)), url)
            raise AimemError(
                f"cannot connect to PostgreSQL ({where(url)}): {detail}",
                hint=_connect_hint(detail, url),
            ) from None
        self._raw.adapters.register_loader("numeric", _NumberLoader)
        row = self._raw.execute("SELECT current_schema()").fetchone()
        self.schema = str(row[0]) if row and row[0] else "public"

    # ---- the sqlite3 surface ---------------------------------------------

    @property
    def raw(self) -> psycopg.Connection[Any]:
        """The psycopg connection, with any read snapshot it owes begun."""
        if self._pending_begin is not None:
            begin, self._pending_begin = self._pending_begin, None
            with self.translated():
                self._raw.execute(begin)
        return self._raw

    @property
    def in_transaction(self) -> bool:
        if self._pending_begin is not None:
            return True
        status = self._raw.info.transaction_status
        return bool(status != psycopg.pq.TransactionStatus.IDLE)

    def translated(self) -> _Translated:
        return _Translated(self.url)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        control = sql.strip().rstrip(";").upper()
        if control in ("BEGIN", "BEGIN IMMEDIATE", "BEGIN DEFERRED", "COMMIT", "ROLLBACK", "END"):
            return self._control(control)
        statement = translate(sql, self.schema)
        returning = statement.lstrip().upper().startswith("INSERT INTO FIX_HISTORY") and (
            "RETURNING" not in statement.upper()
        )
        if returning:
            statement += " RETURNING id"
        with self.translated():
            cursor = self._raw.cursor()
            if self._pending_begin is not None:
                # The snapshot's BEGIN and its first read in one round trip.
                begin, self._pending_begin = self._pending_begin, None
                with self._raw.pipeline():
                    self._raw.execute(begin)
                    cursor.execute(statement, tuple(params) if params is not None else ())
            else:
                cursor.execute(statement, tuple(params) if params is not None else ())
        wrapped = Cursor(self, cursor)
        if returning:
            with self.translated():
                row = cursor.fetchone()
            wrapped.lastrowid = None if row is None else int(row[0])
        return wrapped

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Cursor:
        rows = [tuple(r) for r in seq]
        with self.translated():
            cursor = self.raw.cursor()
            if rows:
                cursor.executemany(translate(sql, self.schema), rows)
        return Cursor(self, cursor)

    def _control(self, control: str) -> Cursor:
        if control.startswith("BEGIN") and control != "BEGIN IMMEDIATE":
            self._pending_begin = "BEGIN ISOLATION LEVEL REPEATABLE READ"
            return Cursor(self, self._raw.cursor())
        if control in ("COMMIT", "END", "ROLLBACK") and self._pending_begin is not None:
            self._pending_begin = None  # nothing was read: nothing to end
            return Cursor(self, self._raw.cursor())
        with self.translated():
            cursor = self.raw.cursor()
            if control == "BEGIN IMMEDIATE":
                cursor.execute("BEGIN")
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            elif control in ("COMMIT", "END"):
                cursor.execute("COMMIT")
            else:
                cursor.execute("ROLLBACK")
        return Cursor(self, cursor)

    def commit(self) -> None:
        if self.in_transaction:
            self._control("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self._control("ROLLBACK")

    def close(self) -> None:
        self._raw.close()


class _Translated:
    """A block whose psycopg errors leave as aimem errors."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if isinstance(error, psycopg.Error):
            raise translate_error(error, self.url) from None
