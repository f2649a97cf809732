"""Backup bundles: create, verify, restore.

A bundle is one uncompressed tar file (mode 0600) whose members are, in order:

- ``manifest.json``: format and version (checked before anything else is
  read), aimem version, schema version, record counts, and for every other
  member its restored path, compression, size and sha256 (of the content after
  decompression) and stored size;
- ``ai_memory.db.zst``: a consistent snapshot (SQLite online backup API, one
  read transaction, taken while other processes keep writing), zstd-compressed;
- ``knowledge_base.json``: rendered from that same snapshot, so the bundle is
  self-consistent;
- ``archive/<segment>``: every archive segment the snapshot's segment index
  names (already compressed; stored as is), copied under the shared archive
  lock taken before the snapshot, so no cleanup or thaw retires one meanwhile.

Verification checks every checksum and decompresses every member, the
database first: ``PRAGMA integrity_check`` (its first finding, in one line),
then its schema against a blank database migrated to the same version
(``sqlite_master`` compared: no foreign trigger, view or index is ever
installed), then the counts of the manifest. Archive members must be the
segments of that database's own index, with the same sha256; each is read as
it streams, its rows capped (archive.MAX_ROW_BYTES) and its decompression
stopped at the header's size. Nothing is inflated past its declared size, the
database's first block must be a SQLite header, and the database's scratch
copy is written only where there is room for it. Findings are data
(``<kind> <subject>: <detail>`` lines, one per refused member).

Restore refuses hostile bundles (absolute paths, ``..``, links, members that
are not regular files, unknown members, sizes beyond the manifest, more data
than free space) from the tar index alone, and a target that is a symbolic
link, before writing anything. It then unpacks into a staging folder beside
the target, verifying every byte as it is written (the checks above), and
swaps it in atomically (``renameat2(RENAME_EXCHANGE)`` where the kernel has
it, else rename the old repository aside, rename staging in, fsync, and only
then remove the old one). Staging left by a killed restore is removed by the
next one. A repository id names each repository's bundles; a restored
repository keeps it only where it replaces the repository of that id.

Retention (restic's ``forget`` rules, combined: kept by any rule is kept)
runs only after the new bundle verified, and only removes a bundle whose
name and own manifest both carry this repository's id. Without a
destination, nothing is written: ``$AIMEM_BACKUP_DIR`` or the folder stored
by ``set_backup_destination`` must name an existing folder, never the
current one by default.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from aimem._version import __version__
from aimem.errors import BundleError
from aimem.fsutil import (
    TEMP_MARKER,
    atomic_output,
    destination,
    fsync_dir,
    remove_stale,
    translate_os_error,
)
from aimem.ops import archive
from aimem.ops.archive import is_segment_name
from aimem.ops.segment_storage import SegmentFiles, SegmentStorage, segment_storage
from aimem.paths import (
    ARCHIVE_NAME,
    DATABASE_NAME,
    DIR_MODE,
    FILE_MODE,
    KNOWLEDGE_BASE_NAME,
    Layout,
)
from aimem.store import snapshot
from aimem.store.connection import read_file_meta
from aimem.timeutil import now_iso, utcnow

if TYPE_CHECKING:
    from aimem.store import Store


class Repository(Protocol):
    """What a bundle is made from (``AIMemory`` is one): the open store and its folders."""

    @property
    def store(self) -> Store: ...

    @property
    def layout(self) -> Layout | None: ...

    @property
    def memory_dir(self) -> Path | str: ...


FORMAT = "aimem-bundle"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MANIFEST_LIMIT = 16 * 1024 * 1024
DB_MEMBER = DATABASE_NAME + ".zst"
# Level 1: measured fastest here (level 3 compresses 139 MB -> 31 MB at a third of
# the speed). Two compression threads (zstd's own; the sha256 runs meanwhile in this
# one): 0.75 -> 0.6 CPU-s for 145 MB, less wall. Restore reads any level.
ZSTD_LEVEL = 1
ZSTD_THREADS = 2
CHUNK = 1 << 20
BUNDLE_SUFFIX = ".tar"
SQLITE_MAGIC = b"SQLite format 3\x00"
# Room left free when checking or restoring (the file system's own needs).
SPACE_MARGIN = 16 << 20
_SEGMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$")
_STAMP = "%Y%m%dT%H%M%S"
Progress = Callable[[str], None]


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _compress_file(source: Path, dest: Path) -> tuple[str, int, int]:
    """zstd-compress ``source`` into ``dest``; return (sha256 of source, size, stored size)."""
    import zstandard

    digest = hashlib.sha256()
    size = 0
    threads = min(ZSTD_THREADS, os.cpu_count() or 1)
    compressor = zstandard.ZstdCompressor(
        level=ZSTD_LEVEL, write_checksum=True, threads=threads if threads > 1 else 0
    )
    with source.open("rb") as reader, dest.open("wb") as raw:
        with compressor.stream_writer(raw, closefd=False) as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                writer.write(chunk)
        raw.flush()
    return digest.hexdigest(), size, dest.stat().st_size


def repository_id(memory: Repository) -> str:
    """A stable id of this repository (created on first use), naming its bundles.

    The id is bound to the repository's folder: a copy of the database in
    another folder (copied by hand, or restored from a bundle) gets an id of
    its own on its first backup, so ``--keep`` of one never prunes the other's
    bundles. A repository moved by hand starts a new series the same way.
    """
    existing = memory.store.get_meta("repository_id")
    bound = memory.store.get_meta("repository_path")
    here = _home(memory)
    if existing and re.fullmatch(r"[0-9a-f]{12}", existing):
        if bound == here:
            return existing
        if bound is None:  # written before ids were bound to a folder
            memory.store.set_meta("repository_path", here)
            return existing
    new = os.urandom(6).hex()
    memory.store.set_meta("repository_id", new)
    memory.store.set_meta("repository_path", here)
    return memory.store.get_meta("repository_id") or new


def _layout_of(memory: Repository) -> Layout | None:
    """The repository's folder, None for a database named without one."""
    from aimem.errors import AimemError

    try:
        return memory.layout
    except AimemError:
        return None


def _home(memory: Repository) -> str:
    """What a repository id is bound to: the database a server holds (every runner
    shares its id), else the folder, whatever link leads to it."""
    home = getattr(memory.store, "repository_home", None)
    if callable(home):
        return str(home())
    return str(Path(memory.memory_dir).resolve())


