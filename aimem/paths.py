"""Repository discovery and layout.

A repository is a folder (conventionally named ``AIMemory``) holding
``ai_memory.db``, ``knowledge_base.json`` and ``archive/``, or, for a
repository on PostgreSQL, ``config.json`` naming the database
(``{"database": "postgresql://user@host/db"}``, never a password). It is found, in order,
from an explicit path (``--dir``), a folder to search from (``-C``), the
``AIMEM_DIR`` environment variable, or the nearest ``AIMemory/`` in the current
folder or a parent (as git finds ``.git``). A named folder may also be the one
that holds ``AIMemory/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aimem.errors import InvalidInputError, NotARepositoryError

REPOSITORY_NAME = "AIMemory"
DATABASE_NAME = "ai_memory.db"
KNOWLEDGE_BASE_NAME = "knowledge_base.json"
ARCHIVE_NAME = "archive"
LOCK_NAME = ".aimem.lock"
DIR_MODE = 0o700
FILE_MODE = 0o600
CONFIG_NAME = "config.json"
ENVIRONMENT_VARIABLE = "AIMEM_DIR"
DATABASE_VARIABLE = "AIMEM_DB"


def configured_database(folder: Path) -> str | None:
    """The database URL ``folder/config.json`` names, if it names one."""
    config = folder / CONFIG_NAME
    try:
        data = config.read_bytes()
    except OSError:
        return None
    import json

    try:
        value = json.loads(data)
    except ValueError as error:
        raise InvalidInputError("", f"invalid JSON: {error}", str(config)) from None
    if not isinstance(value, dict) or not isinstance(value.get("database"), str):
        raise InvalidInputError("database", "must be a database URL", str(config))
    return str(value["database"])


def _holds_repository(folder: Path) -> bool:
    return (folder / DATABASE_NAME).is_file() or (folder / CONFIG_NAME).is_file()


@dataclass(frozen=True)
class Layout:
    """Where each part of one repository lives."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / DATABASE_NAME

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    def database_url(self) -> str | None:
        """The PostgreSQL URL of ``config.json``; None for a repository on SQLite."""
        return configured_database(self.root)

    @property
    def knowledge_base(self) -> Path:
        return self.root / KNOWLEDGE_BASE_NAME

    @property
    def archive(self) -> Path:
        return self.root / ARCHIVE_NAME

    @property
    def lock(self) -> Path:
        return self.root / LOCK_NAME

    def exists(self) -> bool:
        return _holds_repository(self.root)


def repository_in(folder: Path) -> Path | None:
    """``folder`` if it holds a database, else its ``AIMemory/`` if that does."""
    if _holds_repository(folder):
        return folder
    inner = folder / REPOSITORY_NAME
    if _holds_repository(inner):
        return inner
    return None


def repository_to_create(folder: Path) -> Path:
    """Where ``aimem init FOLDER`` puts the repository: the one already in
    ``folder``; else ``folder`` itself when it is named ``AIMemory``; else
    ``folder/AIMemory``. Never a database directly in a folder of another
    name, which the search from the parent would not find."""
    existing = repository_in(folder)
    if existing is not None:
        return existing
    return folder if folder.name == REPOSITORY_NAME else folder / REPOSITORY_NAME


