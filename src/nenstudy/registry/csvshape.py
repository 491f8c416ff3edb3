"""A CSV file's shape where DuckDB's reader says too little: blank rows, bad rows, line endings.

DuckDB's CSV reader skips blank lines, so that after one the rowid of a record no longer gives its
spreadsheet row, and it stops at the first malformed record. The pass over the file's bytes the
import makes anyway (:func:`byte_pass`, which also hashes the file) counts the lines; only when
there are more than the records read and two line breaks follow each other somewhere
(:func:`may_have_blank_rows`; values holding line breaks alone shift no row), or when DuckDB could
not read the file, is it read again here with Python's :mod:`csv` module, which counts blank lines
as rows (as a spreadsheet does) and goes on past a malformed record, so that every one is listed.
Messages never quote a row's content: it may hold patient identifiers.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

__all__ = [
    "BlankRows", "plain_spaces", "byte_pass", "may_have_blank_rows", "blank_rows", "skipped_rows",
    "shape_problems", "rows_with_values", "MAX_INNER_BLANK_ROWS",
]

MAX_INNER_BLANK_ROWS = 64
"""Blank rows between records that are mapped to spreadsheet rows; more is a file error (the
mapping is a list test per record)."""

_BLOCK = 8 << 20
_WHITESPACE = " \t\n\r\u00a0"
"""What a value is trimmed of (as :data:`nenstudy.registry.sql.WHITESPACE`)."""
_NOT_PLAIN = (b"\t", b'"', b"\xa0")
"""Bytes that may surround a value besides spaces. Not CR: outside quotes DuckDB's reader refuses
a CR anywhere but in a line ending (CRLF), so a file without quotes has none in its values."""


def _blocks(path: Path) -> Iterator[memoryview]:
    """The bytes of a file, block by block, read into one reused buffer (no allocation per
    block, so no fresh pages to fault in): each block is valid until the next is read."""
    buffer = bytearray(min(_BLOCK, max(path.stat().st_size, 1)))
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            yield view[:n]


def plain_spaces(path: Path) -> bool:
    """Whether a file holds no tab, quote or byte 0xA0: then only spaces can surround a value
    (see :func:`nenstudy.registry.sources.trimmed_sql`); line endings may be CRLF.

    Any byte 0xA0 (also a UTF-8 continuation byte, as in "à") only makes the answer a cautious
    no. About 0.08 s for 490 MB: it is answered before DuckDB reads the file, since it decides
    how the cells are trimmed. Stops at the first such byte.
    """
    for block in _blocks(path):
        # ``in`` on bytes searches with memchr; a memoryview has no such search
        data = block.obj if len(block) == len(block.obj) else block.tobytes()
        if any(byte in data for byte in _NOT_PLAIN):
            return False
    return True


def _count_line_breaks(block: memoryview) -> int:
    """Line breaks in a block, counted on the buffer itself (no copy) when the block fills it.

    numpy counts faster, but importing it (and starting its BLAS threads) costs more CPU than
    it saves here: about 0.2 CPU-s against 0.07 for the 490 MB of 10^6 patients.
    """
    data = block.obj if len(block) == len(block.obj) else block.tobytes()
    return data.count(b"\n")


def byte_pass(path: Path, *, digest: bool, lines: bool) -> tuple[str | None, int | None]:
    """One pass over a file's bytes: its SHA-256 (if ``digest``) and its lines (if ``lines``).

    Made while DuckDB reads the files (hashing and counting let other threads run), instead of
    a pass of its own before each read: the line count is needed only once the file is read (see
    :func:`may_have_blank_rows`).

    Returns
    -------
    (str or None, int or None)
        The hex digest and the number of lines (a last line without a line break counts).
    """
    sha = hashlib.sha256() if digest else None
    n_lines, last = 0, 10
    for block in _blocks(path):
        if sha is not None:
            sha.update(block)
        if lines:
            n_lines += _count_line_breaks(block)
            last = block[-1]
    return (None if sha is None else sha.hexdigest(),
            n_lines + (last != 10) if lines else None)


_BLANK_LINE = (b"\n\n", b"\n\r\n", b"\r\r")


def may_have_blank_rows(path: Path, n_lines: int, n_records: int) -> bool:
    """Whether a CSV file of ``n_lines`` lines (see :func:`byte_pass`) may hold blank rows.

    With one record per line after the header there are ``n_records + 1`` lines; more lines mean
    blank rows (which DuckDB skips) or values holding line breaks, and only blank rows shift the
    spreadsheet row numbers. Without two line breaks in a row anywhere (LF, CRLF or CR endings)
    there is none, so the rows need not be read again (:func:`blank_rows`); a blank line inside
    a quoted value answers yes too, a cautious answer.
    """
    if n_lines == n_records + 1:
        return False
    previous = b""
    for block in _blocks(path):
        data = previous + block.tobytes()
        if any(pair in data for pair in _BLANK_LINE):
            return True
        previous = data[-2:]
    return False


def _reader(path: Path, encoding: str, *, strict: bool = True):
    """A csv reader that splits rows as DuckDB does; undecodable bytes are replaced (only the
    rows and the number of values are looked at, never the text)."""
    # A long free-text cell must not pass for a malformed file (the default limit is 128 KiB).
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    handle = open(path, newline="", encoding="utf-8-sig" if encoding == "utf-8" else encoding,
                  errors="replace")
    # A space before an opening quote still opens a quoted value, as in DuckDB's reader.
    return handle, csv.reader(handle, strict=strict, skipinitialspace=True)


@dataclass(frozen=True)
class BlankRows:
    """Blank rows of a CSV file that DuckDB skipped.

    Attributes
    ----------
    inner
        Spreadsheet rows of the blank rows that come before a record.
    records_before
        For each of ``inner``, the number of records before it.
    trailing
        Number of blank rows after the last record (they shift no row number).
    """

    inner: tuple[int, ...]
    records_before: tuple[int, ...]
    trailing: int

    def row_sql(self) -> str:
        """SQL giving the spreadsheet row of a record from its rowid (0 = first record)."""
        if not self.inner:
            return "rowid + 2"
        before = ", ".join(str(n) for n in self.records_before)
        return f"rowid + 2 + len(list_filter([{before}], lambda n: n <= rowid))"


def _rows_left_out(path: Path, encoding: str, kept: Callable[[list[str]], bool], *,
                   strict: bool) -> tuple[BlankRows, int]:
    """The rows after the header (row 1) that ``kept`` does not keep, as :class:`BlankRows`,
    and the number of rows kept."""
    handle, reader = _reader(path, encoding, strict=strict)
    inner: list[int] = []
    before: list[int] = []
    pending: list[int] = []
    records = 0
    with handle:
        next(reader, None)  # the header, row 1 (the first line is never blank here)
        for number, fields in enumerate(reader, start=2):
            if kept(fields):
                for row in pending:
                    inner.append(row)
                    before.append(records)
                pending = []
                records += 1
            else:
                pending.append(number)
    return BlankRows(tuple(inner), tuple(before), len(pending)), records


def blank_rows(path: Path, encoding: str) -> BlankRows:
    """Find the blank rows of a CSV file (the header is row 1), one DuckDB has read.

    Raises
    ------
    csv.Error
        When Python's reader cannot read the file that DuckDB read.
    """
    return _rows_left_out(path, encoding, bool, strict=False)[0]


def skipped_rows(path: Path, encoding: str, n_fields: int) -> tuple[BlankRows, int]:
    """The rows of a CSV file that a reader skipping malformed rows leaves out: blank rows and
    rows whose number of values is not the header's; and the number of records it keeps.

    For a file whose only malformed rows have the wrong number of values (see
    :func:`shape_problems`), read by DuckDB with ``ignore_errors``: the kept records are then
    numbered as a spreadsheet numbers them (:meth:`BlankRows.row_sql`).
    """
    return _rows_left_out(path, encoding, lambda fields: len(fields) == n_fields, strict=True)


def rows_with_values(path: Path, encoding: str, positions: list[int], limit: int = 20
                     ) -> dict[int, list[int]]:
    """For each column position (from 1), the first ``limit`` spreadsheet rows (the header is
    row 1) holding a value other than whitespace in it: for columns the importer leaves out
    (those without a name), so that their values can be found."""
    found: dict[int, list[int]] = {p: [] for p in positions}
    handle, reader = _reader(path, encoding, strict=False)
    with handle:
        next(reader, None)
        for number, fields in enumerate(reader, start=2):
            for position in positions:
                rows = found[position]
                if (len(rows) < limit and position <= len(fields)
                        and fields[position - 1].strip(_WHITESPACE)):
                    rows.append(number)
            if all(len(rows) >= limit for rows in found.values()):
                break
    return found


def _problem(file: str, rule: str, message: str, row: int | None = None) -> dict:
    return {"severity": "error", "file": file, "row": row, "column": None, "value": None,
            "rule": rule, "message": message}


def _mixed_line_endings(path: Path) -> int | None:
    """Line number of the first line whose ending differs from the first line's, if any."""
    first_crlf = None
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                return None  # the last line, without a line break
            crlf = line.endswith(b"\r\n")
            if first_crlf is None:
                first_crlf = crlf
            elif crlf != first_crlf:
                return number
    return None