def _bundle_pattern(repo_id: str) -> re.Pattern[str]:
    return re.compile(rf"^aimem-{re.escape(repo_id)}-\d{{8}}T\d{{6}}\.\d{{6}}Z\.tar$")


def manifest_summary(manifest: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """The manifest without its member list (what ``backup --json`` prints)."""
    summary: dict[str, Any] = {}
    if path is not None:
        summary["bundle"] = str(path)
        with contextlib.suppress(OSError):
            summary["bundle_size"] = path.stat().st_size
    for key in (
        "format",
        "format_version",
        "aimem_version",
        "schema_version",
        "created_at",
        "repository_id",
        "counts",
    ):
        summary[key] = manifest.get(key)
    summary["members"] = len(manifest.get("members", []))
    return summary


# ---- create ---------------------------------------------------------------------


def create_bundle(
    memory: Repository, dest: Path | None = None, keep: int | Retention | None = None
) -> dict[str, Any]:
    """Write one bundle of ``memory`` into ``dest`` (a folder, or the bundle's path).

    ``dest`` None means the configured destination (``backup_destination``);
    with none configured, BundleError: a bundle is never written into the
    current folder by default. With ``keep`` (a count, as ``--keep-last``, or
    a Retention), after the new bundle is written and verified, older bundles
    of this repository in that folder that no rule keeps are removed.
    Returns the manifest summary (with ``bundle``, its path, and ``removed``).
    """
    from aimem.ops.maintenance import archive_lock

    retention = Retention.of(keep)
    if dest is None:
        dest = _configured_folder(memory, None)
        if dest is None:
            raise BundleError(NO_DESTINATION, hint=DESTINATION_HINT)
    dest = Path(dest)
    repo_id = repository_id(memory)
    stamp = utcnow()
    name = f"aimem-{repo_id}-{stamp.strftime(_STAMP)}.{stamp.microsecond:06d}Z{BUNDLE_SUFFIX}"
    if dest.is_dir():
        target = dest / name
        scratch = dest
    else:
        if retention is not None:
            raise BundleError(f"retention needs DEST to be a folder; {dest} is not one")
        if not dest.parent.is_dir():
            raise BundleError(f"cannot write {dest}: folder {dest.parent} does not exist")
        target, special = destination(dest)
        # A device or a pipe is written into; the scratch copy then lives in
        # the repository (check reports it if a kill leaves it there).
        # (or, for a database without a folder, in the temporary folder).
        home = memory.memory_dir
        folder = home if isinstance(home, Path) else Path(tempfile.gettempdir())
        scratch = folder if special else target.parent
    remove_stale(scratch)
    work = scratch / f"{TEMP_MARKER}backup.{os.getpid()}.{time.monotonic_ns()}"
    try:
        work.mkdir(mode=DIR_MODE)
    except OSError as error:
        raise translate_os_error(error, work) from error
    try:
        # Shared archive lock from the snapshot until every segment it names
        # is copied: a cleanup or thaw (exclusive) cannot retire one meanwhile.
        with archive_lock(memory.store, _layout_of(memory), shared=True):
            manifest = _write_bundle(memory, repo_id, work, target)
    except OSError as error:
        raise _write_error(error, target) from error
    finally:
        shutil.rmtree(work, ignore_errors=True)
    removed: list[str] = []
    if retention is not None:
        report = verify_bundle(target)
        if not report["ok"]:
            raise BundleError(
                f"the new bundle {target} failed verification ({report['problems'][0]}); "
                "no older bundle was removed"
            )
        plan = plan_retention(target.parent, repo_id, retention)
        removed = _remove(target.parent, repo_id, plan, target)
    summary = manifest_summary(manifest, target)
    summary["removed"] = removed
    return summary


def _write_bundle(memory: Repository, repo_id: str, work: Path, target: Path) -> dict[str, Any]:
    """Snapshot, render, compress into ``work``; write the bundle to ``target``."""
    from aimem.learn.knowledge import render
    from aimem.store.sqlite import Store

    raw_db = work / DATABASE_NAME
    memory.store.snapshot_to(raw_db, target)
    # The knowledge base file, rendered from the snapshot itself.
    snap = Store(raw_db)
    try:
        snap.scratch_copy()  # the bundle is fsynced, not the copy
        kb_data = orjson.dumps(render(snap), option=orjson.OPT_INDENT_2) + b"\n"
        kb_meta = {
            "generation": snap.generation(),
            "sha256": hashlib.sha256(kb_data).hexdigest(),
            "size": len(kb_data),
        }
        snap.set_meta("kb_file", orjson.dumps(kb_meta).decode())
        snap.single_file()
        schema_version = snap.schema_version()
    finally:
        snap.close()
    # Counts and segment list of the snapshot itself (integrity_check is
    # verify's job: it runs on the bundle's own copy, and before --keep prunes).
    info = snapshot.describe_database(raw_db)
    kb_path = work / KNOWLEDGE_BASE_NAME
    kb_path.write_bytes(kb_data)
    zst = work / DB_MEMBER
    db_sha, db_size, db_stored = _compress_file(raw_db, zst)
    members: list[dict[str, Any]] = [
        {
            "name": DB_MEMBER,
            "path": DATABASE_NAME,
            "compression": "zstd",
            "size": db_size,
            "sha256": db_sha,
            "stored_size": db_stored,
        },
        {
            "name": KNOWLEDGE_BASE_NAME,
            "path": KNOWLEDGE_BASE_NAME,
            "compression": "none",
            "size": len(kb_data),
            "sha256": kb_meta["sha256"],
            "stored_size": len(kb_data),
        },
    ]
    files: dict[str, Path] = {DB_MEMBER: zst, KNOWLEDGE_BASE_NAME: kb_path}
    storage = segment_storage(memory.store, _layout_of(memory))
    for segment, sha in sorted(info["segments"]):
        if not _SEGMENT_NAME.match(segment):
            continue
        source = _segment_source(storage, segment, sha, work)
        seg_sha, seg_size = _hash_file(source)
        member = f"{ARCHIVE_NAME}/{segment}"
        members.append(
            {
                "name": member,
                "path": member,
                "compression": "none",
                "size": seg_size,
                "sha256": seg_sha,
                "stored_size": seg_size,
            }
        )
        files[member] = source
    os.unlink(raw_db)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "aimem_version": __version__,
        "schema_version": schema_version,
        "created_at": now_iso(),
        "repository_id": repo_id,
        "source": str(memory.memory_dir),
        "counts": info["counts"],
        "members": members,
    }
    _write_tar(target, manifest, files)
    return manifest


