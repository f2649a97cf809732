"""Bounds on what ``import`` and ``record --input`` read: line length and nesting depth.

Invariants:
- No line, JSON array element or CSV record longer than ``MAX_LINE_BYTES`` is
  ever held whole: a reader asks for at most one byte more than the limit and
  refuses as soon as it gets it, so memory stays flat in the input's size
  (a 1 GiB line costs what a 16 MiB one does).
- A JSON array is split into its top-level elements while it is read
  (``iter_json_array``), so an array on one line is streamed like NDJSON.
- No JSON value nested deeper than ``MAX_DEPTH`` levels reaches code that walks
  it recursively (redaction, serialisation): it is refused, naming the place.
- Every refusal is an ``InvalidInputError`` naming ``FILE:LINE``.

The limits are module attributes read at call time (tests shrink them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any, NoReturn

import orjson

from aimem.errors import InvalidInputError

# Real rows are under 11 MB (a record's prompt and response may each be 10 MB).
MAX_LINE_BYTES = 16 * 1024 * 1024
# Levels of arrays and objects in one record, counting the record itself.
MAX_DEPTH = 64
CHUNK = 1 << 20

# Outside strings only these bytes shape the array; a string is taken whole.
# A lone '"' is a string whose end has not been read yet.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},"]', re.DOTALL)
_SPACE = b" \t\r\n"


def size_text(size: int) -> str:
    """``16 MiB`` for a whole number of MiB, else bytes."""
    mib = 1024 * 1024
    return f"{size // mib} MiB" if size % mib == 0 else f"{size} bytes"


def too_long(source: str, line: int, what: str = "line") -> InvalidInputError:
    return InvalidInputError(
        "",
        f"{what} is longer than {size_text(MAX_LINE_BYTES)}, the limit for one record",
        source,
        line,
    )


def too_deep(source: str | None, line: int | None, field: str = "") -> InvalidInputError:
    return InvalidInputError(field, f"is nested deeper than {MAX_DEPTH} levels", source, line)


def iter_lines(stream: IO[bytes], source: str, first: int = 1) -> Iterator[tuple[int, bytes]]:
    """(line number, line with its newline) of ``stream``; a line over the limit is refused."""
    limit = MAX_LINE_BYTES
    number = first - 1
    readline = stream.readline
    while True:
        line = readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            raise too_long(source, number)
        yield number, line


def exceeds_depth(value: Any, limit: int | None = None) -> bool:
    """Whether ``value`` nests arrays and objects more than ``limit`` levels deep.

    Iterative, so a value deep enough to break recursion is still measured.
    """
    limit = MAX_DEPTH if limit is None else limit
    if not isinstance(value, (dict, list, tuple)):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, (dict, list, tuple)):
                stack.append((child, depth + 1))
    return False


def loads_bounded(data: bytes, source: str, line: int) -> Any:
    """One JSON text (a line, a cell) parsed and checked for depth, naming ``FILE:LINE``."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidInputError("", f"invalid JSON: {error.msg}", source, line) from None
    # A line with few brackets cannot nest deeply: the walk is for the rare rest.
    if data.count(b"{") + data.count(b"[") > MAX_DEPTH and exceeds_depth(value):
        raise too_deep(source, line)
    return value


class _Buffer:
    """The unread part of a stream, with the line number of each offset."""

    def __init__(self, stream: IO[bytes], head: bytes, first_line: int) -> None:
        self.stream = stream
        self.data = bytearray(head)
        self.eof = False
        self.line = first_line  # the line of offset ``counted``
        self.counted = 0

    def more(self, keep: int) -> int:
        """Drop everything before ``keep``, read a chunk; return how far offsets moved."""
        if self.eof:
            return 0
        shift = 0
        if keep > 0:
            self.line_at(keep)
            del self.data[:keep]
            self.counted -= keep
            shift = keep
        chunk = self.stream.read(CHUNK)
        if not chunk:
            self.eof = True
        self.data += chunk
        return shift

    def line_at(self, offset: int) -> int:
        if offset > self.counted:
            self.line += self.data.count(b"\n", self.counted, offset)
            self.counted = offset
        return self.line

    def skip_space(self, pos: int) -> tuple[int, int]:
        """(offset of the next non-space byte or len(data) at EOF, shift applied)."""
        shift = 0
        while True:
            data = self.data
            while pos < len(data) and data[pos] in _SPACE:
                pos += 1
            if pos < len(data) or self.eof:
                return pos, shift
            moved = self.more(pos)
            pos -= moved
            shift += moved


