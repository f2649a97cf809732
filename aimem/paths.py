"""Repository discovery and layout.

A repository is a folder (conventionally named ``AIMemory``) holding
``ai_memory.db``, ``knowledge_base.json`` and ``archive/``. It is found, in order,
from an explicit path, the ``AIMEM_DIR`` environment variable, or the nearest
``AIMemory/`` in the current folder or a parent (as git finds ``.git``).
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


@dataclass(frozen=True)
class Layout:
    """Where each part of one repository lives."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / DATABASE_NAME

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
        return self.database.is_file()


def find_repository(start: Path | None = None) -> Path | None:
    """Return the nearest ``AIMemory/`` holding a database, walking up from ``start``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / REPOSITORY_NAME
        if (candidate / DATABASE_NAME).is_file():
            return candidate
        if folder.name == REPOSITORY_NAME and (folder / DATABASE_NAME).is_file():
            return folder
    return None


def resolve_repository(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Pick the repository folder: explicit, ``AIMEM_DIR``, nearest, else ``./AIMemory``."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser().absolute()
    env = os.environ.get("AIMEM_DIR")
    if env:
        return Path(env).expanduser().absolute()
    found = find_repository()
    if found is not None:
        return found
    return (Path.cwd() / REPOSITORY_NAME).absolute()


def require_existing(root: Path) -> Layout:
    """Return the layout of an existing repository, or raise NotARepositoryError."""
    layout = Layout(root)
    if not layout.exists():
        raise NotARepositoryError(
            "not an aimem repository (no AIMemory/ here or in any parent); run 'aimem init'"
        )
    return layout


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