_MAX_LISTED_LINES = 20
"""Lines listed one by one for a problem found line by line (then one problem counts the rest)."""


def _lone_carriage_returns(path: Path) -> list[int]:
    """Lines (of a file whose lines end with LF or CRLF) holding a carriage return that is not
    part of the line ending, in a line without quotes (so outside any quoted value)."""
    found: list[int] = []
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                break  # the last line, or a file without LF (old Mac CR line endings)
            if b"\r" in line[:-2] and b'"' not in line:
                found.append(number)
    return found


def shape_problems(path: Path, encoding: str, n_fields: int) -> list[dict]:
    """Every malformed row of a CSV file that DuckDB could not read (none: an empty list).

    A record with more or fewer fields than the header, a quote that is never closed or sits
    inside an unquoted value, and line endings that change from one line to the next (CRLF and
    LF mixed, which DuckDB's strict reader refuses) are each one problem, with its row. A
    carriage return inside a line, outside quotes, splits that line into two records for every
    reader; it is named by its line, and the row widths are checked once it is mended (each
    row after it would be misnumbered).
    """
    name = path.name
    lone = _lone_carriage_returns(path)
    if lone:
        listed = [_problem(
            name, "file.line_break",
            f"line {line} of the file holds a carriage return (CR) inside the line, outside "
            "quotes, which splits it into two rows; remove it or enclose the value in double "
            "quotes (the rows of this file are checked once it is mended)",
        ) for line in lone[:_MAX_LISTED_LINES]]
        if len(lone) > _MAX_LISTED_LINES:
            listed.append(_problem(
                name, "file.line_break",
                f"{len(lone) - _MAX_LISTED_LINES} more lines hold a carriage return inside the "
                "line (not listed)",
            ))
        return listed
    problems: list[dict] = []
    handle, reader = _reader(path, encoding)
    number = 0
    with handle:
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                problems.append(_problem(
                    name, "file.quote",
                    f"misplaced or unclosed quote ({exc}); a value holding a comma, quote or "
                    "line break must be enclosed in double quotes, and a quote inside it "
                    "doubled (\"\"); no row after this one was checked",
                    row=number + 1,
                ))
                break
            number += 1
            if number == 1 or not fields or len(fields) == n_fields:
                continue
            if not "".join(fields).strip():
                message = "the row holds only spaces or tabs; delete it"
            else:
                n = len(fields)
                message = (f"the row has {n} value{'s' if n != 1 else ''} but the header has "
                           f"{n_fields} columns")
            problems.append(_problem(name, "file.row_width", message, row=number))
    if not problems:
        line = _mixed_line_endings(path)
        if line is not None:
            problems.append(_problem(
                name, "file.line_endings",
                f"line endings change at line {line} of the file (Windows CRLF and Unix LF "
                "mixed); save the file again so that every line ends the same way",
            ))
    return problems
