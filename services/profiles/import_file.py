"""The import file: profiles as `profile-matcher import FILE` and seeding read them.

Files come as a JSON list of profiles, as JSON Lines (one profile per line), or as a
single profile object (pretty-printed or not, like `data/profile.json`). They are
read in fixed-size chunks and decoded one record at a time, so a file of millions of
profiles needs memory for one chunk and one batch, not for the file.

Each record comes out as a document, or as the reason it is unusable; the import
(`import_profiles`) validates the documents and rejects the bad ones with their
index and reason, and carries on. A JSON syntax error rejects one line of a JSON Lines file; in
a JSON list nothing after it can be trusted, so the import of that file stops there
(every record before it is kept). So do the values Python's json module cannot
read or no store can hold (see `json_text`): an integer too long to convert is out
of range, like any other; nesting too deep to decode, or a lone UTF-16 surrogate
escape, rejects the record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol, TypeAlias

from services.domain.json_text import (
    LONE_SURROGATE,
    MAX_NESTING,
    SURROGATE_ESCAPE,
    format_path,
    lone_surrogate_path,
    parse_int_literal,
    too_deep,
)

# (index of the record in the file, the document or None, why it is unusable or None)
Record: TypeAlias = tuple[int, dict[str, Any] | None, str | None]

CHUNK_CHARS = 64 * 1024
# A profile is around a kilobyte; a "record" that keeps growing past this is a broken
# file (an unclosed string or bracket), and reading on would load all of it.
MAX_RECORD_CHARS = 4 * 1024 * 1024

_WHITESPACE = " \t\r\n"
_LONG_INTS = json.JSONDecoder(parse_int=parse_int_literal)


class TextSource(Protocol):
    """What the reader needs of a stream: any text file object (TextIO) has it."""

    def read(self, size: int, /) -> str: ...


class _Reader:
    """A window over a text stream, filled a chunk at a time, for raw_decode."""

    def __init__(self, stream: TextSource) -> None:
        self._stream = stream
        self.buf = ""
        self.pos = 0
        self.eof = False
        # Newlines in the text already dropped from the window, for line numbers, and
        # the characters after the last of them, for column numbers.
        self._dropped_lines = 0
        self._dropped_columns = 0
        # Where the last value decode returned is in the window (until the next fill).
        self.last_span = (0, 0)

    def fill(self) -> bool:
        """Reads one more chunk; False at the end of the stream."""
        if self.eof:
            return False
        chunk = self._stream.read(CHUNK_CHARS)
        if not chunk:
            self.eof = True
            return False
        if self.pos > CHUNK_CHARS:
            newlines = self.buf.count("\n", 0, self.pos)
            self._dropped_lines += newlines
            last_newline = self.buf.rfind("\n", 0, self.pos) if newlines else -1
            self._dropped_columns = (0 if newlines else self._dropped_columns) + (
                self.pos - last_newline - 1
            )
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += chunk
        return True

    def skip_whitespace(self) -> bool:
        """Moves past whitespace; False when only whitespace remains."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return True
            if not self.fill():
                return False

    def peek(self) -> str:
        return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def line_at(self, pos: int) -> int:
        return self._dropped_lines + self.buf.count("\n", 0, pos) + 1

    def line_and_column(self, pos: int) -> str:
        """Where `pos` is, as editors show it: both counted from 1."""
        newline = self.buf.rfind("\n", 0, pos)
        column = pos - newline if newline >= 0 else self._dropped_columns + pos + 1
        return f"line {self.line_at(pos)} column {column}"

    def decode(self, decoder: json.JSONDecoder) -> Any:
        """The JSON value at the current position; reads more while it is incomplete.

        Raises JSONDecodeError (positions relative to the window) when the value is
        malformed, or ValueError when it outgrows MAX_RECORD_CHARS or nests too deep
        to decode. The position only moves on success, so on an error `pos` is still
        where the value starts.
        """
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
            except RecursionError:
                raise ValueError(self._nesting_problem()) from None
            except json.JSONDecodeError as exc:
                # A value cut off by the end of the window fails on its last line, with
                # no newline after the failing spot (a string cannot hold a raw newline,
                # so this holds for "unterminated string" too). With a newline after
                # it, the text there is complete, and wrong.
                if self.eof or self.buf.find("\n", exc.pos) >= 0:
                    raise
                self._grow()
                continue
            except ValueError:
                # An integer too long for Python to convert: read again, with it as
                # one out of every range, so that validation names its field.
                if decoder is _LONG_INTS:
                    raise
                decoder = _LONG_INTS
                continue
            if end == len(self.buf) and not self.eof:
                # A number can end at the window's edge and still go on in the next chunk.
                self._grow()
                continue
            self.last_span = (self.pos, end)
            self.pos = end
            return value

    def _nesting_problem(self) -> str:
        found = too_deep(self.buf, self.pos)
        where = f"{format_path(found[1])}: " if found else ""
        return f"{where}nested more than {MAX_NESTING} levels deep"

    def _grow(self) -> None:
        if len(self.buf) - self.pos > MAX_RECORD_CHARS:
            raise ValueError(f"record is longer than {MAX_RECORD_CHARS} characters")
        self.fill()

    def resync(self) -> None:
        """Moves to the next line that starts with '{' (or to the end of the text).

        That is where the next JSON Lines record, or the next top-level object of
        concatenated pretty-printed ones, begins; the lines of a broken record before
        it would otherwise each be misread as a record of their own.
        """
        search_from = self.pos + 1
        while True:
            found = self.buf.find("\n{", search_from)
            if found >= 0:
                self.pos = found + 1
                return
            # All but the last character is skipped text and may be dropped from the
            # window; the last may be the newline of a "\n{" split across chunks.
            self.pos = max(self.pos, len(self.buf) - 1)
            if not self.fill():
                self.pos = len(self.buf)
                return
            search_from = self.pos


