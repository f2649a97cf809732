"""The repository handle stored in ``ctx.obj``: opened lazily, once, closed at exit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from aimem.memory import AIMemory


class RepoHandle:
    """Knows which repository the command line means; opens it on first use."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: AIMemory | None = None

    def open(self, create: bool = False) -> AIMemory:
        if self._memory is None:
            from aimem.memory import AIMemory

            self._memory = AIMemory(self.directory, create=create)
        return self._memory

    def close(self) -> None:
        if self._memory is not None:
            memory, self._memory = self._memory, None
            memory.close()


def repo(ctx: typer.Context, create: bool = False) -> AIMemory:
    """The repository of this invocation (NotARepositoryError when there is none)."""
    root = ctx.find_root()
    handle = root.obj
    if not isinstance(handle, RepoHandle):
        handle = RepoHandle(None)
        root.obj = handle
        root.call_on_close(handle.close)
    return handle.open(create=create)
