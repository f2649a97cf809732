"""Archive segments: immutable, content-addressed, zstd-compressed NDJSON files.

Invariants:
- A segment is never modified once written. It lives in ``AIMemory/archive/``
  (SQLite) or in the database, keyed by its sha256 (PostgreSQL); see
  aimem.ops.segment_storage.
  Its name carries its kind, time range and content hash:
  ``seg-20250101T000000Z-20250131T235959Z-<sha256[:16]>.ndjson.zst`` (``seg``
  holds full export rows; ``facts`` holds what aggregates need of purged rows).
  The sha256 is of the file's bytes, so ``sha256sum`` checks it outside aimem.
- The file is one zstd *skippable* frame holding a JSON header (format,
  version, kind, row count, time range, raw size), then zstd frames with
  content checksums holding NDJSON, one row per line. ``zstd -t`` accepts it
  and ``zstd -dc`` prints plain NDJSON (skippable frames produce no output).
- Rows inside a segment are grouped (issue type, model, fixer, signature, then
  id) and keys are written low-entropy first: similar rows sit next to each
  other, which is what lets a fast zstd search over a small window beat 0.9 of
  ``zstd -19``'s ratio on time-ordered rows. JSON objects are unordered, so the
  rows are still the export row format; ``iter_segment_rows`` yields them in
  file order.
- A segment is registered in ``aimem_segments`` only once it is durable and
  verified, or in the transaction that stores it (see aimem.ops.maintenance).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from aimem.errors import CorruptRepositoryError
from aimem.fsutil import fsync_dir, temp_path_for, translate_os_error
from aimem.records import EXPORT_COLUMNS
from aimem.timeutil import now_iso

FORMAT = "aimem-segment"
VERSION = 1
KIND_ROWS = "rows"
KIND_FACTS = "facts"
PREFIX = {KIND_ROWS: "seg", KIND_FACTS: "facts"}
SUFFIX = ".ndjson.zst"
SKIPPABLE_MAGIC = 0x184D2A50
# The longest row a segment may hold: a record is a few KB, one carrying
# long logs a few MB. Reading stops there, so a segment whose row has no
# end cannot make a reader buffer without bound.
MAX_ROW_BYTES = 64 << 20
HEADER_LIMIT = 1 << 20
READ_BLOCK = 1 << 20
# Rows per segment: bounds memory (a segment is built in memory) and the work
# a crash can interrupt; a big cleanup writes several segments.
SEGMENT_MAX_ROWS = 100_000
# Raw NDJSON bytes per zstd frame; frames are compressed in parallel threads
# while the next one is serialized (with a 128 KiB window, smaller frames lose
# next to nothing and keep both cores busy sooner).
FRAME_RAW_BYTES = 4 << 20
# Compression: a lazy2 search over a small (128 KiB) window with 6-byte minimum
# matches. Rows are grouped (GROUP_COLUMNS), so the similar rows are the near ones:
# a bigger window only lengthened the searches. Measured on the grouped rows of
# 100k demo attempts (bench/archive_bench.py; CPU seconds of one thread, 69 MB):
# window 2^23 and 5-byte matches (the previous setting) 0.905 of zstd -19's ratio
# on the time-ordered NDJSON in 1.18 s; this setting 0.963 in 0.82 s.
COMPRESSION = {
    "window_log": 17,
    "chain_log": 16,
    "hash_log": 16,
    "search_log": 5,
    "min_match": 6,
    "target_length": 32,
}
# Low-entropy keys first: one long match covers the repeated part of a row.
FIELD_ORDER = (
    "issue_type",
    "model_name",
    "fixer_type",
    "fixer_model",
    "issue_signature",
    "fingerprint",
    "description",
    "claude_analysis",
    "fix_commands",
    "fix_success",
    "verification_success",
    "notes",
    "system_info",
)
ROW_ORDER = FIELD_ORDER + tuple(c for c in EXPORT_COLUMNS if c not in FIELD_ORDER)
# What a purged row keeps: exactly what the aggregates are computed from.
FACT_FIELDS = (
    "issue_type",
    "model_name",
    "fixer_type",
    "issue_signature",
    "fingerprint",
    "fix_commands",
    "fix_success",
    "verification_success",
    "execution_time_seconds",
    "timestamp",
    "uid",
    # the cost rollup (older facts segments lack them: read as null)
    "cost_usd",
    "tokens_in",
    "tokens_out",
    "fixer_model",
)


def _compact(timestamp: str) -> str:
    # "2025-01-31 23:59:59.123456Z" -> "20250131T235959Z"
    digits = "".join(ch for ch in timestamp[:19] if ch.isdigit())
    return f"{digits[:8]}T{digits[8:14]}Z" if len(digits) >= 14 else "unknown"


def segment_name(kind: str, min_timestamp: str, max_timestamp: str, sha256: str) -> str:
    """The content-addressed file name of a segment."""
    return (
        f"{PREFIX[kind]}-{_compact(min_timestamp)}-{_compact(max_timestamp)}-{sha256[:16]}{SUFFIX}"
    )


def is_segment_name(name: str) -> bool:
    return name.endswith(SUFFIX) and name.split("-", 1)[0] in PREFIX.values()


# Rows inside a segment are grouped by these columns (id order inside a group).
# Measured (100k demo rows, this compression): 0.952 of zstd -19's ratio; the
# previous order, which also sorted by the text columns, 0.960 but cost ~0.7 s
# more CPU per 100k rows to sort.
GROUP_COLUMNS = ("issue_type", "model_name", "fixer_type", "issue_signature")


def fields_for(kind: str) -> tuple[str, ...]:
    """The columns a segment of ``kind`` stores, in the order they are written."""
    return ROW_ORDER if kind == KIND_ROWS else FACT_FIELDS


def _compressor() -> Any:
    import zstandard

    params = zstandard.ZstdCompressionParameters(
        strategy=zstandard.STRATEGY_LAZY2, write_checksum=True, **COMPRESSION
    )
    return zstandard.ZstdCompressor(compression_params=params)


def encode_segment(
    rows: Sequence[Sequence[Any]],
    kind: str = KIND_ROWS,
    rebuilt: dict[int, bytes] | None = None,
) -> tuple[bytes, dict[str, Any], str]:
    """Build a segment's bytes: (bytes, index entry, sha256 of the raw NDJSON).

    ``rows`` are ``Store.archive_page`` rows, already in segment order
    (GROUP_COLUMNS): (JSON line's UTF-8 bytes with the keys ``fields_for(kind)``,
    timestamp, id, ...). A row whose id is in ``rebuilt`` is written as the
    line found there (built from its values: SQLite could not build it exactly).
    """
    rebuilt = rebuilt or {}
    if not rows:
        raise ValueError("a segment needs at least one row")
    fields = fields_for(kind)
    workers = max(1, min(4, os.cpu_count() or 1))
    from concurrent.futures import ThreadPoolExecutor  # here: open and stats never need it

    pool = ThreadPoolExecutor(max_workers=workers)
    futures = []
    raw_hash = hashlib.sha256()
    raw_bytes = 0
    pending: list[bytes] = []
    size = 0
    stamps = [row[1] for row in rows]
    low, high = min(stamps), max(stamps)

    def frame(lines: list[bytes]) -> None:
        nonlocal raw_bytes
        lines.append(b"")
        chunk = b"\n".join(lines)
        # Compress while the next frame is serialized (zstd releases the GIL);
        # each raw frame is hashed and let go, not kept for the whole segment.
        futures.append(pool.submit(lambda c: _compressor().compress(c), chunk))
        raw_hash.update(chunk)
        raw_bytes += len(chunk)

    for line, _, row_id, *_ in rows:
        pending.append(rebuilt.get(row_id, line) if rebuilt else line)
        size += len(pending[-1]) + 1
        if size >= FRAME_RAW_BYTES:
            frame(pending)
            pending, size = [], 0
    if pending:
        frame(pending)
    frames = [f.result() for f in futures]
    pool.shutdown()
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "row_count": len(rows),
        "min_timestamp": low,
        "max_timestamp": high,
        "raw_bytes": raw_bytes,
        "raw_sha256": raw_hash.hexdigest(),
        "fields": list(fields),
    }
    header_bytes = orjson.dumps(header)
    data = b"".join([struct.pack("<II", SKIPPABLE_MAGIC, len(header_bytes)), header_bytes, *frames])
    sha = hashlib.sha256(data).hexdigest()
    entry = {
        "name": segment_name(kind, header["min_timestamp"], header["max_timestamp"], sha),
        "kind": kind,
        "sha256": sha,
        "row_count": len(rows),
        "min_timestamp": header["min_timestamp"],
        "max_timestamp": header["max_timestamp"],
        "raw_bytes": raw_bytes,
        "compressed_bytes": len(data),
        "created_at": now_iso(),
    }
    return data, entry, header["raw_sha256"]


def verify_written(data: bytes, name: str, entry: dict[str, Any], raw_sha256: str) -> str | None:
    """Check a just-stored segment's bytes, as read back from where they were
    stored: None when they hash to the entry and decompress (checksums verified)
    to exactly the NDJSON that was encoded."""
    import zstandard

    if (
        len(data) != entry["compressed_bytes"]
        or hashlib.sha256(data).hexdigest() != entry["sha256"]
    ):
        return "its bytes differ from what was written"
    try:
        _, offset = read_header(data, name)
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data[offset:]), read_across_frames=True
        )
        raw = hashlib.sha256()
        size = lines = 0
        while block := reader.read(1 << 22):
            raw.update(block)
            size += len(block)
            lines += block.count(b"\n")
    except (CorruptRepositoryError, zstandard.ZstdError) as error:
        return str(error)
    if raw.hexdigest() != raw_sha256 or size != entry["raw_bytes"] or lines != entry["row_count"]:
        return "it does not decompress to the rows that were selected"
    return None


def write_durably(folder: Path, name: str, data: bytes) -> Path:
    """Temp file, write, fsync, rename, fsync the folder; return the final path."""
    target = folder / name
    temp = temp_path_for(target)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        fsync_dir(folder)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise translate_os_error(error, target) from error
    return target


def read_header(data: bytes, name: str = "segment") -> tuple[dict[str, Any], int]:
    """The segment header and the offset of the first data frame (format checked first)."""
    if len(data) < 8:
        raise CorruptRepositoryError(f"{name}: too short to be a segment")
    magic, length = struct.unpack_from("<II", data, 0)
    if magic != SKIPPABLE_MAGIC or 8 + length > len(data):
        raise CorruptRepositoryError(f"{name}: no aimem segment header")
    try:
        header = orjson.loads(data[8 : 8 + length])
    except orjson.JSONDecodeError:
        raise CorruptRepositoryError(f"{name}: unreadable segment header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CorruptRepositoryError(f"{name}: not an aimem segment")
    if header.get("version") != VERSION:
        raise CorruptRepositoryError(
            f"{name}: segment format version {header.get('version')} is not {VERSION}",
            hint="upgrade aimem",
        )
    return header, 8 + length


def split_lines(reader: Any, name: str, limit: int | None = None) -> Iterator[bytes]:
    """The lines of a stream (``read(n)``), each at most ``limit`` bytes.

    Linear in the stream's size: a line that spans blocks is kept as pieces
    and joined once (joining at every block made a line without a newline
    quadratic), and refused as soon as it outgrows ``limit``.
    """
    limit = MAX_ROW_BYTES if limit is None else limit
    pieces: list[bytes] = []
    pending = 0
    while block := reader.read(READ_BLOCK):
        lines = block.split(b"\n")
        tail = lines.pop()
        if lines:
            if pieces:
                pieces.append(lines[0])
                lines[0] = b"".join(pieces)
                pieces, pending = [], 0
                if len(lines[0]) > limit:
                    raise CorruptRepositoryError(f"{name}: a row is longer than {limit} bytes")
            yield from lines
        if tail:
            pieces.append(tail)
            pending += len(tail)
            if pending > limit:
                raise CorruptRepositoryError(f"{name}: a row is longer than {limit} bytes")
    if pieces:
        raise CorruptRepositoryError(f"{name}: truncated (last row has no end)")


def iter_lines(data: bytes, offset: int, name: str = "segment") -> Iterator[bytes]:
    """Decompressed NDJSON lines of a segment's data frames (checksums verified)."""
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(data[offset:]), read_across_frames=True
    )
    try:
        yield from split_lines(reader, name)
    except zstandard.ZstdError as error:
        raise CorruptRepositoryError(f"{name}: cannot decompress: {error}") from None


