"""Export and import streams: ndjson, json, csv, a seed-schema or aimem SQLite database.

Invariants:
- Export streams: rows are read in chunks and written as they come, so memory
  stays flat however large the repository. A file target is written to a temp
  file beside it and renamed into place only when complete (a reader never
  sees half an export).
- Import is all or nothing per file: every row is validated
  (``attempt_from_row``, naming ``FILE:LINE``) and staged before the write
  lock is taken, then merged inside ONE write transaction, in batches; any bad
  row refuses the whole file, so the repository is unchanged. Memory stays
  flat (one batch, one line at a time; see ``aimem.input_limits``).
- The write lock is held only for the merge, and announced while held
  (``WriteQueue.merging``), so concurrent writers wait for it instead of
  failing at their busy timeout.
- Import is idempotent: a record whose uid is already stored is skipped, so
  importing a file twice or two overlapping exports adds each record once.
  Aggregates and the search index are updated as if recorded one by one.
- ``dry_run`` runs the very same import and rolls it back, so its counts are
  exactly what a real import would do.

The export row format is ``aimem.records.EXPORT_COLUMNS``. The JSON export is
an array with one record per line, which import reads back line by line; any
other JSON array is split into its elements as it is read.
In CSV (``aimem.ops.csvformat``) the JSON fields are JSON text, booleans
``true``/``false``, a text starting like a spreadsheet formula has a leading
``'`` that import removes, and an empty cell is null (so CSV cannot tell an
empty ``notes`` from no notes).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import orjson

from aimem import input_limits
from aimem.errors import InvalidInputError
from aimem.fsutil import stdin_bytes
from aimem.input_limits import (
    exceeds_depth,
    iter_json_array,
    iter_lines,
    loads_bounded,
    too_deep,
    too_long,
)
from aimem.ops import csvformat
from aimem.ops.import_pipeline import Spool, read_messages
from aimem.records import EXPORT_COLUMNS, EXPORT_HINT, attempt_from_row, export_form
from aimem.store.sqlite import attempt_params
from aimem.timeutil import output_timestamp, since_timestamp

if TYPE_CHECKING:
    from aimem.store import Store

IMPORT_FORMATS = ("auto", "ndjson", "json", "csv", "sqlite")
SQLITE_HEADER = b"SQLite format 3\x00"
BATCH = 2000
Progress = Callable[[int], None]
_CSV_NULLABLE = {
    "id",
    "execution_time_seconds",
    "notes",
    "fingerprint",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "fixer_model",
}
_CSV_BOOL = {"true": True, "1": True, "false": False, "0": False}


# ---- shared helpers ---------------------------------------------------------


def parse_since(since: str | None) -> str | None:
    """``--since``: an ISO 8601 date or timestamp (naive = UTC), or ``Nd`` for N days ago."""
    if since is None or since == "":
        return None
    try:
        return since_timestamp(since)
    except ValueError as error:
        raise InvalidInputError(
            "since", str(error), hint="use 2025-01-15, 2025-01-15T12:00:00Z or 30d"
        ) from None


# ---- export -------------------------------------------------------------------


RECORD_FORMATS = ("ndjson", "json", "csv")
# What follows each record in a chunk: NDJSON lines; the inside of a JSON array.
SEPARATORS = {"ndjson": b"\n", "json": b",\n"}


def csv_chunks(chunks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[tuple[bytes, int]]:
    """(bytes, rows) of CSV rows of ready-made cells (``aimem.ops.csvformat``), a chunk at a time."""
    text = io.StringIO()
    writer = csvformat.writer(text)
    for rows in chunks:
        writer.writerows(rows)
        yield text.getvalue().encode(), len(rows)
        text.seek(0)
        text.truncate()


def record_chunks(rows: Iterable[dict[str, Any]], fmt: str) -> Iterator[tuple[bytes, int]]:
    """(bytes, rows) of export rows in ``fmt``, ``BATCH`` rows at a time, as ``write_chunks``
    takes them. Each row is a fresh dict (``Store.iter_rows``, an archive
    segment's): it is changed in place (``export_form``)."""
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        if fmt == "csv":
            cell = csvformat.cell
            cells = [
                [
                    cell(output_timestamp(row.get(c)) if c == "timestamp" else row.get(c))
                    for c in EXPORT_COLUMNS
                ]
                for row in batch
            ]
            yield from csv_chunks([cells])
        else:
            lines = [orjson.dumps(export_form(row)) for row in batch]
            lines.append(b"")
            yield SEPARATORS[fmt].join(lines), len(batch)


def write_chunks(
    out: BinaryIO,
    chunks: Iterable[tuple[bytes, int]],
    fmt: str,
    progress: Progress | None = None,
) -> int:
    """Write an export of records from (bytes, rows) chunks, one write per chunk;
    return the number of records.

    The one writer of every record export. ndjson: each chunk is lines ending
    in a newline. json: each chunk is records each followed by a comma and a
    newline; written as an array with one record per line. csv: each chunk is
    CSV rows (``csv_chunks``), after the header written here.
    """
    if fmt not in RECORD_FORMATS:
        raise InvalidInputError("format", f"{fmt!r} is not a record format")
    count = 0
    previous = b""
    if fmt == "json":
        out.write(b"[\n")
    elif fmt == "csv":
        out.write(next(csv_chunks([[EXPORT_COLUMNS]]))[0])
    for data, rows in chunks:
        if fmt == "json":
            # the last record's comma is dropped when the array is closed
            out.write(previous)
            previous = data
        else:
            out.write(data)
        count += rows
        if progress:
            progress(count)
    if fmt == "json":
        out.write(previous[:-2] + b"\n]\n" if previous else b"]\n")
    if progress:
        progress(count)
    return count


def write_records(
    out: BinaryIO, rows: Iterable[dict[str, Any]], fmt: str, progress: Progress | None = None
) -> int:
    """Stream export rows to ``out`` as ndjson, json (one record per line) or csv."""
    return write_chunks(out, record_chunks(rows, fmt), fmt, progress)


# ---- import: reading sources -----------------------------------------------


def import_format_for(path: Path | None, head: bytes, fmt: str) -> str:
    """Resolve ``auto``: the SQLite header, the file suffix, else the first byte."""
    if fmt not in IMPORT_FORMATS:
        raise InvalidInputError(
            "format", f"unknown import format {fmt!r}", hint="use " + ", ".join(IMPORT_FORMATS)
        )
    if fmt != "auto":
        return fmt
    if head.startswith(SQLITE_HEADER):
        return "sqlite"
    suffix = path.suffix.lower() if path is not None else ""
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    if suffix == ".csv":
        return "csv"
    if suffix in (".db", ".sqlite", ".sqlite3"):
        return "sqlite"
    first = head.lstrip()[:1]
    if first == b"[":
        return "json"
    if first == b"{":
        # A lone "{" on the first line is a pretty-printed document, not NDJSON.
        return "json" if head.lstrip().split(b"\n", 1)[0].strip() == b"{" else "ndjson"
    if suffix == ".json":
        return "json"
    return "csv" if head.strip() else "ndjson"


def iter_ndjson(stream: IO[bytes], source: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) per non-blank line; lines and nesting bounded (input_limits)."""
    for number, line in iter_lines(stream, source):
        if line.strip():
            yield number, loads_bounded(line, source, number)


def iter_json(stream: IO[bytes], source: str) -> Iterator[tuple[int, Any]]:
    """A JSON array of records, streamed: line by line in aimem's one-record-per-line
    layout, else element by element (``iter_json_array``)."""
    limit = input_limits.MAX_LINE_BYTES
    number, first = 0, b""
    while True:  # the first line that is not blank; an array on one line is no line
        first = stream.readline(limit + 1)
        number += 1
        if not first or first.strip() or len(first) > limit:
            break
    if first.strip() != b"[":
        yield from iter_json_array(stream, source, first, number)
        return
    lines = iter_lines(stream, source, number + 1)
    for number, raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line == b"]":
            break
        if line.endswith(b","):
            line = line[:-1]
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            if number <= 3:
                # Not aimem's one-record-per-line layout: split the rest as it comes.
                yield from iter_json_array(stream, source, b"[" + raw, number)
                return
            raise InvalidInputError("", "invalid JSON record", source, number) from None
        if line.count(b"{") + line.count(b"[") > input_limits.MAX_DEPTH and exceeds_depth(value):
            raise too_deep(source, number)
        yield number, value


def _csv_value(column: str, text: str, source: str, line: int) -> Any:
    if text == "" and (column in _CSV_NULLABLE or column in ("fix_commands", "system_info")):
        return None
    if column in ("fix_commands", "system_info"):
        try:
            return loads_bounded(text.encode(), source, line)
        except InvalidInputError as error:
            raise InvalidInputError(
                column, f"is not valid JSON text ({error.problem})", source, line
            ) from None
    if column in ("fix_success", "verification_success"):
        return _CSV_BOOL.get(text.strip().lower(), text)
    if column in ("execution_time_seconds", "cost_usd"):
        try:
            return float(text)
        except ValueError:
            return text
    if column in ("tokens_in", "tokens_out", "id"):
        try:
            return int(text)
        except ValueError:
            return text
    return text


class _CsvLines:
    """The text lines csv.reader asks for, each and every record bounded in bytes.

    A quoted field may span lines: ``record_bytes`` counts what was read since
    the last whole record (the reader resets it), so a record never grows past
    the limit either.
    """

    def __init__(self, stream: IO[bytes], source: str) -> None:
        self.lines = iter_lines(stream, source)
        self.source = source
        self.record_bytes = 0
        self.line = 0

    def __iter__(self) -> Iterator[str]:
        limit = input_limits.MAX_LINE_BYTES
        start = 1
        for number, raw in self.lines:
            self.line = number
            if self.record_bytes == 0:
                start = number
            self.record_bytes += len(raw)
            if self.record_bytes > limit:
                raise too_long(self.source, start, "a record")
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInputError("", "is not UTF-8 text", self.source, self.line) from None


def iter_csv(stream: IO[bytes], source: str) -> Iterator[tuple[int, Any]]:
    """Rows of a CSV export (header = export columns), typed back from text.

    Each cell loses the one leading ``'`` that the writer adds to a text starting
    like a formula or with ``'`` (``aimem.ops.csvformat``), so every value comes back exact.
    """
    csv.field_size_limit(input_limits.MAX_LINE_BYTES)
    read_cell = csvformat.read_cell
    lines = _CsvLines(stream, source)
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            return
        unknown = [c for c in header if c not in EXPORT_COLUMNS]
        if unknown:
            raise InvalidInputError(
                unknown[0], "is not a column of the export row format", source, 1, EXPORT_HINT
            )
        start = reader.line_num + 1
        lines.record_bytes = 0
        for cells in reader:
            lines.record_bytes = 0
            line = start
            start = reader.line_num + 1
            if not cells:
                continue
            if len(cells) != len(header):
                raise InvalidInputError(
                    "", f"has {len(cells)} fields, the header has {len(header)}", source, line
                )
            yield (
                line,
                {
                    c: _csv_value(c, read_cell(v), source, line)
                    for c, v in zip(header, cells, strict=True)
                },
            )
    except csv.Error as error:
        raise InvalidInputError("", f"invalid CSV: {error}", source, reader.line_num) from None


@contextmanager
def open_source(file: str | os.PathLike[str] | BinaryIO) -> Iterator[tuple[IO[bytes], str]]:
    """Open an import source (a path, ``-`` for stdin, or a binary stream) with its name."""
    if not isinstance(file, (str, os.PathLike)):
        yield file, getattr(file, "name", "<stream>")
        return
    if str(file) == "-":
        yield stdin_bytes(), "<stdin>"
        return
    path = Path(file)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InvalidInputError("", "no such file", str(path)) from None
    except IsADirectoryError:
        raise InvalidInputError("", "is a folder, not a file", str(path)) from None
    except OSError as error:
        raise InvalidInputError("", f"cannot read: {error.strerror}", str(path)) from None
    with handle:
        yield handle, str(path)


def _peek(stream: IO[bytes], size: int = 512) -> tuple[IO[bytes], bytes]:
    if stream.seekable():
        head = stream.read(size)
        stream.seek(0)
        return stream, head
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[type-var]
    return buffered, buffered.peek(size)[:size]


def iter_insert_rows(
    rows: Iterable[tuple[int, Any]], source: str, redact: bool
) -> Iterator[tuple[Any, ...]]:
    """Validate each (line, row) into the store's insert parameters (``attempt_params``);
    the first bad row raises ``FILE:LINE``."""
    for line, row in rows:
        yield attempt_params(attempt_from_row(row, redact=redact, source=source, line=line))


@contextmanager
def open_rows(
    file: str | os.PathLike[str] | BinaryIO, fmt: str = "auto"
) -> Iterator[tuple[str, str, Iterator[tuple[int, Any]]]]:
    """(source name, resolved format, iterator of (line, raw row)) of an import source."""
    from aimem.store.foreign import iter_database_rows

    with open_source(file) as (stream, source):
        stream, head = _peek(stream)
        path = Path(file) if isinstance(file, (str, os.PathLike)) and str(file) != "-" else None
        resolved = import_format_for(path, head, fmt)
        rows: Iterator[tuple[int, Any]]
        if resolved == "sqlite":
            if path is None:
                raise InvalidInputError(
                    "", "a SQLite database must be a file, not a stream", source
                )
            rows = iter_database_rows(path)
        elif resolved == "ndjson":
            rows = iter_ndjson(stream, source)
        elif resolved == "json":
            rows = iter_json(stream, source)
        else:
            rows = iter_csv(stream, source)
        yield source, resolved, rows


def import_records(
    store: Store,
    file: str | os.PathLike[str] | BinaryIO,
    fmt: str = "auto",
    *,
    dry_run: bool = False,
    redact: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Import one file all or nothing; return what was (or would be) added.

    The summary's keys: ``source``, ``format``, ``records`` (read), ``added``,
    ``already_present`` (uid already stored, or repeated in the file), ``dry_run``.
    """
    with Spool(store.scratch_folder()) as spool:
        with open_rows(file, fmt) as (source, resolved, rows):
            # Reading and validating, the slow part, happens before the write
            # lock is taken: writers wait only for the merge below.
            spool.stage(read_messages(iter_insert_rows(rows, source, redact)), progress)
        read, added = _merge(store, spool, dry_run)
    present = read - added
    if progress:
        progress(read)
    return {
        "source": source,
        "format": resolved,
        "records": read,
        "added": added,
        "already_present": present,
        "dry_run": dry_run,
    }


def _merge(store: Store, spool: Spool, dry_run: bool) -> tuple[int, int]:
    """Merge a staged import in ONE write transaction: (rows read, rows added)."""
    return store.merge_import(spool.replay(), dry_run=dry_run)


def import_rows(
    store: Store,
    rows: Iterable[tuple[int, Any]],
    source: str,
    *,
    redact: bool = True,
    dry_run: bool = False,
) -> tuple[int, int]:
    """Import export rows (each with its position for errors) all or nothing, exactly
    as ``import_records`` imports a file's; return (rows read, rows added).
    The rows are held in memory until merged: pass a bounded batch.
    """
    # Staged in memory: a caller passes one bounded batch, not a whole file.
    with Spool(None) as spool:
        spool.stage(read_messages(iter_insert_rows(rows, source, redact)))
        return _merge(store, spool, dry_run)