def _segment_source(storage: SegmentStorage, name: str, sha256: str, work: Path) -> Path:
    """A file holding segment ``name``: its own file, or a scratch copy of its bytes
    taken from the database."""
    if isinstance(storage, SegmentFiles):
        path = storage.folder / name
        if not path.is_file():
            raise BundleError(f"archive segment {name} is indexed but missing")
        return path
    data = storage.get({"name": name, "sha256": sha256})
    if data is None:
        raise BundleError(f"archive segment {name} is indexed but missing")
    copy = work / name
    copy.write_bytes(data)
    return copy


def _write_error(error: OSError, target: Path) -> Exception:
    translated = translate_os_error(error, target)
    if isinstance(translated, OSError):
        return BundleError(f"cannot write {target}: {_line(error)}")
    return translated


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = FILE_MODE
    info.mtime = int(time.time())
    info.type = tarfile.REGTYPE
    return info


def _write_tar(target: Path, manifest: dict[str, Any], files: dict[str, Path]) -> None:
    manifest_bytes = orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"
    with (
        atomic_output(target, FILE_MODE) as raw,
        tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(_tarinfo(MANIFEST_NAME, len(manifest_bytes)), io.BytesIO(manifest_bytes))
        for entry in manifest["members"]:
            with files[entry["name"]].open("rb") as handle:
                tar.addfile(_tarinfo(entry["name"], entry["stored_size"]), handle)


def _remove(folder: Path, repo_id: str, plan: list[dict[str, Any]], newest: Path) -> list[str]:
    """Remove the bundles ``plan`` does not keep (never ``newest``); their paths."""
    removed = []
    for entry in plan:
        old = folder / entry["name"]
        if entry["keep"] or old == newest:
            continue
        # The name said so; its own manifest must agree (a renamed or foreign
        # file is never removed).
        if _manifest_repository(old) != repo_id:
            continue
        old.unlink(missing_ok=True)
        removed.append(str(old))
    if removed:
        fsync_dir(folder)
    return removed


def _manifest_repository(path: Path) -> str | None:
    """The repository id a bundle's own manifest names (None if it cannot be read)."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST_NAME or not first.isreg():
                return None
            if first.size > MANIFEST_LIMIT:
                return None
            handle = tar.extractfile(first)
            manifest = orjson.loads(handle.read()) if handle is not None else None
    except (tarfile.TarError, OSError, EOFError, orjson.JSONDecodeError):
        return None
    value = manifest.get("repository_id") if isinstance(manifest, dict) else None
    return value if isinstance(value, str) else None


# ---- reading bundles safely ------------------------------------------------------


class _Bundle:
    """An opened bundle whose structure has been checked (no data read yet)."""

    def __init__(self, tar: tarfile.TarFile, manifest: dict[str, Any], members: dict[str, Any]):
        self.tar = tar
        self.manifest = manifest
        self.members = members  # manifest entry name -> TarInfo


def _safe_relative(name: str) -> bool:
    if not name or "\\" in name or "\x00" in name:
        return False
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("..", ".", "") for part in name.split("/")):
        return False
    if len(path.parts) == 1:
        return path.parts[0] in (DB_MEMBER, KNOWLEDGE_BASE_NAME, DATABASE_NAME)
    return (
        len(path.parts) == 2
        and path.parts[0] == ARCHIVE_NAME
        and bool(_SEGMENT_NAME.match(path.parts[1]))
    )


def _check_manifest(manifest: Any) -> list[str]:
    if not isinstance(manifest, dict):
        return ["bad-manifest manifest.json: not a JSON object"]
    if manifest.get("format") != FORMAT:
        return [f"bad-manifest manifest.json: format is {manifest.get('format')!r}, not {FORMAT}"]
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        return [
            f"unsupported-version manifest.json: bundle format version {version!r}; "
            f"this aimem reads version {FORMAT_VERSION}"
        ]
    members = manifest.get("members")
    if not isinstance(members, list) or not members:
        return ["bad-manifest manifest.json: no members"]
    problems = []
    seen_paths: set[str] = set()
    for entry in members:
        if not isinstance(entry, dict):
            problems.append("bad-manifest manifest.json: a member is not an object")
            continue
        name, path = entry.get("name"), entry.get("path")
        if not isinstance(name, str) or not isinstance(path, str):
            problems.append("bad-manifest manifest.json: a member has no name or path")
            continue
        if not _safe_relative(name) or not _safe_relative(path):
            problems.append(f"unsafe-member {name!r}: path not allowed in a bundle")
            continue
        if path in seen_paths:
            problems.append(f"bad-manifest {name}: path {path} listed twice")
        seen_paths.add(path)
        for key in ("size", "stored_size"):
            value = entry.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(f"bad-manifest {name}: {key} is not a size")
        if not isinstance(entry.get("sha256"), str) or not re.fullmatch(
            r"[0-9a-f]{64}", entry["sha256"]
        ):
            problems.append(f"bad-manifest {name}: sha256 is not a sha256")
        if path.startswith(ARCHIVE_NAME + "/") and (
            not is_segment_name(path.split("/", 1)[1]) or entry.get("compression") != "none"
        ):
            problems.append(f"unknown-member {name}: not an archive segment")
        elif entry.get("compression") not in ("zstd", "none"):
            problems.append(f"bad-manifest {name}: unknown compression")
        elif entry.get("compression") == "none" and entry.get("size") != entry.get("stored_size"):
            problems.append(f"bad-manifest {name}: stored size differs from size")
    if DATABASE_NAME not in seen_paths:
        problems.append("bad-manifest manifest.json: no database member")
    return problems


def _open_bundle(path: Path) -> tuple[_Bundle | None, list[str]]:
    """Open ``path`` and check its structure from the tar index alone (nothing written)."""
    try:
        file_size = path.stat().st_size
        tar = tarfile.open(path, mode="r:")  # noqa: SIM115 (closed by the caller)
    except FileNotFoundError:
        raise BundleError(f"no such bundle: {path}") from None
    except IsADirectoryError:
        raise BundleError(f"{path} is a folder, not a bundle") from None
    except (tarfile.TarError, OSError, EOFError) as error:
        return None, [f"unreadable-bundle {path}: {error}"]
    try:
        infos = tar.getmembers()
    except (tarfile.TarError, OSError, EOFError) as error:
        tar.close()
        return None, [f"unreadable-bundle {path}: {error}"]
    problems: list[str] = []
    if not infos or infos[0].name != MANIFEST_NAME:
        tar.close()
        return None, [f"bad-manifest {path}: the first member is not {MANIFEST_NAME}"]
    first = infos[0]
    if not first.isreg() or first.size > MANIFEST_LIMIT:
        tar.close()
        return None, [f"bad-manifest {path}: {MANIFEST_NAME} is not a small regular file"]
    try:
        handle = tar.extractfile(first)
        assert handle is not None
        data = handle.read(MANIFEST_LIMIT + 1)
        manifest = orjson.loads(data)
    except (tarfile.TarError, OSError, orjson.JSONDecodeError, AssertionError) as error:
        tar.close()
        return None, [f"bad-manifest {path}: {error}"]
    problems = _check_manifest(manifest)
    if problems:
        tar.close()
        return None, problems
    declared = {entry["name"]: entry for entry in manifest["members"]}
    found: dict[str, Any] = {}
    flagged: set[str] = set()
    for info in infos[1:]:
        flagged.add(info.name)
        if not _safe_relative(info.name):
            problems.append(f"unsafe-member {info.name!r}: path not allowed in a bundle")
        elif not info.isreg():
            kind = "link" if (info.issym() or info.islnk()) else "non-regular"
            problems.append(f"unsafe-member {info.name}: {kind} member")
        elif info.name not in declared:
            problems.append(f"unknown-member {info.name}: not in the manifest")
        elif info.name in found:
            problems.append(f"unsafe-member {info.name}: appears twice")
        elif info.size != declared[info.name]["stored_size"]:
            problems.append(
                f"size-mismatch {info.name}: {info.size} bytes, manifest says "
                f"{declared[info.name]['stored_size']}"
            )
        elif info.offset_data + info.size > file_size:
            problems.append(f"truncated {info.name}: the bundle ends inside this member")
        else:
            found[info.name] = info
    for name in declared:
        if name not in flagged:
            problems.append(f"missing-member {name}: listed in the manifest, not in the bundle")
    if problems:
        tar.close()
        return None, problems
    return _Bundle(tar, manifest, found), []


class _Hashed:
    """A member's stored bytes, hashed (and copied to ``sink``) as they are read."""

    def __init__(self, handle: IO[bytes], sink: IO[bytes] | None) -> None:
        self.handle = handle
        self.sink = sink
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.size += len(data)
        if self.sink is not None:
            self.sink.write(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def _sqlite_header_problem(first: bytes, declared: int) -> str | None:
    # Checked on the first 100 bytes: a bomb of zeros, or anything else that
    # is not a database, is refused before the rest is inflated.
    if not first.startswith(SQLITE_MAGIC):
        return "not a SQLite database"
    page_size = int.from_bytes(first[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(first[28:32], "big")
    valid = first[92:96] == first[24:28]  # the header's page count is current
    if valid and pages and page_size * pages != declared:
        return f"its header says {page_size * pages} bytes, the manifest {declared}"
    return None


def _stream_member(
    bundle: _Bundle,
    entry: dict[str, Any],
    sink: IO[bytes] | None,
    segment: dict[str, Any] | None = None,
) -> list[str]:
    """Read one member, decompressing it, capped at its declared size; check size and sha256.

    A segment (stored as it is) is checked as it streams against ``segment``,
    its entry in the bundle's own segment index.
    """
    import zstandard

    name = entry["name"]
    handle = bundle.tar.extractfile(bundle.members[name])
    if handle is None:
        return [f"unreadable-member {name}: no data"]
    if segment is not None:
        hashed = _Hashed(handle, sink)
        try:
            problem = archive.check_stream(hashed, name, segment)
            hashed.drain()
        except (tarfile.TarError, OSError, EOFError) as error:
            return [f"corrupt-member {name}: {_line(error)}"]
        if problem is not None:
            return [f"corrupt-segment {name}: {problem}"]
        size, digest = hashed.size, hashed.digest
    else:
        digest = hashlib.sha256()
        size = 0
        try:
            reader: Any = handle
            if entry["compression"] == "zstd":
                reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
            header = b"" if entry["path"] == DATABASE_NAME else None
            while chunk := reader.read(CHUNK):
                if header is not None:
                    header += chunk[: 100 - len(header)]
                    if len(header) == 100:
                        problem = _sqlite_header_problem(header, entry["size"])
                        if problem is not None:
                            return [f"corrupt-member {name}: {problem}"]
                        header = None
                size += len(chunk)
                if size > entry["size"]:
                    return [
                        f"size-mismatch {name}: more data than the manifest's {entry['size']} bytes"
                    ]
                digest.update(chunk)
                if sink is not None:
                    sink.write(chunk)
        except (zstandard.ZstdError, tarfile.TarError, OSError, EOFError) as error:
            return [f"corrupt-member {name}: {_line(error)}"]
        if header is not None:  # shorter than a SQLite header
            return [f"corrupt-member {name}: not a SQLite database"]
    if size != entry["size"]:
        return [f"size-mismatch {name}: {size} bytes, manifest says {entry['size']}"]
    if digest.hexdigest() != entry["sha256"]:
        return [f"hash-mismatch {name}: content does not match the manifest's sha256"]
    return []


def _line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _check_database(db: Path, manifest: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
    """Problems of the bundle's database (one line each) and its segment index
    (None when the database itself is refused: nothing in it can be trusted)."""
    info = snapshot.inspect_database(db)
    if info["problems"]:
        kind, detail = info["problems"][0]
        return [f"{kind} {_database_entry(manifest)['name']}: {detail}"], None
    problems = []
    version = info["schema_version"]
    if version != manifest.get("schema_version"):
        problems.append(
            f"count-mismatch {DATABASE_NAME}: schema version {version}, "
            f"manifest says {manifest.get('schema_version')}"
        )
    expected = manifest.get("counts") or {}
    for key, value in info["counts"].items():
        if key in expected and expected[key] != value:
            problems.append(
                f"count-mismatch {key}: {value} in the database, manifest says {expected[key]}"
            )
    return problems, info["segment_index"]


def _segment_problems(manifest: dict[str, Any], index: dict[str, Any]) -> list[str]:
    """Archive members against the database's segment index (before any is read)."""
    problems = []
    listed = set()
    for entry in manifest["members"]:
        if not entry["path"].startswith(ARCHIVE_NAME + "/"):
            continue
        segment = entry["path"].split("/", 1)[1]
        listed.add(segment)
        if segment not in index:
            problems.append(f"unknown-member {entry['name']}: not in the bundle's segment index")
        elif index[segment]["sha256"] != entry["sha256"]:
            problems.append(f"hash-mismatch {entry['name']}: the segment index has another sha256")
    for segment in sorted(set(index) - listed):
        problems.append(
            f"missing-member {ARCHIVE_NAME}/{segment}: in the segment index, not in the bundle"
        )
    return problems


def _ordered(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    # The database first: its segment index says what each segment must be.
    return sorted(manifest["members"], key=lambda entry: entry["path"] != DATABASE_NAME)


def _database_entry(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in manifest["members"] if e["path"] == DATABASE_NAME)


def _space_problem(folder: Path, needed: int, what: str) -> str | None:
    try:
        free = shutil.disk_usage(folder).free
    except OSError as error:
        return f"no-space {folder}: {_line(error)}"
    if needed + SPACE_MARGIN > free:
        return f"no-space {folder}: {what} needs {needed} bytes, {free} are free"
    return None


def verify_bundle(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check a bundle completely; return ``{bundle, ok, problems, manifest}``.

    ``problems`` are ``<kind> <subject>: <detail>`` lines; ``ok`` is True when
    there are none. A missing file raises BundleError. The database is
    checked first (integrity, schema, counts); segments are then checked
    against its segment index; nothing is inflated past its declared size,
    and the database's copy is written to the temporary folder only when it
    has room for it.
    """
    bundle_path = Path(path)
    bundle, problems = _open_bundle(bundle_path)
    manifest_info: dict[str, Any] | None = None
    if bundle is not None:
        manifest_info = manifest_summary(bundle.manifest, bundle_path)
        with bundle.tar:
            problems = _verify_members(bundle)
    return {
        "bundle": str(bundle_path),
        "ok": not problems,
        "problems": problems,
        "manifest": manifest_info,
    }


def _verify_members(bundle: _Bundle) -> list[str]:
    work = Path(tempfile.gettempdir())
    entry = _database_entry(bundle.manifest)
    space = _space_problem(work, int(entry["size"]), f"checking {entry['name']}")
    if space is not None:
        return [space]
    problems: list[str] = []
    index: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="aimem-verify-") as scratch:
        db = Path(scratch) / DATABASE_NAME
        with db.open("wb") as sink:
            found = _stream_member(bundle, entry, sink)
        if not found:
            found, index = _check_database(db, bundle.manifest)
        problems += found
    if index is not None:
        problems += _segment_problems(bundle.manifest, index)
    refused = {p.split(" ", 2)[1].rstrip(":") for p in problems}
    for entry in _ordered(bundle.manifest)[1:]:
        segment = None
        if entry["path"].startswith(ARCHIVE_NAME + "/"):
            if index is None or entry["name"] in refused:
                continue  # not read: the database or the index already refused it
            segment = index[entry["path"].split("/", 1)[1]]
        problems += _stream_member(bundle, entry, None, segment)
    return problems


# ---- restore -----------------------------------------------------------------------


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _is_repository(target: Path) -> bool:
    return (target / DATABASE_NAME).exists() or (target.is_dir() and any(target.iterdir()))


def _unpack(bundle: _Bundle, staging: Path) -> list[str]:
    """Write every member into ``staging``, checked as it streams: the database
    first (integrity, schema, counts), then the segments its index names."""
    (staging / ARCHIVE_NAME).mkdir(mode=DIR_MODE)
    entries = _ordered(bundle.manifest)
    index: dict[str, Any] = {}
    for entry in entries:
        segment = None
        if entry["path"].startswith(ARCHIVE_NAME + "/"):
            segment = index[entry["path"].split("/", 1)[1]]
        fd = os.open(staging / entry["path"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as sink:
            problems = _stream_member(bundle, entry, sink, segment)
            sink.flush()
            os.fsync(sink.fileno())
        if problems:
            return problems
        if entry["path"] == DATABASE_NAME:
            problems, found = _check_database(staging / DATABASE_NAME, bundle.manifest)
            if problems or found is None:
                return problems
            index = found
            problems = _segment_problems(bundle.manifest, index)
            if problems:
                return problems
    fsync_dir(staging / ARCHIVE_NAME)
    fsync_dir(staging)
    return []


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[_Bundle]:
    bundle, problems = _open_bundle(path)
    if bundle is None:
        raise _refused(path, problems)
    with bundle.tar:
        yield bundle


def _refused(path: Path, problems: list[str], target: Path | None = None) -> BundleError:
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    unchanged = f"; {target} was not changed" if target is not None else ""
    return BundleError(
        f"{path} was refused: {problems[0]}{more}{unchanged}",
        hint=f"run 'aimem verify {path}' for every finding",
    )


def _existing_ancestor(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise BundleError(f"cannot restore below {folder}: it is not a folder")
    return folder


def _kept_identity(target: Path, occupied: bool, manifest: dict[str, Any]) -> str | None:
    """The bundle's repository id when it is restored over the repository it came
    from, else None (a new id): two repositories never share one."""
    if not occupied:
        return None
    old = snapshot.repository_identity(target / DATABASE_NAME)
    return old if old is not None and old == manifest.get("repository_id") else None


def restore_bundle(
    path: str | os.PathLike[str],
    target: str | os.PathLike[str] | None,
    force: bool = False,
    dry_run: bool = False,
    db: str | None = None,
) -> dict[str, Any]:
    """Restore a bundle into the repository folder ``target``, atomically.

    Refuses (BundleError, nothing written) a hostile or damaged bundle, a
    target that is a symbolic link or not a folder, and an existing
    repository at ``target`` unless ``force``. ``dry_run`` checks the whole
    bundle and creates nothing. The restored repository keeps the bundle's
    repository id only when it replaces the repository of that id; anywhere
    else it gets a new one (so ``backup --keep`` of the two never prunes the
    other's bundles). Returns a summary with ``bundle``, ``target``,
    ``replaced`` (an existing repository was replaced), ``dry_run`` and the
    manifest's ``counts``.

    With ``db`` (a PostgreSQL URL), or a ``target`` whose ``config.json``
    names a database, the bundle goes into that database instead (see
    ``restore_into_database``).
    """
    if db is None and target is not None:
        from aimem.paths import repository_in

        found = repository_in(Path(target))
        db = None if found is None else Layout(found).database_url()
    if db is not None:
        return restore_into_database(path, db, force, dry_run)
    if target is None:
        raise BundleError("restore needs a repository folder or a database URL")
    bundle_path = Path(path)
    target_path = Path(target).absolute()
    if target_path.is_symlink():
        raise BundleError(
            f"{target_path} is a symbolic link; it was not changed",
            hint=f"restore into the folder it points to: {os.path.realpath(target_path)}",
        )
    exists = target_path.exists()
    if exists and not target_path.is_dir():
        raise BundleError(f"{target_path} exists and is not a folder")
    occupied = exists and _is_repository(target_path)
    parent = target_path.parent
    with _opened(bundle_path) as bundle:
        if occupied and not force:
            raise BundleError(
                f"{target_path} already holds a repository; it was not changed",
                hint="pass --force to replace it (the old one is kept until the swap succeeds)",
            )
        needed = sum(int(e["size"]) for e in bundle.manifest["members"])
        space = _space_problem(_existing_ancestor(parent), needed, "restoring")
        if space is not None:
            raise BundleError(f"{space}; nothing was written")
        summary = {
            "bundle": str(bundle_path),
            "target": str(target_path),
            "replaced": occupied,
            "dry_run": dry_run,
            "counts": bundle.manifest.get("counts"),
        }
        if dry_run:
            problems = _verify_members(bundle)
            if problems:
                raise _refused(bundle_path, problems, target_path)
            return summary
        made = _missing_folders(parent)
        staging = parent / f".aimem-restore-{target_path.name}.{os.getpid()}.{time.monotonic_ns()}"
        try:
            parent.mkdir(parents=True, exist_ok=True)
            remove_stale(parent, f".aimem-restore-{target_path.name}.")
            staging.mkdir(mode=DIR_MODE)
            problems = _unpack(bundle, staging)
            if problems:
                raise _refused(bundle_path, problems, target_path)
            snapshot.set_repository_identity(
                staging / DATABASE_NAME,
                _kept_identity(target_path, occupied, bundle.manifest),
                target_path.resolve(),
            )
            _swap(staging, target_path, exists)
        except BaseException as failure:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
            _remove_empty(made)  # a refusal leaves no trace, not even the parents
            if isinstance(failure, OSError):
                raise _os_error(failure, target_path) from failure
            raise
    return summary


def restore_into_database(
    path: str | os.PathLike[str], url: str, force: bool = False, dry_run: bool = False
) -> dict[str, Any]:
    """Restore a bundle into the database ``url`` (PostgreSQL), in one transaction.

    As into a folder: a database that holds history is refused unless
    ``force``, and then replaced whole. The bundle is checked completely
    (unpacked into a temporary folder, every byte verified) before the
    database is written; a refusal or a failure leaves it as it was. The
    restored repository keeps the bundle's id only when it replaces the
    repository of that id.
    """
    from aimem.store import open_store
    from aimem.store.url import display_url

    bundle_path = Path(path)
    shown = display_url(url)
    with _opened(bundle_path) as bundle:
        store: Any = open_store(url, readonly=True)
        try:
            occupied = bool(store.holds_history())
            current_id = store.get_meta("repository_id") if occupied else None
        finally:
            store.close()
        if occupied and not force:
            raise BundleError(
                f"{shown} already holds a repository; it was not changed",
                hint="pass --force to replace it (in one transaction)",
            )
        summary = {
            "bundle": str(bundle_path),
            "target": shown,
            "replaced": occupied,
            "dry_run": dry_run,
            "counts": bundle.manifest.get("counts"),
        }
        scratch = Path(tempfile.gettempdir())
        needed = sum(int(e["size"]) for e in bundle.manifest["members"])
        space = _space_problem(scratch, needed, "restoring")
        if space is not None:
            raise BundleError(f"{space}; nothing was written")
        with tempfile.TemporaryDirectory(prefix="aimem-restore-") as work:
            staging = Path(work) / "repository"
            staging.mkdir(mode=DIR_MODE)
            try:
                problems = _unpack(bundle, staging)
            except OSError as error:
                raise BundleError(f"cannot unpack {bundle_path}: {_line(error)}") from error
            if problems:
                raise _refused(bundle_path, problems)
            if dry_run:
                return summary
            kept = bundle.manifest.get("repository_id")
            identity = {
                "repository_id": kept
                if occupied and kept and kept == current_id
                else os.urandom(6).hex(),
            }
            segments = {}
            for member in sorted((staging / ARCHIVE_NAME).iterdir()):
                data = member.read_bytes()
                segments[hashlib.sha256(data).hexdigest()] = data
            store = open_store(url)
            try:
                identity["repository_path"] = store.repository_home()
                store.restore_from(staging / DATABASE_NAME, segments, identity)
            finally:
                store.close()
    return summary


def _missing_folders(folder: Path) -> list[Path]:
    """The folders ``folder.mkdir(parents=True)`` would create, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # something else now lives there: keep it and its parents


def _os_error(error: OSError, target: Path) -> Exception:
    translated = translate_os_error(error, target)
    if isinstance(translated, OSError):
        return BundleError(f"cannot restore into {target}: {_line(error)}")
    return translated


def _swap(staging: Path, target: Path, exists: bool) -> None:
    """Put ``staging`` at ``target``; an old ``target`` ends up at ``staging`` (then removed)."""
    parent = target.parent
    if not exists:
        os.rename(staging, target)
        fsync_dir(parent)
        return
    if _exchange(staging, target):
        fsync_dir(parent)
        shutil.rmtree(staging)  # now the old repository
        return
    if not any(target.iterdir()):
        target.rmdir()
        os.rename(staging, target)
        fsync_dir(parent)
        return
    aside = parent / f".aimem-replaced-{target.name}.{os.getpid()}.{time.monotonic_ns()}"
    os.rename(target, aside)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(aside, target)
        raise
    fsync_dir(parent)
    shutil.rmtree(aside)


# ---- destinations, retention, listing ---------------------------------------------

DESTINATION_ENV = "AIMEM_BACKUP_DIR"
DESTINATION_META = "backup_dir"
NO_DESTINATION = "no backup destination: name a folder"
DESTINATION_HINT = (
    "aimem backup DIR, or remember one with 'aimem backup --set-default DIR' "
    f"(or set {DESTINATION_ENV})"
)
_NAME = re.compile(r"^aimem-([0-9a-f]{12})-(\d{8}T\d{6}\.\d{6})Z\.tar$")
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?$")
_MAX_DURATION_DAYS = 36500


def parse_duration(text: str) -> timedelta:
    """``--keep-within``: weeks, days and hours such as ``7d``, ``12h``, ``2w``, ``1d12h``.

    ValueError with the reason for anything else (zero included).
    """
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration (examples: 7d, 12h, 2w, 1d12h)")
    weeks, days, hours = (int(part or 0) for part in match.groups())
    total = timedelta(weeks=weeks, days=days, hours=hours) if weeks + days + hours < 10**7 else None
    if total is None or total > timedelta(days=_MAX_DURATION_DAYS):
        raise ValueError(f"{text!r} is longer than {_MAX_DURATION_DAYS} days")
    if not total:
        raise ValueError(f"{text!r} keeps nothing; give a duration above zero")
    return total


@dataclass(frozen=True)
class Retention:
    """Which bundles of a repository to keep (restic's ``forget`` rules).

    ``last``: the newest N; ``daily``/``weekly``: the newest bundle of each
    of the last N days/ISO weeks that have one (UTC); ``within``: every
    bundle no older than this before the newest. A bundle kept by any rule
    is kept; 0 (or None) turns a rule off.
    """

    last: int = 0
    daily: int = 0
    weekly: int = 0
    within: timedelta | None = None

    @classmethod
    def of(cls, keep: int | Retention | None) -> Retention | None:
        """``keep`` as a checked Retention: a count means ``last``; None keeps everything."""
        if keep is None:
            return None
        retention = keep if isinstance(keep, Retention) else cls(last=_count("keep", keep))
        for name in ("last", "daily", "weekly"):
            _count(f"keep_{name}", getattr(retention, name), allow_zero=True)
        if retention.within is not None and (
            not isinstance(retention.within, timedelta) or retention.within <= timedelta(0)
        ):
            raise BundleError("keep_within must be a duration above zero")
        if not (retention.last or retention.daily or retention.weekly or retention.within):
            raise BundleError("a retention policy needs at least one rule above zero")
        return retention

    def to_dict(self) -> dict[str, Any]:
        within = None if self.within is None else int(self.within.total_seconds())
        return {
            "keep_last": self.last,
            "keep_daily": self.daily,
            "keep_weekly": self.weekly,
            "keep_within_seconds": within,
        }


def _count(name: str, value: Any, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        least = 0 if allow_zero else 1
        raise BundleError(f"{name} must be a whole number of at least {least}")
    return value


def _bundle_time(name: str) -> datetime | None:
    match = _NAME.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(2), "%Y%m%dT%H%M%S.%f").replace(tzinfo=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plan_retention(folder: Path, repo_id: str, retention: Retention) -> list[dict[str, Any]]:
    """Every bundle of ``repo_id`` in ``folder``, newest first, with ``keep`` and the
    ``reasons`` (rules) that keep it. Other files and other repositories' bundles
    are not listed: they are never touched."""
    pattern = _bundle_pattern(repo_id)
    found = sorted(
        (p.name for p in folder.iterdir() if pattern.match(p.name) and p.is_file()), reverse=True
    )
    plan: list[dict[str, Any]] = []
    buckets: dict[str, Any] = {"daily": None, "weekly": None}
    left = {"daily": retention.daily, "weekly": retention.weekly}
    newest: datetime | None = None
    for index, name in enumerate(found):
        moment = _bundle_time(name)
        assert moment is not None  # the pattern matched
        newest = newest or moment
        reasons = []
        if index < retention.last:
            reasons.append("last")
        keys = {"daily": moment.date(), "weekly": moment.isocalendar()[:2]}
        for rule, key in keys.items():
            if left[rule] > 0 and key != buckets[rule]:
                buckets[rule] = key
                left[rule] -= 1
                reasons.append(rule)
        if retention.within is not None and moment >= newest - retention.within:
            reasons.append("within")
        plan.append(
            {"name": name, "created_at": _iso(moment), "keep": bool(reasons), "reasons": reasons}
        )
    return plan


def prune_bundles(
    memory: Repository, folder: Path | None, keep: int | Retention, dry_run: bool = False
) -> dict[str, Any]:
    """Remove this repository's bundles in ``folder`` (default: the configured
    destination) that ``keep`` does not keep; ``dry_run`` removes nothing.

    Returns ``{folder, dry_run, policy, bundles, removed}``: ``bundles`` is the
    plan (newest first, each with ``keep`` and ``reasons``), ``removed`` the
    paths removed (or that would be).
    """
    retention = Retention.of(keep)
    assert retention is not None
    folder = _folder(memory, folder)
    repo_id = current_repository_id(memory)
    plan = plan_retention(folder, repo_id, retention) if repo_id else []
    if dry_run or repo_id is None:
        removed = [str(folder / e["name"]) for e in plan if not e["keep"]]
    else:
        removed = _remove(folder, repo_id, plan, folder / plan[0]["name"]) if plan else []
    return {
        "folder": str(folder),
        "dry_run": dry_run,
        "policy": retention.to_dict(),
        "bundles": plan,
        "removed": removed,
    }


def _folder(memory: Repository, folder: Path | None) -> Path:
    if folder is None:
        folder = _configured_folder(memory, None)
        if folder is None:
            raise BundleError(NO_DESTINATION, hint=DESTINATION_HINT)
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a folder")
    return folder


def current_repository_id(memory: Repository) -> str | None:
    """This repository's bundle id, read only (None before its first backup here)."""
    existing = memory.store.get_meta("repository_id")
    bound = memory.store.get_meta("repository_path")
    here = _home(memory)
    if existing and re.fullmatch(r"[0-9a-f]{12}", existing) and bound in (here, None):
        return existing
    return None


def backup_destination(memory: Repository | None, repository: Path | None = None) -> Path | None:
    """Where backups go when no folder is named: ``$AIMEM_BACKUP_DIR``, else the
    folder remembered by ``set_backup_destination`` (``memory``'s, or read from
    the database in the folder ``repository`` without opening it for writing)."""
    configured = _configured(memory, repository)
    return None if configured is None else configured[0]


def _configured(memory: Repository | None, repository: Path | None) -> tuple[Path, str] | None:
    """The default destination and the setting that names it."""
    env = os.environ.get(DESTINATION_ENV)
    if env:
        return Path(env).expanduser(), DESTINATION_ENV
    if memory is not None:
        stored = memory.store.get_meta(DESTINATION_META)
    elif repository is not None:
        stored = _folder_meta(repository, (DESTINATION_META,))[0][DESTINATION_META]
    else:
        stored = None
    return (Path(stored), "the folder set with 'aimem backup --set-default'") if stored else None


def _configured_folder(memory: Repository | None, repository: Path | None) -> Path | None:
    """The default destination, which must be an existing folder: a missing one is
    never taken for a file name to write a bundle as."""
    configured = _configured(memory, repository)
    if configured is None:
        return None
    folder, setting = configured
    if not folder.is_dir():
        raise BundleError(
            f"the backup folder {folder} ({setting}) is not a folder",
            hint=f"create it (mkdir -p {folder}) or point {setting} elsewhere"
            if setting == DESTINATION_ENV
            else f"create it (mkdir -p {folder}) or set another: aimem backup --set-default DIR",
        )
    return folder


def set_backup_destination(memory: Repository, folder: Path) -> Path:
    """Remember ``folder`` (an existing folder, stored absolute) as the default destination."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a folder", hint=f"create it first: mkdir -p {folder}")
    absolute = folder.resolve()
    memory.store.set_meta(DESTINATION_META, str(absolute))
    return absolute


def _folder_meta(repository: Path, keys: tuple[str, ...]) -> tuple[dict[str, str | None], str]:
    """aimem_meta values of the repository in the folder ``repository``, read only,
    and what its bundle id is bound to: its SQLite file, or the database its
    config.json names."""
    from aimem.errors import AimemError

    try:
        url = Layout(repository).database_url()
    except AimemError:
        url = None
    if url is None:
        db = repository / DATABASE_NAME
        return {key: read_file_meta(db, key) for key in keys}, str(repository.resolve())
    from aimem.store import open_store

    try:
        store: Any = open_store(url, readonly=True)
        try:
            return {key: store.get_meta(key) for key in keys}, str(store.repository_home())
        finally:
            store.close()
    except AimemError:
        return {key: None for key in keys}, ""


def _bound_id(repository: Path) -> str | None:
    meta, home = _folder_meta(repository, ("repository_id", "repository_path"))
    existing, bound = meta["repository_id"], meta["repository_path"]
    if existing is None or not re.fullmatch(r"[0-9a-f]{12}", existing):
        return None
    return existing if bound in (home, None) else None


def _bundle_files(folder: Path) -> list[Path]:
    """Files in ``folder`` that may be bundles: ``*.tar``, not hidden (temp files are)."""
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a folder")
    try:
        names = sorted(os.listdir(folder))
    except OSError as error:
        raise BundleError(f"cannot read {folder}: {_line(error)}") from error
    return [
        folder / name
        for name in names
        if name.endswith(BUNDLE_SUFFIX) and not name.startswith(".") and (folder / name).is_file()
    ]


def latest_bundle(folder: Path, repo_id: str | None) -> Path:
    """The newest bundle of ``repo_id`` in ``folder`` (by the UTC time in its name).

    Without an id, the newest bundle of the only repository with bundles
    there; BundleError when there are none, or several repositories' bundles.
    """
    folder = Path(folder)
    named = [(p, _NAME.match(p.name)) for p in _bundle_files(folder)]
    ours = [
        (p, m) for p, m in named if m is not None and (repo_id is None or m.group(1) == repo_id)
    ]
    if not ours:
        whose = f"of repository {repo_id} " if repo_id else ""
        raise BundleError(
            f"no bundle {whose}in {folder}", hint=f"list what is there: aimem backup list {folder}"
        )
    ids = sorted({m.group(1) for _, m in ours})
    if len(ids) > 1:
        raise BundleError(
            f"{folder} holds bundles of {len(ids)} repositories ({', '.join(ids)}); "
            "which one is meant is unknown",
            hint=f"name the bundle; 'aimem backup list {folder}' shows them",
        )
    return max(ours, key=lambda pair: pair[1].group(2))[0]


def find_bundle(
    spec: str | os.PathLike[str], repository: Path | None, source: Path | None = None
) -> Path:
    """The bundle ``spec`` names: a path, or ``latest``: the newest bundle of the
    repository in the folder ``repository`` (the only repository's, if it has
    no id yet) in ``source``, else in the default destination."""
    if str(spec) != "latest":
        if source is not None:
            raise BundleError("--from goes with 'latest' only; a bundle path names its folder")
        return Path(spec)
    folder = source or _configured_folder(None, repository)
    if folder is None:
        raise BundleError(
            "'latest' needs a folder of bundles",
            hint=f"pass --from DIR, or set a default: aimem backup --set-default DIR "
            f"(or {DESTINATION_ENV})",
        )
    return latest_bundle(Path(folder), _bound_id(repository) if repository else None)


def list_bundles(folder: Path, verify: bool = False) -> list[dict[str, Any]]:
    """The bundles in ``folder``, newest first: ``{bundle, created_at, size, records,
    repository_id, verified, check, problems}``.

    ``verified`` is the manifest and the tar index checking out (``check``:
    ``manifest``; nothing is decompressed), or with ``verify`` a full
    verify_bundle (``check``: ``full``).
    """
    rows = []
    for path in _bundle_files(Path(folder)):
        manifest: dict[str, Any] | None = None
        if verify:
            report = verify_bundle(path)
            problems = report["problems"]
            bundle, _ = _open_bundle(path)
        else:
            bundle, problems = _open_bundle(path)
        if bundle is not None:
            manifest = bundle.manifest
            bundle.tar.close()
        counts = (manifest or {}).get("counts") or {}
        records = None
        if isinstance(counts.get("fix_history"), int):
            records = counts["fix_history"] + int(counts.get("archived_records") or 0)
        moment = _bundle_time(path.name)
        created = (manifest or {}).get("created_at") or (_iso(moment) if moment else None)
        if isinstance(created, str):
            created = created.replace(" ", "T", 1)  # ISO 8601 as parsers expect it
        rows.append(
            {
                "bundle": str(path),
                "created_at": created,
                "size": path.stat().st_size,
                "records": records,
                "repository_id": (manifest or {}).get("repository_id"),
                "verified": not problems,
                "check": "full" if verify else "manifest",
                "problems": problems,
            }
        )
    rows.sort(key=lambda row: (row["created_at"] or "", row["bundle"]), reverse=True)
    return rows


def verify_folder(folder: Path) -> list[dict[str, Any]]:
    """verify_bundle of every bundle in ``folder``, oldest first (BundleError if none)."""
    paths = _bundle_files(Path(folder))
    if not paths:
        raise BundleError(f"no bundle in {folder}")
    return [verify_bundle(path) for path in paths]