class _Counting:
    """A stream's bytes, hashed and counted as read; reading stops past ``limit``."""

    def __init__(self, reader: Any, limit: int) -> None:
        self.reader = reader
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        if self.size > self.limit:
            return b""
        block: bytes = self.reader.read(size)
        self.size += len(block)
        self.digest.update(block)
        return block


def check_stream(reader: Any, name: str, expected: dict[str, Any]) -> str | None:
    """Read a segment from a stream (a bundle member); None when it is sound, else why.

    ``expected`` is its segment-index entry (``kind``, ``row_count``,
    ``raw_bytes``). The work is bounded before it is done: the header is at
    most HEADER_LIMIT bytes, decompression stops past the header's raw size or
    row count, and a row longer than MAX_ROW_BYTES is refused, so a small file
    that inflates without end is refused after MAX_ROW_BYTES at most.
    """
    import zstandard

    prefix = reader.read(8)
    if len(prefix) < 8:
        return "too short to be a segment"
    magic, length = struct.unpack("<II", prefix)
    if magic != SKIPPABLE_MAGIC or length > HEADER_LIMIT:
        return "no aimem segment header"
    head = prefix + reader.read(length)
    try:
        header, _ = read_header(head, name)
    except CorruptRepositoryError as error:
        return str(error).replace(f"{name}: ", "")
    header.setdefault("kind", KIND_ROWS)  # segments from before purge segments existed
    for key in ("kind", "row_count", "raw_bytes"):
        if header.get(key) != expected.get(key):
            return f"its header's {key} {header.get(key)!r} differs from the segment index"
    raw = _Counting(
        zstandard.ZstdDecompressor().stream_reader(reader, read_across_frames=True),
        expected["raw_bytes"],
    )
    rows = 0
    try:
        for line in split_lines(raw, name):
            rows += 1
            if rows > expected["row_count"]:
                return "it holds more rows than its header says"
            row = orjson.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("timestamp"), str):
                return f"row {rows} is not a record with a timestamp"
    except zstandard.ZstdError as error:
        return f"cannot decompress: {error}"
    except orjson.JSONDecodeError:
        return f"row {rows} is not JSON"
    except CorruptRepositoryError as error:
        if raw.size > expected["raw_bytes"]:  # reading stopped there, mid-row
            return "it holds more data than its header says"
        return str(error).replace(f"{name}: ", "")
    if raw.size > expected["raw_bytes"]:
        return "it holds more data than its header says"
    if rows != expected["row_count"] or raw.size != expected["raw_bytes"]:
        return f"{rows} rows in {raw.size} bytes, its header says {expected['row_count']} rows"
    if header.get("raw_sha256") not in (None, raw.digest.hexdigest()):
        return "its rows do not match the header's sha256"
    return None


