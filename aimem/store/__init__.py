"""The store layer: every SQL statement aimem runs lives under ``aimem.store``.

Learning, context, knowledge and the command line talk to ``Store`` only, so a
second backend (PostgreSQL for CI fleets) can implement the same methods.

``Store`` loads on first use: a light module of the layer (the export
formats, the SQL parameter helpers) must not pay for the whole store.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aimem.store.sqlite_store import Store

__all__ = ["Store"]


def __getattr__(name: str) -> object:
    if name == "Store":
        from aimem.store.sqlite_store import Store

        return Store
    raise AttributeError(f"module 'aimem.store' has no attribute {name!r}")
