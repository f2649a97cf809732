"""Durable file operations: atomic replacement and an inter-process lock.

``atomic_write`` follows restic's local backend: temp file in the same folder,
write, fsync, rename over the target, fsync the folder. A reader sees the old
file or the new one, never a mix, and a crash leaves at most a temp file that
``aimem check`` reports and ``check --repair`` removes (inside a repository),
and that the next write into the same folder removes (anywhere).

What a destination is decides how it is written: a regular file (or a
symbolic link to one: the file it names) is replaced atomically; a device,
pipe or other special file is written into as it is (``/dev/null``, a FIFO a
reader waits on), never replaced; a folder is refused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from aimem.errors import (
    InvalidInputError,
    LockTimeoutError,
    ReadOnlyRepositoryError,
    StorageFullError,
)

TEMP_MARKER = ".aimem-tmp-"
WRITE_BUFFER = 1 << 20


def temp_path_for(target: Path) -> Path:
    """A unique temp name beside ``target`` that names it (so check can find leftovers)."""
    return target.with_name(f"{TEMP_MARKER}{target.name}.{os.getpid()}.{time.monotonic_ns()}")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def writer_pid(name: str) -> int | None:
    """The writer's pid in a temp name (``<prefix>.<pid>.<ns>``), or None."""
    parts = name.split(".")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


def stale_temps(folder: Path, prefix: str = TEMP_MARKER, own: bool = False) -> list[Path]:
    """Temp files and folders in ``folder`` whose writer is no longer running
    (with ``own``, this process's too)."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    found = []
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = writer_pid(name)
        if pid == os.getpid():
            if not own:
                continue  # this process's own, maybe still being written
        elif pid is not None and pid_alive(pid):
            continue
        found.append(folder / name)
    return sorted(found)


def remove_temp(path: Path) -> None:
    """Remove a temp file or folder (never following a link)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_stale(folder: Path, prefix: str = TEMP_MARKER) -> list[Path]:
    """Remove what interrupted writes (killed, say) left in ``folder``; return it."""
    found = stale_temps(folder, prefix)
    for path in found:
        with contextlib.suppress(OSError):
            remove_temp(path)
    return found


def destination(target: Path) -> tuple[Path, bool]:
    """Where writing ``target`` goes: (path, True) for a special file written into,
    (path, False) for a file replaced atomically (a link's own file when it is one).

    Raises InvalidInputError for a folder.
    """
    try:
        status = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        return target, False
    except OSError:
        return target, False  # the write itself will say why
    if stat.S_ISDIR(status.st_mode):
        raise InvalidInputError("", "is a folder, not a file", str(target))
    if not stat.S_ISREG(status.st_mode):
        return target, True
    if target.is_symlink():
        return Path(os.path.realpath(target)), False
    return target, False


def _parent(target: Path) -> Path:
    return target.parent if str(target.parent) else Path(".")


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


def atomic_write(
    target: Path, data: bytes, mode: int = 0o600, *, into_special: bool = True
) -> None:
    """Replace ``target`` with ``data`` durably; the old content survives any failure.

    A special file is written into (see the module's docstring). With
    ``into_special`` False (aimem's own files in the repository) the path
    itself is replaced, whatever stands there: a link planted in its place
    is not followed.
    """
    if into_special:
        target, special = destination(target)
        if special:
            _write_into(target, lambda handle: handle.write(data))
            return
    remove_stale(_parent(target))
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


def _sync_output(handle: BinaryIO) -> None:
    """Flush a finished output and fsync it, before it is renamed into place."""
    handle.flush()
    os.fsync(handle.fileno())


def _write_into(target: Path, write: Any) -> None:
    """Write into a special file as it is (no temp file, no rename, no fsync)."""
    try:
        with open(target, "wb", buffering=WRITE_BUFFER) as handle:
            write(handle)
    except OSError as error:
        raise translate_os_error(error, target) from error


@contextmanager
def _special_output(target: Path) -> Iterator[BinaryIO]:
    try:
        handle = open(target, "wb", buffering=WRITE_BUFFER)  # noqa: SIM115 (closed below)
    except OSError as error:
        raise translate_os_error(error, target) from error
    try:
        with handle:
            yield handle
    except OSError as error:
        raise translate_os_error(error, target) from error


@contextmanager
def atomic_output(target: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """A binary file that replaces ``target`` atomically when the block succeeds.

    Written to a temp file beside ``target``, fsynced, renamed over it, folder
    fsynced; on any error the temp file is removed and ``target`` is untouched.
    A special file (a device, a pipe) is written into instead; a folder is
    refused.
    """
    target, special = destination(target)
    if special:
        with _special_output(target) as handle:
            yield handle
        return
    remove_stale(_parent(target))
    temp = temp_path_for(target)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as error:
        raise translate_os_error(error, target) from error
    try:
        with open(fd, "wb", buffering=WRITE_BUFFER) as handle:
            yield handle
            _sync_output(handle)
        os.replace(temp, target)
        fsync_dir(_parent(target))
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise translate_os_error(error, target) from error
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def stdin_bytes() -> BinaryIO:
    """Standard input as bytes; a closed one (``<&-``) is a one-line error, not a crash."""
    stream = sys.stdin
    if stream is None or getattr(stream, "closed", False):
        raise InvalidInputError(
            "", "standard input is closed", "<stdin>", hint="pipe the input in, or name a file"
        )
    return stream.buffer