def iter_segment_rows(path: Path, expected_sha256: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows of one segment file in file order (export row format for ``seg`` files)."""
    return iter_segment_data(read_bytes(path), path.name, expected_sha256)


def iter_segment_data(
    data: bytes, name: str, expected_sha256: str | None = None
) -> Iterator[dict[str, Any]]:
    """Rows of one segment's bytes in their order (its sha256 checked first when given)."""
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise CorruptRepositoryError(f"{name}: sha256 does not match the segment index")
    _, offset = read_header(data, name)
    for n, line in enumerate(iter_lines(data, offset, name), 1):
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError:
            raise CorruptRepositoryError(f"{name}: row {n} is not JSON") from None


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CorruptRepositoryError(f"segment {path.name} is missing from {path.parent}") from None
    except OSError as error:
        raise CorruptRepositoryError(f"cannot read segment {path}: {error.strerror}") from None


def verify_segment(
    path: Path, entry: dict[str, Any] | None = None, uids: list[str] | None = None
) -> list[tuple[str, str]]:
    """Every problem of one segment file as (kind, detail); empty when it is sound."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [("missing-segment", "the file is gone")]
    except OSError as error:
        return [("unreadable-segment", str(error.strerror))]
    return verify_segment_data(data, path.name, entry, uids)


def verify_segment_data(
    data: bytes, name: str, entry: dict[str, Any] | None = None, uids: list[str] | None = None
) -> list[tuple[str, str]]:
    """Every problem of one segment's bytes as (kind, detail); empty when it is sound.

    Checks the hash (against its name and the index entry), the header, every
    frame's checksum, that every row parses, and the row count and time range.
    Each row's uid is appended to ``uids`` when given.
    """
    problems: list[tuple[str, str]] = []
    sha = hashlib.sha256(data).hexdigest()
    parts = name[: -len(SUFFIX)].rsplit("-", 1)
    if len(parts) != 2 or not sha.startswith(parts[1]):
        problems.append(("hash-mismatch", f"sha256 {sha[:16]} does not match the name"))
    if entry is not None and sha != entry["sha256"]:
        if not problems:
            problems.append(("hash-mismatch", f"sha256 {sha[:16]} does not match the index"))
        if len(data) != entry["compressed_bytes"]:
            problems.append(
                ("size-mismatch", f"{len(data)} bytes, the index says {entry['compressed_bytes']}")
            )
    try:
        header, offset = read_header(data, name)
        count = 0
        low = high = None
        for line in iter_lines(data, offset, name):
            row = orjson.loads(line)
            count += 1
            ts = row.get("timestamp") if isinstance(row, dict) else None
            if not isinstance(ts, str):
                raise CorruptRepositoryError(f"row {count} has no timestamp")
            if uids is not None:
                uids.append(str(row.get("uid")))
            low = ts if low is None or ts < low else low
            high = ts if high is None or ts > high else high
    except (CorruptRepositoryError, orjson.JSONDecodeError) as error:
        problems.append(("unreadable-segment", str(error).replace(f"{name}: ", "")))
        return problems
    expected = entry["row_count"] if entry is not None else header["row_count"]
    if count != expected or count != header["row_count"]:
        problems.append(("row-count", f"{count} rows, expected {expected}"))
    if entry is not None and (low, high) != (entry["min_timestamp"], entry["max_timestamp"]):
        problems.append(("time-range", f"rows span {low}..{high}, the index says otherwise"))
    return problems