def find_repository(start: Path | None = None) -> Path | None:
    """Return the nearest ``AIMemory/`` holding a database, walking up from ``start``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / REPOSITORY_NAME
        if _holds_repository(candidate):
            return candidate
        if folder.name == REPOSITORY_NAME and _holds_repository(folder):
            return folder
    return None


@dataclass(frozen=True)
class Location:
    """Where to look for the repository, and which setting said so.

    ``setting`` is how errors name it: ``--dir``, ``AIMEM_DIR`` or ``-C`` on the
    command line, ``""`` for a path given to the Python API or the current folder.
    A named folder (``--dir``, ``AIMEM_DIR``, a path) is the repository or holds
    it as ``AIMemory/``; a searched folder (``-C``, the current folder) is the
    start of a walk up to the nearest ``AIMemory/``, as git finds ``.git``.
    """

    folder: Path
    setting: str = ""
    searched: bool = False

    def describe(self) -> str:
        if self.setting == ENVIRONMENT_VARIABLE:
            return f"{ENVIRONMENT_VARIABLE}={self.folder}"
        if self.setting:
            return f"{self.setting} {self.folder}"
        return str(self.folder)

    def naming(self, folder: Path) -> str:
        """The same setting pointing at ``folder`` (for a hint)."""
        if self.setting == ENVIRONMENT_VARIABLE:
            return f"{ENVIRONMENT_VARIABLE}={folder}"
        if self.setting and not self.searched:
            return f"{self.setting} {folder}"
        return str(folder)

    def find(self) -> Path | None:
        """The repository this location means, if it exists."""
        if self.searched:
            return find_repository(self.folder)
        return repository_in(self.folder)

    def to_create(self) -> Path:
        """Where a new repository goes: the one already there, else a folder named
        ``AIMemory`` (a searched folder's child; a named folder itself when so
        named, else its child), so that discovery from its parent finds it.
        A path given to the Python API is taken as the repository folder itself."""
        if self.searched:
            return self.folder / REPOSITORY_NAME
        if not self.setting:
            return repository_in(self.folder) or self.folder
        return repository_to_create(self.folder)

    def require(self) -> Layout:
        """The layout of the existing repository, or NotARepositoryError naming the setting."""
        found = self.find()
        if found is not None:
            return Layout(found)
        raise self._missing()

    def _missing(self) -> NotARepositoryError:
        where = self.describe()
        if self.searched:
            prefix = f": {where}" if self.setting else ""
            init = f"aimem {where} init" if self.setting else "aimem init"
            return NotARepositoryError(
                f"not an aimem repository{prefix} (no {REPOSITORY_NAME}/ in {self.folder} "
                "or any parent)",
                hint=f"run '{init}' to create {self.folder / REPOSITORY_NAME}, "
                "or name one with --dir DIR",
            )
        folder = self.folder
        if not folder.exists():
            why = "no such folder"
        elif not folder.is_dir():
            why = "a file, not a folder"
        else:
            why = f"no {DATABASE_NAME} in it or in its {REPOSITORY_NAME}/"
        nearest = next((part for part in (folder, *folder.parents) if part.is_dir()), None)
        found = find_repository(nearest) if nearest is not None else None
        if found is not None:
            hint = f"did you mean {self.naming(found)}?"
        elif self.setting == ENVIRONMENT_VARIABLE:
            hint = f"run 'aimem init' to create {self.to_create()}, or unset {self.setting}"
        elif self.setting:
            hint = f"run 'aimem {where} init' to create {self.to_create()}"
        else:
            hint = "run 'aimem init' to create one"
        return NotARepositoryError(f"not an aimem repository: {where} ({why})", hint=hint)


def _absolute(folder: str | os.PathLike[str]) -> Path:
    return Path(folder).expanduser().absolute()


def locate(
    directory: str | os.PathLike[str] | None = None,
    *,
    start: str | os.PathLike[str] | None = None,
    command_line: bool = False,
) -> Location:
    """Which setting decides where the repository is.

    In order: ``directory`` (``--dir``), ``start`` (``-C``: search from there),
    ``$AIMEM_DIR``, else search from the current folder. A setting given on the
    command line beats the environment. ``command_line`` names the first two
    ``--dir`` and ``-C`` in errors.
    """
    if directory is not None and str(directory) != "":
        return Location(_absolute(directory), "--dir" if command_line else "")
    if start is not None and str(start) != "":
        return Location(_absolute(start), "-C" if command_line else "", searched=True)
    env = os.environ.get(ENVIRONMENT_VARIABLE)
    if env:
        return Location(_absolute(env), ENVIRONMENT_VARIABLE)
    return Location(Path.cwd().absolute(), searched=True)


def resolve_repository(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Pick the repository folder: explicit, ``AIMEM_DIR``, nearest, else where
    ``aimem init`` would create it (``Location.to_create``)."""
    location = locate(explicit)
    return location.find() or location.to_create()


def require_existing(root: Path) -> Layout:
    """Return the layout of an existing repository, or raise NotARepositoryError."""
    return Location(root).require()


def create_layout(root: Path) -> Layout:
    """Create the repository folders with private permissions (0700)."""
    layout = Layout(root)
    for part in (root, *root.parents):  # init FILE/x: say which part is not a folder
        if part.exists():
            if not part.is_dir():
                raise InvalidInputError("", "is a file, not a folder", str(part))
            break
    for folder in (layout.root, layout.archive):
        folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(folder, DIR_MODE)
    return layout
