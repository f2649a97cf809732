"""Where archive segments' bytes live: one small interface, two places.

``SegmentFiles`` (a repository on SQLite): files in ``AIMemory/archive/``,
named by their content (aimem.ops.archive). A segment is written durably and
verified *before* the transaction that registers it and deletes its rows; the
journal ``aimem_pending`` resolves a crash in between (aimem.ops.maintenance), so
these files need it (``journalled``). One file lock per repository folder
serialises cleanup, thaw and repair.

``SegmentTable`` (a repository on PostgreSQL): a table of the database keyed
by the segment's sha256. Its bytes are inserted in the *same* transaction that
registers the segment and deletes its rows (``Store.commit_segments``), and
deleted in the one that thaws it: a crash leaves either the rows or the
segment, never neither and never both, so no journal is needed. Every runner
that shares the database sees the same segments. The lock is the database's
own (an advisory lock), so it holds across machines.

Both hand out a segment's bytes whole: a segment holds at most
``archive.SEGMENT_MAX_ROWS`` rows, which bounds them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from aimem.errors import CorruptRepositoryError
from aimem.fsutil import TEMP_MARKER, file_lock, fsync_dir
from aimem.paths import DIR_MODE, Layout

ARCHIVE_LOCK_NAME = ".aimem-archive.lock"


class SegmentStorage(Protocol):
    """What cleanup, thaw, check, export and backup need of the segments' bytes."""

    journalled: bool
    """Whether a segment is stored before its commit (then journalled in ``aimem_pending``)."""

    def describe(self, name: str) -> str:
        """Where the segment ``name`` is (for messages)."""
        ...

    def get(self, entry: Mapping[str, Any]) -> bytes | None:
        """A registered segment's bytes (``name``, ``sha256``); None when they are gone.

        CorruptRepositoryError when they exist but cannot be read.
        """
        ...

    def get_unregistered(self, name: str) -> bytes | None:
        """The bytes stored under ``name`` that no index entry names yet (None: none)."""
        ...

    def size(self, entry: Mapping[str, Any]) -> int | None:
        """Stored size of a registered segment (None when it is gone)."""
        ...

    def put(self, name: str, data: bytes) -> bytes:
        """Store a new segment (durably, or staged for its commit); return the bytes
        read back from where they were stored."""
        ...

    def discard(self, name: str) -> None:
        """Forget a segment that was never committed, or whose rows were thawed."""
        ...

    def staged(self) -> dict[str, bytes]:
        """Segments ``put`` but not committed yet (what the commit must store)."""
        ...

    def unregistered(self, registered: set[str]) -> list[str]:
        """Stored segments the index does not name (left by an interrupted step)."""
        ...

    def clear_temps(self, name: str) -> None:
        """Remove half-written copies of ``name``."""
        ...

    def lock(self, shared: bool = False, timeout: float = 60.0) -> AbstractContextManager[None]:
        """Exclude other cleanups, thaws and repairs (``shared``: readers of the segments)."""
        ...


def read(storage: SegmentStorage, entry: Mapping[str, Any]) -> bytes:
    """A registered segment's bytes, or CorruptRepositoryError naming where it is missing."""
    data = storage.get(entry)
    if data is None:
        raise CorruptRepositoryError(
            f"segment {entry['name']} is missing from {storage.describe('')}"
        )
    return data


class SegmentFiles:
    """Segments as files in the repository's ``archive/`` folder."""

    journalled = True

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.folder = layout.archive

    def describe(self, name: str) -> str:
        return str(self.folder / name) if name else str(self.folder)

    def _read(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise CorruptRepositoryError(f"cannot read segment {path}: {error.strerror}") from None

    def get(self, entry: Mapping[str, Any]) -> bytes | None:
        return self._read(self.folder / entry["name"])

    def get_unregistered(self, name: str) -> bytes | None:
        return self._read(self.folder / name)

    def size(self, entry: Mapping[str, Any]) -> int | None:
        try:
            size: int = (self.folder / entry["name"]).stat().st_size
            return size
        except FileNotFoundError:
            return None

    def put(self, name: str, data: bytes) -> bytes:
        from aimem.ops import archive

        # A legacy repository may lack the folder.
        self.folder.mkdir(mode=DIR_MODE, exist_ok=True)
        path = archive.write_durably(self.folder, name, data)
        back = self._read(path)
        return b"" if back is None else back

    def discard(self, name: str) -> None:
        path = self.folder / name
        path.unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            fsync_dir(self.folder)

    def staged(self) -> dict[str, bytes]:
        return {}

    def unregistered(self, registered: set[str]) -> list[str]:
        from aimem.ops.archive import is_segment_name

        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if is_segment_name(n) and n not in registered)

    def clear_temps(self, name: str) -> None:
        for temp in self.folder.glob(f"{TEMP_MARKER}{name}.*"):
            temp.unlink(missing_ok=True)

    def lock(self, shared: bool = False, timeout: float = 60.0) -> AbstractContextManager[None]:
        # released even on kill -9 (flock)
        return file_lock(self.layout.root / ARCHIVE_LOCK_NAME, timeout=timeout, shared=shared)


class SegmentTable:
    """Segments as rows of the database (keyed by sha256), through the store."""

    journalled = False

    def __init__(self, store: Any) -> None:
        self.store = store
        self._staged: dict[str, bytes] = {}

    def describe(self, name: str) -> str:
        where = f"the database {self.store.describe()}"
        return f"{name} in {where}" if name else where

    def get(self, entry: Mapping[str, Any]) -> bytes | None:
        data: bytes | None = self.store.segment_bytes(entry["sha256"])
        return data

    def get_unregistered(self, name: str) -> bytes | None:
        return self._staged.get(name)

    def size(self, entry: Mapping[str, Any]) -> int | None:
        size: int | None = self.store.segment_size(entry["sha256"])
        return size

    def put(self, name: str, data: bytes) -> bytes:
        self._staged[name] = data
        return data

    def discard(self, name: str) -> None:
        self._staged.pop(name, None)

    def staged(self) -> dict[str, bytes]:
        return dict(self._staged)

    def unregistered(self, registered: set[str]) -> list[str]:
        return []  # stored and registered in one transaction: never one without the other

    def clear_temps(self, name: str) -> None:
        return None

    @contextlib.contextmanager
    def _locked(self, shared: bool, timeout: float) -> Iterator[None]:
        with self.store.archive_lock(shared=shared, timeout=timeout):
            yield

    def lock(self, shared: bool = False, timeout: float = 60.0) -> AbstractContextManager[None]:
        return self._locked(shared, timeout)


def segment_storage(store: Any, layout: Layout | None) -> SegmentStorage:
    """Where ``store``'s segments live: its database when the backend keeps them
    there (PostgreSQL), else the ``archive/`` folder of ``layout``."""
    if getattr(store, "segments_in_database", False):
        return SegmentTable(store)
    if layout is None:
        raise CorruptRepositoryError("this repository has no folder for its archive segments")
    return SegmentFiles(layout)
