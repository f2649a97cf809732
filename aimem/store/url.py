"""Database URLs: which ones name PostgreSQL, and how to show one without its password.

Every place that prints, logs or stores a URL goes through ``display_url`` so
that a password given in the URL (``postgresql://user:secret@host/db`` or
``?password=secret``) never leaves the process.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
# libpq query parameters that carry a secret
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def is_database_url(text: object) -> bool:
    """Whether ``text`` is a PostgreSQL URL (``postgresql://`` or ``postgres://``)."""
    if not isinstance(text, str):
        return False
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def display_url(url: str) -> str:
    """``url`` without any password (in the user part or the query); safe to show and store."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://(unreadable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        user, _, hosts = netloc.rpartition("@")
        user = user.split(":", 1)[0]
        netloc = f"{user}@{hosts}" if user else hosts
    query = parts.query
    if query:
        pairs = [
            (key, value)
            for key, value in parse_qsl(query, keep_blank_values=True)
            if key.lower() not in _SECRET_PARAMETERS
        ]
        query = urlencode(pairs, quote_via=quote, safe="/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def has_password(url: str) -> bool:
    """Whether ``url`` carries a password of its own."""
    return display_url(url) != url


def host_and_database(url: str) -> tuple[str, str]:
    """(host[:port], database name) of ``url`` for messages; libpq's defaults when absent."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "?", "?"
    query = dict(parse_qsl(parts.query))
    host = parts.netloc.rpartition("@")[2] or query.get("host", "") or "localhost (socket)"
    database = unquote(parts.path.lstrip("/")) or query.get("dbname", "")
    if not database:
        user = parts.netloc.rpartition("@")[0].split(":", 1)[0]
        database = unquote(user) or "(default)"
    return host, database
