"""The store layer: every SQL statement aimem runs lives under ``aimem.store``.

Learning, context, knowledge and the command line talk to a store only
through its named operations (``aimem.store.interface.StoreOps``).
``open_store`` picks the backend: a PostgreSQL URL opens
``aimem.store.postgres``, a path opens the SQLite file.

``Store`` loads on first use: a light module of the layer (the export
formats, the SQL parameter helpers) must not pay for the whole store, and
psycopg is imported only when a PostgreSQL URL is opened.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aimem.store.interface import StoreOps as Store

__all__ = ["MISSING_DRIVER", "Store", "open_store"]

MISSING_DRIVER = "PostgreSQL support is not installed: pip install 'aimem[postgres]'"


def open_store(location: str | os.PathLike[str], *, readonly: bool = False) -> Store:
    """The store at ``location``: a PostgreSQL URL or the path of a SQLite file."""
    from aimem.store.url import is_database_url

    if is_database_url(location):
        url = str(location)
        try:
            import psycopg  # noqa: F401
        except ImportError:
            from aimem.errors import AimemError

            raise AimemError(MISSING_DRIVER) from None
        from aimem.store.postgres.store import PostgresStore

        return PostgresStore(url, readonly=readonly)
    from pathlib import Path

    from aimem.store.sqlite.store import Store

    return Store(Path(location), readonly=readonly)


def __getattr__(name: str) -> object:
    if name == "Store":
        from aimem.store.interface import StoreOps

        return StoreOps
    raise AttributeError(f"module 'aimem.store' has no attribute {name!r}")
