"""The AimemError hierarchy: every failure a user can cause or fix.

Each error carries a one-line message, an optional hint (a command that helps),
and the exit code the command line uses for it.
"""

from __future__ import annotations

from typing import Any


class AimemError(Exception):
    """Base class of every error aimem raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable with its hint (an error that crosses a process boundary, as
        # multiprocessing sends it, keeps it).
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[AimemError], state: dict[str, Any]) -> AimemError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class NotARepositoryError(AimemError):
    """No aimem repository exists where one was looked for."""


class NotFoundError(AimemError):
    """A named thing (model, segment, record) does not exist in the repository."""


class InvalidInputError(AimemError):
    """Input failed validation; names the field and, for files, where."""

    def __init__(
        self,
        field: str,
        problem: str,
        source: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        # A field name read from the input (a CSV header, a JSON key) may hold a
        # line break or an escape sequence: quoted then, so the message stays one line.
        label = "" if not field else f"{field}: " if field.isprintable() else f"{field!r}: "
        super().__init__(f"{where}{label}{problem}", hint)
        self.field = field
        self.problem = problem
        self.source = source
        self.line = line


class SchemaTooNewError(AimemError):
    """The database was written by a newer aimem; it is left untouched."""


class CorruptRepositoryError(AimemError):
    """A repository file is damaged or unreadable."""


class ReadOnlyRepositoryError(AimemError):
    """The repository cannot be written (permissions or a read-only filesystem)."""


class StorageFullError(AimemError):
    """The disk or a file-size limit refused a write; nothing was changed."""


class BundleError(AimemError):
    """A backup bundle is malformed, unsafe, or fails verification."""


class LockTimeoutError(AimemError):
    """Another process held a repository lock for too long."""


class UnwritableValueError(AimemError):
    """A ``fix_history`` value that JSON and CSV cannot hold (aimem.store.unwritable)."""

    def __init__(self, row_id: Any, column: str, problem: str, remedy: str) -> None:
        super().__init__(
            f"fix_history row {row_id}, column {column}: {problem}; "
            "it cannot be written as JSON or CSV",
            hint=remedy + ", then run the command again",
        )


class KnowledgeFileWarning(UserWarning):
    """Records were stored, but ``knowledge_base.json`` could not be brought up to date."""
