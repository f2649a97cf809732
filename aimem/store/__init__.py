"""The store layer: every SQL statement aimem runs lives under ``aimem.store``.

Learning, context, knowledge and the command line talk to ``Store`` only, so a
second backend (PostgreSQL for CI fleets) can implement the same methods.
"""

from aimem.store.sqlite_store import Store

__all__ = ["Store"]