def iter_profile_documents(stream: TextSource) -> Iterator[Record]:
    """Yields every record of a JSON list, JSON Lines, or single-object text stream.

    Each item is (index, document, None) or (index, None, reason) for a record that is
    not a JSON object or not valid JSON. The stream is only ever read a chunk at a time.
    """
    reader = _Reader(stream)
    if not reader.skip_whitespace():
        return
    if reader.peek() == "\ufeff":
        reader.pos += 1
        if not reader.skip_whitespace():
            return
    if reader.peek() == "[":
        reader.pos += 1
        yield from _list_records(reader)
    else:
        yield from _line_records(reader)


def _list_records(reader: _Reader) -> Iterator[Record]:
    decoder = json.JSONDecoder()
    index = 0
    if reader.skip_whitespace() and reader.peek() == "]":
        reader.pos += 1
        yield from _trailing(reader, index)
        return
    while True:
        if not reader.skip_whitespace():
            yield index, None, "the JSON list is not closed with ']'"
            return
        try:
            value = reader.decode(decoder)
        except json.JSONDecodeError as exc:
            yield index, None, _syntax(reader, exc) + "; the rest of the list was not read"
            return
        except ValueError as exc:
            line = reader.line_at(reader.pos)
            yield index, None, f"line {line}: {exc}; the rest of the list was not read"
            return
        yield _record(reader, index, value)
        index += 1
        if not reader.skip_whitespace():
            yield index, None, "the JSON list is not closed with ']'"
            return
        separator = reader.peek()
        reader.pos += 1
        if separator == "]":
            yield from _trailing(reader, index)
            return
        if separator != ",":
            line = reader.line_at(reader.pos - 1)
            yield (
                index,
                None,
                f"line {line}: expected ',' or ']' after record {index},"
                f" found {separator!r}; the rest of the list was not read",
            )
            return


def _trailing(reader: _Reader, index: int) -> Iterator[Record]:
    if reader.skip_whitespace():
        line = reader.line_at(reader.pos)
        yield index, None, f"line {line}: unexpected text after the closing ']'"


def _line_records(reader: _Reader) -> Iterator[Record]:
    decoder = json.JSONDecoder()
    index = 0
    while reader.skip_whitespace():
        try:
            value = reader.decode(decoder)
        except (json.JSONDecodeError, ValueError) as exc:
            first_line = reader.line_at(reader.pos)
            if isinstance(exc, json.JSONDecodeError):
                reason = _syntax(reader, exc)
            else:
                reason = f"line {first_line}: {exc}"
            reader.resync()
            last_line = reader.line_at(reader.pos) - 1
            if last_line > first_line:
                reason += f" (lines {first_line}-{last_line} skipped)"
            yield index, None, reason
        else:
            yield _record(reader, index, value)
        index += 1


def _syntax(reader: _Reader, exc: json.JSONDecodeError) -> str:
    return f"{reader.line_and_column(exc.pos)}: invalid JSON: {exc.msg}"


def _record(reader: _Reader, index: int, value: Any) -> Record:
    if isinstance(value, dict):
        start, end = reader.last_span
        # find() first: a plain substring search costs a fraction of the regex's.
        if (
            reader.buf.find("\\u", start, end) < 0
            or SURROGATE_ESCAPE.search(reader.buf, start, end) is None
        ):
            return index, value, None
        path = lone_surrogate_path(value)
        if path is None:
            return index, value, None
        return index, None, f"line {reader.line_at(start)}: {path}: {LONE_SURROGATE}"
    if value is None:
        kind = "null"
    elif isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, int | float):
        kind = "a number"
    elif isinstance(value, str):
        kind = "a string"
    else:
        kind = "a list"
    return index, None, f"a profile must be a JSON object, got {kind}"
