"""aimem: the memory and learning system of an AI auto-fix framework.

The public API is ``AIMemory`` plus the error classes. Importing this package is
cheap: the heavy modules load on first use, so ``aimem --version`` stays fast.
"""

from __future__ import annotations

from aimem._version import __version__

# Not ``typing.TYPE_CHECKING``: importing typing costs milliseconds on every
# ``aimem --version`` and completion request; type checkers know this name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from aimem.errors import (
        AimemError,
        BundleError,
        CorruptRepositoryError,
        InvalidInputError,
        KnowledgeFileWarning,
        LockTimeoutError,
        NotARepositoryError,
        NotFoundError,
        SchemaTooNewError,
    )
    from aimem.memory import AIMemory

__all__ = [
    "AIMemory",
    "AimemError",
    "BundleError",
    "CorruptRepositoryError",
    "InvalidInputError",
    "KnowledgeFileWarning",
    "LockTimeoutError",
    "NotARepositoryError",
    "NotFoundError",
    "SchemaTooNewError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "AIMemory":
        from aimem.memory import AIMemory

        return AIMemory
    if name in __all__:
        from aimem import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'aimem' has no attribute {name!r}")
