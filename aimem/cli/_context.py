"""The repository handle stored in ``ctx.obj``: opened lazily, once, closed at exit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    from aimem.memory import AIMemory
    from aimem.paths import Location


class RepoHandle:
    """Knows which repository the command line means; opens it on first use.

    ``directory`` is ``--dir`` and ``start`` is ``-C`` (the folder the command
    runs in), both absolute; errors name whichever decided.
    """

    def __init__(
        self, directory: Path | None, start: Path | None = None, database: str | None = None
    ) -> None:
        self.directory = directory
        self.start = start
        self._database = database
        self._memory: AIMemory | None = None

    @property
    def database(self) -> str | None:
        """``--db``, else ``$AIMEM_DB``: a PostgreSQL URL that overrides config.json."""
        import os

        from aimem.paths import DATABASE_VARIABLE

        return self._database or os.environ.get(DATABASE_VARIABLE) or None

    def location(self) -> Location:
        from aimem.paths import locate

        return locate(self.directory, start=self.start, command_line=True)

    def open(self, create: bool = False) -> AIMemory:
        if self._memory is None:
            from aimem.memory import AIMemory

            location = self.location()
            if self.database is not None:
                _say_the_folder_is_left_unread(location, self.database)
            self._memory = AIMemory(location, create=create, db=self.database)
        return self._memory

    def close(self) -> None:
        if self._memory is not None:
            memory, self._memory = self._memory, None
            memory.close()


def _say_the_folder_is_left_unread(location: Location, database: str) -> None:
    """Warn when a database URL wins over the SQLite history of the folder found
    (``AIMEM_DB`` exported for a fleet, then a command run in a laptop's repository)."""
    from aimem.cli._output import warning
    from aimem.paths import Layout
    from aimem.store.url import display_url

    found = location.find()
    if found is not None and Layout(found).database.exists():
        warning(
            f"{display_url(database)} is used, not the SQLite history in {found} "
            "(that database comes from --db or $AIMEM_DB)"
        )


def handle_of(ctx: typer.Context) -> RepoHandle:
    """The invocation's handle (a bare one when the root callback did not run)."""
    root = ctx.find_root()
    handle = root.obj
    if not isinstance(handle, RepoHandle):
        handle = RepoHandle(None)
        root.obj = handle
        root.call_on_close(handle.close)
    return handle


def repo(ctx: typer.Context, create: bool = False) -> AIMemory:
    """The repository of this invocation (NotARepositoryError when there is none)."""
    return handle_of(ctx).open(create=create)
