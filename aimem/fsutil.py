"""Durable file operations: atomic replacement and an inter-process lock.

``atomic_write`` follows restic's local backend: temp file in the same folder,
write, fsync, rename over the target, fsync the folder. A reader sees the old
file or the new one, never a mix, and a crash leaves at most a temp file that
``aimem check`` reports and ``check --repair`` removes.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from aimem.errors import LockTimeoutError, ReadOnlyRepositoryError, StorageFullError

TEMP_MARKER = ".aimem-tmp-"
WRITE_BUFFER = 1 << 20


def temp_path_for(target: Path) -> Path:
    """A unique temp name beside ``target`` that names it (so check can find leftovers)."""
    return target.with_name(f"{TEMP_MARKER}{target.name}.{os.getpid()}.{time.monotonic_ns()}")


def fsync_dir(folder: Path) -> None:
    """Make a rename or creation inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def translate_os_error(error: OSError, what: Path) -> Exception:
    """Turn disk-full and permission errors into aimem errors naming the file."""
    if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return StorageFullError(f"no space to write {what}: {error.strerror}")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ReadOnlyRepositoryError(f"cannot write {what}: {error.strerror}")
    return error


def atomic_write(target: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``target`` with ``data`` durably; the old content survives any failure."""
    temp = temp_path_for(target)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if temp.stat().st_size != len(data):
            raise OSError(errno.EIO, "short write", str(temp))
        os.replace(temp, target)
        fsync_dir(target.parent)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise translate_os_error(error, target) from error


@contextmanager
def file_lock(path: Path, timeout: float = 30.0, shared: bool = False) -> Iterator[None]:
    """Hold an advisory ``flock`` on ``path`` (created 0600) for the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, operation)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeoutError(
                        f"timed out after {timeout:.0f}s waiting for the lock {path}",
                        hint="another aimem process is busy; retry when it has finished",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def atomic_output(target: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """A binary file that replaces ``target`` atomically when the block succeeds.

    Written to a temp file beside ``target``, fsynced, renamed over it, folder
    fsynced; on any error the temp file is removed and ``target`` is untouched.
    """
    temp = temp_path_for(target)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as error:
        raise translate_os_error(error, target) from error
    try:
        with os.fdopen(fd, "wb", buffering=WRITE_BUFFER) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        fsync_dir(target.parent if str(target.parent) else Path("."))
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise translate_os_error(error, target) from error
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