def iter_json_array(
    stream: IO[bytes], source: str, head: bytes = b"", first_line: int = 1
) -> Iterator[tuple[int, Any]]:
    """(line where it starts, value) of each element of a top-level JSON array.

    Reads ``head`` then ``stream`` in chunks and never holds more than one
    element (at most ``MAX_LINE_BYTES``) and one chunk. An element nested
    deeper than ``MAX_DEPTH`` is refused while it is read.
    """
    buf = _Buffer(stream, head, first_line)
    pos, _ = buf.skip_space(0)
    if pos >= len(buf.data) or buf.data[pos : pos + 1] != b"[":
        _not_an_array(buf, pos, source)
    pos += 1
    record = 0
    while True:
        pos, _ = buf.skip_space(pos)
        if pos >= len(buf.data):
            raise InvalidInputError(
                "", "invalid JSON: the array is not closed", source, buf.line_at(pos)
            )
        if record == 0 and buf.data[pos : pos + 1] == b"]":
            _expect_end(buf, pos + 1, source)
            return
        start, end, closing = _scan_element(buf, pos, source)
        line = buf.line_at(start)
        record += 1
        text = bytes(buf.data[start:end]).strip()
        if not text:
            raise InvalidInputError("", "invalid JSON: an array element is missing", source, line)
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise InvalidInputError(
                "", f"invalid JSON in record {record}: {error.msg}", source, line
            ) from None
        yield line, value
        pos = end + 1
        if closing:
            _expect_end(buf, pos, source)
            return


def _scan_element(buf: _Buffer, start: int, source: str) -> tuple[int, int, bool]:
    """Find the element at ``start``: (start, end, whether ']' closed the array).

    ``end`` is the offset of the ',' or ']' after the element. Offsets are in
    the buffer as it is on return (reading more drops what came before ``start``).
    """
    limit = MAX_LINE_BYTES
    depth = 0
    pos = start
    search = _TOKEN.search
    while True:
        match = search(buf.data, pos)
        if match is None or (match.end() - match.start() == 1 and buf.data[match.start()] == 34):
            # Nothing complete left in the buffer: read on (a lone '"' is a string
            # whose end is in the next chunk).
            resume = len(buf.data) if match is None else match.start()
            if len(buf.data) - start > limit:  # all of it belongs to this element
                raise too_long(source, buf.line_at(start), "the record starting here")
            if buf.eof:
                raise InvalidInputError(
                    "", "invalid JSON: unexpected end of the input", source, buf.line_at(start)
                )
            moved = buf.more(start)
            start -= moved
            pos = resume - moved
            continue
        char = match.group()
        at = match.start()
        if at - start > limit:
            raise too_long(source, buf.line_at(start), "the record starting here")
        pos = match.end()
        if len(char) > 1:  # a whole string
            continue
        if char in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise too_deep(source, buf.line_at(at))
        elif char in b"]}":
            if depth == 0:
                if char == b"}":
                    raise InvalidInputError(
                        "", "invalid JSON: unexpected '}'", source, buf.line_at(at)
                    )
                return start, at, True
            depth -= 1
        elif depth == 0:  # ','
            return start, at, False


def _expect_end(buf: _Buffer, pos: int, source: str) -> None:
    """Only white space may follow the array."""
    while True:
        pos, _ = buf.skip_space(pos)
        if pos >= len(buf.data):
            return
        raise InvalidInputError(
            "", "invalid JSON: text after the end of the array", source, buf.line_at(pos)
        )


def _not_an_array(buf: _Buffer, pos: int, source: str) -> NoReturn:
    """A document that is not an array: read it (bounded) only to say what it is."""
    limit = MAX_LINE_BYTES
    while not buf.eof and len(buf.data) <= limit:
        buf.more(0)
    if len(buf.data) > limit:
        raise InvalidInputError(
            "", "a JSON import must be an array of records", source, buf.line_at(pos)
        )
    try:
        document = orjson.loads(bytes(buf.data))
    except orjson.JSONDecodeError as error:
        raise InvalidInputError(
            "", f"invalid JSON: {error.msg}", source, buf.line + error.lineno - 1
        ) from None
    if isinstance(document, dict) and "statistics" in document and "model_insights" in document:
        raise InvalidInputError(
            "",
            "is an aimem report (export --format report), which holds no records",
            source,
            hint="export records with 'aimem export FILE --format ndjson' and import that",
        )
    raise InvalidInputError("", "a JSON import must be an array of records", source, buf.line)
