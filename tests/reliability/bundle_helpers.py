"""Build hostile bundles from a real one: rewrite its database, add or replace members."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import struct
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import zstandard

from aimem import AIMemory
from aimem.ops.archive import SKIPPABLE_MAGIC
from tests.archive_helpers import seeded

DB_MEMBER = "ai_memory.db.zst"


def archived_repository(path: Path, count: int = 200) -> Path:
    """A repository whose older rows live in one archive segment."""
    seeded(path, count=count)
    with AIMemory(path) as memory:
        memory.cleanup(30)
    return path


def tree_digest(root: Path) -> dict[str, str]:
    """Every file, folder and link under ``root`` with its bytes' sha256 (or kind)."""
    found: dict[str, str] = {}
    if root.is_symlink():
        found["."] = "link " + os.readlink(root)
        root = root.resolve()
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            found[name] = "link " + os.readlink(path)
        elif path.is_dir():
            found[name] = "folder"
        else:
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def read_members(bundle: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(bundle) as tar:
        out = []
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            out.append((info.name, handle.read() if handle else b""))
        return out


def write_members(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return path


def _entry(manifest: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((e for e in manifest["members"] if e["name"] == name), None)


def set_member(
    members: list[tuple[str, bytes]],
    name: str,
    stored: bytes,
    content: bytes | None = None,
    compression: str = "none",
) -> None:
    """Put member ``name`` (stored bytes; ``content`` after decompression) in the
    tar and the manifest, with honest sizes and sha256."""
    manifest = orjson.loads(members[0][1])
    content = stored if content is None else content
    entry = _entry(manifest, name)
    if entry is None:
        entry = {"name": name, "path": name}
        manifest["members"].append(entry)
    entry.update(
        compression=compression,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        stored_size=len(stored),
    )
    members[0] = ("manifest.json", orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    for n, (member, _) in enumerate(members):
        if member == name:
            members[n] = (name, stored)
            return
    members.append((name, stored))


def rewrite_database(
    bundle: Path, out: Path, change: Callable[[sqlite3.Connection], None], work: Path
) -> Path:
    """A copy of ``bundle`` whose database went through ``change`` (sizes and hashes
    in the manifest kept honest, so only what ``change`` did is wrong)."""
    members = read_members(bundle)
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(dict(members)[DB_MEMBER])
    db = work / f"rewrite-{out.name}.db"
    db.write_bytes(raw)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        change(conn)
    finally:
        conn.close()
    data = db.read_bytes()
    set_member(members, DB_MEMBER, zstandard.ZstdCompressor().compress(data), data, "zstd")
    return write_members(out, members)


def segment_bytes(header: dict[str, Any], body: bytes) -> bytes:
    """A segment file: the skippable header frame, then ``body`` (zstd frames)."""
    head = orjson.dumps(header)
    return struct.pack("<II", SKIPPABLE_MAGIC, len(head)) + head + body


def register_segment(
    conn: sqlite3.Connection, name: str, data: bytes, rows: int, raw_bytes: int
) -> None:
    conn.execute(
        "INSERT INTO aimem_segments(name, sha256, row_count, min_timestamp, max_timestamp, "
        "raw_bytes, compressed_bytes, created_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'rows')",
        (
            name,
            hashlib.sha256(data).hexdigest(),
            rows,
            "2020-01-01 00:00:00.000000Z",
            "2020-01-01 00:00:00.000000Z",
            raw_bytes,
            len(data),
            "2020-01-01 00:00:00.000000Z",
        ),
    )


def endless_line_segment(line_bytes: int) -> tuple[str, bytes, int]:
    """(name, bytes, declared raw size) of a segment holding one row of
    ``line_bytes`` bytes with no newline; its header claims 3 GiB."""
    raw_bytes = 3 << 30
    header = {
        "format": "aimem-segment",
        "version": 1,
        "kind": "rows",
        "row_count": 1,
        "min_timestamp": "2020-01-01 00:00:00.000000Z",
        "max_timestamp": "2020-01-01 00:00:00.000000Z",
        "raw_bytes": raw_bytes,
        "fields": [],
    }
    compressor = zstandard.ZstdCompressor(level=1, write_checksum=True)
    data = segment_bytes(header, compressor.compress(b"a" * line_bytes))
    digest = hashlib.sha256(data).hexdigest()
    name = f"seg-20200101T000000Z-20200101T000000Z-{digest[:16]}.ndjson.zst"
    return name, data, raw_bytes


def zero_bomb(frames: int) -> bytes:
    """``frames`` zstd frames of 128 MiB of zeros each (a few KB apiece)."""
    frame = zstandard.ZstdCompressor(level=1).compress(b"\0" * (128 << 20))
    return frame * frames
