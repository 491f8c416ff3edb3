"""Read a registry source folder (one CSV, Parquet or XLSX file per table) into DuckDB, once.

Each file is read exactly once, by DuckDB's parallel readers, straight into the table a
:class:`TableBuilder` asks for: the builder receives a relation with one text column
``"<column>$raw"`` per schema column (values trimmed, empty cells as NULL, optional columns missing
from the file as NULL) and turns it into typed columns in the same statement. The spreadsheet row
of a record (header = row 1, first data row = row 2) is ``rowid + 2`` of the created table (the
scan is ordered), or, for XLSX workbooks whose blank rows are skipped, a ``_row`` column. File
level problems (missing, empty, unreadable, duplicated files; missing required or unexpected
columns; encoding) are returned as problem records, never raised.

CSV files are read by DuckDB's own reader with every column as text, comma-separated, UTF-8 with or
without a byte-order mark. A file that is not valid UTF-8 is re-read as Latin-1 (ISO-8859-1) and a
warning says so; characters that suggest Windows-1252 rather than Latin-1 are reported as errors,
so that no text is ever silently garbled. Parquet files are read by DuckDB; XLSX workbooks by
openpyxl in streaming (read-only) mode, the first worksheet only, with date cells taken as dates.
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import re
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

import duckdb

from nenstudy.registry import csvshape, sql
from nenstudy.registry.crosschecks import (
    MAX_SHOWN_ROWS, own_key_is_checked_apart, repeated_key_hashes,
)
from nenstudy.registry.lanes import run_side_by_side
from nenstudy.registry.schema import HEADER_ALIASES, LIST_SEPARATOR, SCHEMA, TABLES, Table

__all__ = [
    "ROW_CONVENTION",
    "SUPPORTED_SUFFIXES",
    "TableBuilder",
    "SourceFile",
    "LoadedSource",
    "LaneTask",
    "find_source_files",
    "load_source",
    "trimmed_sql",
    "is_storage_failure",
]

ROW_CONVENTION = "row numbers as in a spreadsheet: the header is row 1, the first data row is row 2"
"""How the ``row`` of a problem counts (stated in every problem listing)."""

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".xlsx")
"""File suffixes recognised as registry tables."""

_CSV_BUFFER_BYTES = 8 << 20
"""CSV read buffer. 8 MB holds fewer rows than a DuckDB row group for the registry's tables, so
the ordered insert merges whole row groups as it goes; 16 MB buffers left a partial row group per
buffer that the checkpoint had to rewrite (10^6 patients: 1.5 CPU-s more checkpoint and update,
0.4 CPU-s less reading)."""
_XLSX_BATCH = 50_000
_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)
_NATIVE_TYPES: Mapping[str, frozenset[str]] = {
    "date": frozenset({"DATE"}),
    "int": _INTEGER_TYPES,
    "float": _INTEGER_TYPES | {"FLOAT", "DOUBLE"},
    "bool": frozenset({"BOOLEAN"}),
}
"""Parquet column types passed through untouched for a schema value type (no text round trip)."""
_TRIMMED_DTYPES = ("string", "list")
"""Value types whose text is trimmed while reading; the others are typed as written first and
trimmed only when that fails (see :func:`trimmed_sql`), which spares a scan of every cell."""


class TableBuilder(Protocol):
    """Where and how :func:`load_source` creates the table of each source file."""

    def create_sql(
        self, table: Table, text_relation: str, row_column: bool, native: frozenset[str]
    ) -> str:
        """Return the statement(s) creating ``table``'s target from the text relation.

        ``row_column`` says whether the relation has a ``_row`` column (XLSX); the columns in
        ``native`` hold values already of their value type's family (typed Parquet columns:
        DATE for dates, integers for int, numbers for float, BOOLEAN for bool), not text.
        """

    def target(self, table: Table) -> str:
        """Return the (qualified) name of ``table``'s target."""

    def discard(self, con: duckdb.DuckDBPyConnection, table: Table) -> None:
        """Drop a partly created target after a reading error (no error if absent)."""


@dataclass(frozen=True)
class SourceFile:
    """One source file that was read.

    Attributes
    ----------
    table
        Registry table it holds.
    path
        Path of the file.
    format
        ``csv``, ``parquet`` or ``xlsx``.
    encoding
        Text encoding used (``utf-8`` or ``latin-1``; ``None`` for binary formats).
    n_rows
        Number of data rows.
    row_column
        Whether the created table has a ``_row`` column (XLSX); otherwise the spreadsheet row is
        ``rowid + 2``, plus the blank rows before the record.
    blank_rows
        Blank rows of a CSV file that the reader skipped (``None``: none).
    sha256
        SHA-256 hex digest of the file's bytes, when :func:`load_source` was asked for digests.
    key_hash_repeats
        For a table whose own key is not ``patient_id``: how many hashes of the key repeat
        (:func:`nenstudy.registry.crosschecks.repeated_key_hashes`), counted in the reading
        lane right after the file is read.
    partial
        Malformed rows of the file were left out (each an error): its rows' values are
        checked, but it takes no part in the checks across rows and tables.
    """

    table: str
    path: Path
    format: str
    encoding: str | None
    n_rows: int
    row_column: bool
    blank_rows: csvshape.BlankRows | None = None
    sha256: str | None = None
    key_hash_repeats: int | None = None
    partial: bool = False

    @property
    def row_sql(self) -> str:
        """SQL giving the spreadsheet row of a record of the created table."""
        if self.row_column:
            return "_row"
        return "rowid + 2" if self.blank_rows is None else self.blank_rows.row_sql()


@dataclass(frozen=True)
class LoadedSource:
    """What :func:`load_source` read and what it found wrong.

    Attributes
    ----------
    files
        Files read, by table name (tables that could not be read are absent).
    problems
        File-level problems, each a dict with keys severity, file, row, column, value, rule,
        message.
    task_results
        What each :class:`LaneTask` given to :func:`load_source` returned, in their order
        (``None`` for a task not run).
    """

    files: Mapping[str, SourceFile]
    problems: tuple[dict[str, Any], ...]
    task_results: tuple[Any, ...] = ()


@dataclass(frozen=True)
class LaneTask:
    """Work for a reading lane of :func:`load_source` once the tables it needs are read.

    Attributes
    ----------
    needs
        Names of the tables it needs.
    run
        Called as ``run(cursor, tables)`` with ``tables`` mapping each needed table to the
        table it was read into, once all of them are read; not called when one of them could
        not be read. It must not depend on the order of rows (insertion order is kept while
        the files are read, but no other statement waits for it).
    """

    needs: tuple[str, ...]
    run: Callable[[duckdb.DuckDBPyConnection, Mapping[str, str]], Any]


def _problem(
    severity: str,
    file: str | None,
    rule: str,
    message: str,
    *,
    row: int | None = None,
    column: str | None = None,
    value: str | None = None,
) -> dict[str, Any]:
    return {
        "severity": severity,
        "file": file,
        "row": row,
        "column": column,
        "value": value,
        "rule": rule,
        "message": message,
    }


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _header_text(name: str) -> str:
    """A header as written, without a byte-order mark or surrounding spaces."""
    return name.replace("\ufeff", "").strip()


def _normalise_header(name: str) -> str:
    return _header_text(name).lower()


def _with_zone(dtype: str) -> bool:
    """Whether a DuckDB type is a timestamp with a time zone (an instant, not a day)."""
    return dtype.startswith("TIMESTAMPTZ") or dtype.endswith("WITH TIME ZONE")


def _letters_and_digits(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKC", name).lower())


def _meant_column(header: str, absent: Sequence[str]) -> str | None:
    """The column of ``absent`` (not in the file's header) that ``header`` most likely names.

    The same letters and digits (``Karnofsky %`` for ``karnofsky``), another usual name of it
    (``KPS``, ``Ki-67 index``, ``date of death``: :data:`HEADER_ALIASES`), or one typing error
    (a letter missing, added, changed, or two swapped: ``resectible``) in a name of six letters
    or more, not in a digit (``who_2010`` is another classification); None when no column is
    that close. A longer name that starts with a column's (``variant_vaf``,
    ``karnofsky_date``) is another column, not this one.
    """
    plain = _letters_and_digits(header)
    if not plain:
        return None
    names: dict[str, str] = {}
    for column in absent:
        names[_letters_and_digits(column)] = column
        for alias in HEADER_ALIASES.get(column, ()):
            names.setdefault(alias, column)
    if plain in names:
        return names[plain]
    typos = [column for name, column in names.items() if _one_typing_error(plain, name)]
    return typos[0] if len(set(typos)) == 1 else None


_CHECKBOX = re.compile(r"(.+?)___[a-z0-9_]+")
"""A REDCap checkbox column (``metastatic_sites___1``): one 0/1 column per choice of a field."""


def _one_typing_error(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` (six letters or more) differ by one letter missing, added,
    changed, or two neighbours swapped, with no digit involved."""
    if min(len(a), len(b)) < 6 or abs(len(a) - len(b)) > 1 or a == b:
        return False
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    da, db = a[start:end_a], b[start:end_b]
    if any(c.isdigit() for c in da + db):
        return False
    return (len(da), len(db)) in ((1, 1), (1, 0), (0, 1)) or (
        len(da) == len(db) == 2 and da == db[::-1])


def find_source_files(source: Path) -> tuple[dict[str, list[Path]], list[dict[str, Any]]]:
    """Match the files of a source folder to registry tables.

    Parameters
    ----------
    source
        The source folder.

    Returns
    -------
    (dict, list)
        Candidate files per table name (file stem matched case-insensitively) and problems for
        files that are not registry tables (warnings) or use an unsupported format (errors).
    """
    matched: dict[str, list[Path]] = {t.name: [] for t in SCHEMA}
    problems: list[dict[str, Any]] = []
    for path in sorted(source.iterdir()):
        if path.name.startswith("."):
            continue
        stem, suffix = path.stem.lower(), path.suffix.lower()
        if not path.is_file():
            if stem in matched and suffix in SUPPORTED_SUFFIXES:  # named as a table's file
                what = ("a link to a file that does not exist" if path.is_symlink()
                        and not path.exists() else "not a file")
                problems.append(_problem("error", path.name, "file.unreadable",
                                         f"{path.name} is {what}"))
            continue
        if stem in matched and suffix in SUPPORTED_SUFFIXES:
            matched[stem].append(path)
        elif stem in matched:
            problems.append(
                _problem(
                    "error", path.name, "file.format",
                    f"unsupported file type {suffix or '(none)'!r} for table {stem}; "
                    "save it as .csv (UTF-8), .parquet or .xlsx",
                )
            )
        elif suffix in SUPPORTED_SUFFIXES and (split := _split_table_file(path)):
            problems.append(
                _problem(
                    "error", path.name, "file.split",
                    f"a file named like one of table {split}'s, but only {split}.csv, "
                    f"{split}.parquet or {split}.xlsx is read: its rows would be left out. "
                    "Put every row of the table in one file, or move this one out of the "
                    "folder",
                )
            )
        elif path.name.startswith("~$"):
            problems.append(
                _problem(
                    "warning", path.name, "file.unexpected",
                    "the lock file of a workbook open in Excel: changes not saved there are "
                    "not read; save and close the workbook",
                )
            )
        else:
            problems.append(
                _problem(
                    "warning", path.name, "file.unexpected",
                    "not a registry table file (expected "
                    + ", ".join(t.name for t in SCHEMA)
                    + " as .csv, .parquet or .xlsx); ignored",
                )
            )
    return matched, problems


def _split_table_file(path: Path) -> str | None:
    """The table of which a file is a part, or a copy: its name starts with the table's and a
    separator (``molecular_tests_2``, ``patients (1)``, ``follow_up-2023``) and its header
    names every required column of the table (:func:`_names_the_table`). None for any other
    file (a codebook ``patients_codebook.csv`` is one)."""
    stem = path.stem.lower()
    for table in SCHEMA:
        rest = stem[len(table.name):]
        if stem.startswith(table.name) and rest and rest[0] in " _-.(":
            return table.name if _names_the_table(_file_header(path), table) else None
    return None


def _names_the_table(names: Sequence[Any] | None, table: Table) -> bool:
    """Whether a header (a file's, a sheet's first row) names every required column of
    ``table``: rows of the table, not a codebook or a summary that shares a few names."""
    if not names:
        return False
    written = {_normalise_header(str(n)) for n in names if n is not None}
    return set(table.required_columns) <= written


def _file_header(path: Path) -> list[str] | None:
    """The column names of a CSV, Parquet or XLSX file (its first sheet's first row), or None
    when they cannot be read."""
    try:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return _csv_header(path)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        import openpyxl

        workbook = openpyxl.load_workbook(path, read_only=True)
        try:
            first = next(workbook.worksheets[0].iter_rows(max_row=1, values_only=True), ())
        finally:
            workbook.close()
        return [str(v) for v in first if v is not None]
    except Exception:  # noqa: BLE001 - an unreadable file is no part of a table here
        return None


_CSV_REASONS = (
    r"Expected Number of Columns: \d+ Found: \d+",
    r"Value with unterminated quote found",
    r"Maximum line size of \d+ bytes exceeded",
    r"[^\n]*state machine reached an invalid state",
)
"""DuckDB's explanations of a CSV reading error that quote nothing from the file."""


def _csv_error_reason(exc: Exception, show_identifiers: bool) -> tuple[int | None, str]:
    """Extract the line number and a safe one-line reason from a DuckDB CSV error.

    Only DuckDB's own explanations are kept: the error also quotes the offending line (which
    may run over several lines of the message), shown only with ``show_identifiers``.
    """
    text = str(exc)
    line = re.search(r"Line:\s*(\d+)", text)
    found = [m.group(0).strip() for pattern in _CSV_REASONS
             for m in [re.search(pattern, text)] if m]
    reason = "; ".join(found) if found else "the file does not follow the CSV standard"
    if show_identifiers:
        original = re.search(r"Original Line:\s*(.*)", text)
        if original:
            reason += f" (line: {original.group(1)[:200]})"
    return (int(line.group(1)) if line else None), reason


def _csv_relation(path: Path, encoding: str, width: int, *, skip_malformed: bool = False) -> str:
    """SQL reading a CSV file as text columns ``c0``, ``c1`` ...; with ``skip_malformed``, rows
    DuckDB cannot read are left out (see :func:`_salvaged`)."""
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    skip = "ignore_errors=true, " if skip_malformed else ""
    return (
        f"read_csv({_quote_str(str(path))}, auto_detect=false, header=true, delim=',', "
        f"quote='\"', escape='\"', strict_mode=true, null_padding=false, {skip}"
        "nullstr='', allow_quoted_nulls=true, "
        f"buffer_size={_CSV_BUFFER_BYTES}, "
        f"encoding={_quote_str(encoding)}, columns={{{columns}}})"
    )


def _csv_header(path: Path) -> list[str]:
    """Column names of a CSV file's first line (UTF-8 with or without BOM, else Latin-1)."""
    with open(path, "rb") as handle:
        first = handle.readline(1 << 20)
    # Up to the first line break of any kind (old Mac files end lines with a lone CR).
    first = re.split(rb"\r\n|\r|\n", first.removeprefix(b"\xef\xbb\xbf"), maxsplit=1)[0]
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        text = first.decode("latin-1")
    try:
        return next(csv.reader([text]), [])
    except csv.Error:  # a stray quote: the names as written, which then do not match
        return text.split(",")


def _file_is_blank(path: Path) -> bool:
    if path.stat().st_size > 4096:
        return False
    data = path.read_bytes()
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        data = data.removeprefix(bom)
    return not data.strip()


def trimmed_sql(value: str, *, spaces_only: bool = False, never_empty: bool = False) -> str:
    """SQL: ``value`` without surrounding whitespace (incl. tab, no-break space), '' as NULL.

    ``trim`` runs only on cells that may need it: it is slow on every cell of a large file.
    With ``spaces_only`` (the text is known to hold no tab, line break or no-break space, see
    :func:`nenstudy.registry.csvshape.plain_spaces`) a cell needs it only when it starts or ends
    with a space, which is two cheap tests instead of six. With ``never_empty`` (``value`` is NULL
    rather than '', as DuckDB's CSV reader gives empty cells) the cells that need no trimming
    pass as they are.
    """
    kept = value if never_empty else f"NULLIF({value}, '')"
    if spaces_only:
        return (
            f"CASE WHEN prefix({value}, ' ') OR suffix({value}, ' ') "
            f"THEN NULLIF(trim({value}, {sql.WHITESPACE}), '') ELSE {kept} END"
        )
    return (
        f"CASE WHEN prefix({value}, ' ') OR suffix({value}, ' ') OR contains({value}, chr(9)) "
        f"OR contains({value}, chr(160)) OR contains({value}, chr(10)) "
        f"OR contains({value}, chr(13)) THEN NULLIF(trim({value}, {sql.WHITESPACE}), '') "
        f"ELSE {kept} END"
    )


def _stage_table(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    file: Path,
    relation: str,
    headers: list[str],
    row_expr: str | None,
    build: "TableBuilder",
    problems: list[dict[str, Any]],
    native: frozenset[str] = frozenset(),
    spaces_only: bool = False,
    never_empty: bool = False,
    unnamed_values: Mapping[int, int] | None = None,
    unnamed_rows: Mapping[int, tuple[int, ...]] | None = None,
) -> bool:
    """Create the table of one file from ``build``; return whether it was created.

    The header is checked first (duplicate, unexpected and missing columns). ``build`` then gets
    a relation with one text column ``"<column>$raw"`` per schema column (NULL when the file
    lacks an optional column; empty cells NULL; trimmed for string and list columns, as written
    for the other types, whose builder trims with :func:`trimmed_sql` only what fails to type)
    and, when ``row_expr`` is given, ``_row``; otherwise the
    spreadsheet row is ``rowid + 2`` of the created table (an ordered scan keeps file order).
    ``spaces_only``: the text holds no tab, line break or no-break space (cheaper trimming).
    ``never_empty``: the relation gives empty cells as NULL, never '' (DuckDB's CSV reader), so
    that no cell needs a test for ''. ``unnamed_values``: for columns without a name (by
    position, from 1), how many rows hold a value in them (unknown when absent);
    ``unnamed_rows``: the first of those rows.
    """
    by_name: dict[str, str] = {}
    repeated: set[str] = set()
    empty_unnamed: list[int] = []
    for position, header in enumerate(headers, start=1):
        name = _normalise_header(header)
        if not name:  # e.g. the trailing comma of a spreadsheet export
            n = (unnamed_values or {}).get(position)
            if n is None:
                message = (f"column {position} has no name in the header; its values, if any, "
                           "are not imported")
            elif n == 0:
                empty_unnamed.append(position)  # one warning for all of them, below
                continue
            else:
                rows = (unnamed_rows or {}).get(position, ())
                at = ""
                if rows:
                    more = ", ..." if n > len(rows) else ""
                    at = f" (row{'s' if n != 1 else ''} {', '.join(map(str, rows))}{more})"
                message = (f"column {position} has no name in the header but holds values in "
                           f"{n} row{'s' if n != 1 else ''}{at}; they are not imported: name "
                           "the column or delete them")
            problems.append(_problem("warning", file.name, "column.unnamed", message, row=1))
            continue
        if name in by_name:
            if name not in repeated:
                problems.append(
                    _problem("error", file.name, "column.duplicate",
                             f"column {name!r} appears more than once in the header", row=1,
                             column=name)
                )
            repeated.add(name)
            continue
        by_name[name] = header
    if empty_unnamed:
        several = len(empty_unnamed) > 1
        problems.append(_problem(
            "warning", file.name, "column.unnamed",
            f"column{'s' if several else ''} {', '.join(map(str, empty_unnamed))} "
            f"{'have' if several else 'has'} no name in the header and "
            f"{'are' if several else 'is'} empty; ignored", row=1))
    if by_name and not any(name in table.column_names for name in by_name) and (
        2 * sum(_meant_column(name, table.column_names) is not None for name in by_name)
        < len(by_name)
    ):
        # Most likely a data row taken for the header: its "names" are values, and may be
        # identifiers, so none is quoted.
        problems.append(
            _problem("error", file.name, "header.missing",
                     f"the first row names none of the columns of table {table.name} "
                     f"(expected: {', '.join(table.column_names)}); if it is a data row, add "
                     "the header row above it; if it is a title, delete it", row=1)
        )
        return False
    absent = [c for c in table.column_names if c not in by_name]
    # A misnamed column's values are checked as those of the column meant (one error names
    # the header; the values' own problems are listed, not one "missing" per row). The error
    # keeps them out of any store until the header is renamed.
    renamed: dict[str, str] = {}
    checkboxes: dict[str, list[str]] = {}
    for name, header in by_name.items():
        box = _CHECKBOX.fullmatch(name)
        if box and box.group(1) in absent:
            checkboxes.setdefault(box.group(1), []).append(_header_text(header))
    for meant, written_boxes in checkboxes.items():
        absent.remove(meant)
        column = table.column(meant)
        how = ("one column of codes separated by ';' (liver;nodes)" if column.dtype == "list"
               else "one column holding one code per row")
        problems.append(
            _problem("error", file.name, "column.checkbox",
                     f"columns {', '.join(repr(w) for w in written_boxes)} look like a REDCap "
                     f"checkbox export of {meant!r}, which is missing: write {meant!r} as "
                     f"{how}; nothing is imported until then", row=1, column=meant)
        )
    boxed = {w for ws in checkboxes.values() for w in ws}
    for name, header in by_name.items():
        if name in table.column_names:
            continue
        written = _header_text(header)
        if written in boxed:
            continue
        meant = _meant_column(name, absent)
        if meant is not None:
            absent.remove(meant)
            renamed[meant] = header
            problems.append(
                _problem("error", file.name, "column.misnamed",
                         f"column {written!r} is not part of table {table.name}, whose column "
                         f"{meant!r} is missing: rename the header to {meant!r} (its values "
                         f"are checked as those of {meant!r}, and nothing is imported until "
                         "then)", row=1, column=written)
            )
            continue
        problems.append(
            _problem("warning", file.name, "column.unexpected",
                     f"column {written!r} is not part of table {table.name}; its values are "
                     "not imported (expected columns: " + ", ".join(table.column_names)
                     + ")", row=1, column=written)
        )
    by_name.update(renamed)
    missing = [c for c in table.required_columns if c not in by_name]
    for name in missing:
        problems.append(
            _problem("error", file.name, "column.missing",
                     f"required column {name!r} is missing from the header", row=1,
                     column=name)
        )
    if missing or repeated:  # every header problem is listed first
        return False
    select = [] if row_expr is None else [f"{row_expr} AS _row"]
    for column in table.columns:
        raw = _quote_ident(f"{column.name}$raw")
        if column.name in native:
            select.append(f"{_quote_ident(by_name[column.name])} AS {raw}")
        elif column.name in by_name:
            src = _quote_ident(by_name[column.name])
            text = f"CAST({src} AS VARCHAR)"
            if column.dtype in _TRIMMED_DTYPES:
                text = trimmed_sql(text, spaces_only=spaces_only, never_empty=never_empty)
            elif not never_empty:
                text = f"NULLIF({text}, '')"
            select.append(f"{text} AS {raw}")
        else:
            select.append(f"CAST(NULL AS VARCHAR) AS {raw}")
    text = f"(SELECT {', '.join(select)} FROM {relation})"
    con.execute(build.create_sql(table, text, row_expr is not None, native))
    return True


_SEP_DIRECTIVE = re.compile(rb"(sep=.?)\r?(?:\n|$)", re.IGNORECASE)
"""Excel's first line naming the separator (``sep=,``, ``sep=;``)."""


_STORAGE_FAILURES = ("no space left on device", "file too large", "disk quota exceeded",
                     "read-only file system", "could not write")
"""Words of an error in writing the store or DuckDB's spill files (OS messages)."""


def _not_the_files_fault(exc: duckdb.Error) -> bool:
    """Whether a DuckDB error met while reading a file says nothing about the file: memory
    ran out, the reading was interrupted, or the store (or a spill file) could not be written
    (a full disk, a file size limit). Such an error is raised as it is, never reported as a
    problem of the file."""
    if isinstance(exc, (duckdb.OutOfMemoryException, duckdb.InterruptException)):
        return True
    # only DuckDB's own input/output errors: a CSV error quotes the row, which may hold any text
    return isinstance(exc, (duckdb.IOException, duckdb.FatalException)) and (
        is_storage_failure(str(exc)) or "invalidated" in str(exc).split("\n", 1)[0])


def is_storage_failure(message: str) -> bool:
    """Whether an error message says, on its first line, that a file could not be written (a
    full disk, a file size limit, a read-only file system): it names a path and the system's
    reason, no data (the lines after may quote a row)."""
    text = message.split("\n", 1)[0].lower()
    return any(words in text for words in _STORAGE_FAILURES)


def _load_csv(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    file: Path,
    build: "TableBuilder",
    problems: list[dict[str, Any]],
    show_identifiers: bool,
) -> tuple[bool, str | None, csvshape.BlankRows | None]:
    """Read one CSV file into its table; return whether it was made, the encoding and, when
    malformed rows were left out (:func:`_salvaged`), the rows skipped."""
    with open(file, "rb") as handle:
        start = handle.read(2)
    if start in (b"\xff\xfe", b"\xfe\xff"):
        problems.append(
            _problem("error", file.name, "file.encoding",
                     "the file is UTF-16 text (Excel's 'Unicode text'); save it as CSV UTF-8")
        )
        return False, None, None
    with open(file, "rb") as handle:
        first = handle.read(4096)
    if b"\x00" in first:
        problems.append(
            _problem("error", file.name, "file.encoding",
                     "the file holds NUL bytes: UTF-16 text without a byte-order mark, or not a "
                     "text file; save it as CSV UTF-8")
        )
        return False, None, None
    directive = _SEP_DIRECTIVE.match(first.removeprefix(b"\xef\xbb\xbf"))
    if directive:
        problems.append(
            _problem("error", file.name, "file.header",
                     f"the first line is {directive.group(1).decode('latin-1')!r}, Excel's note "
                     "of the separator, not the header: delete that line, so that the column "
                     "names are on row 1", row=1)
        )
        return False, None, None
    headers = _csv_header(file)
    if not any(h.strip() for h in headers):
        problems.append(
            _problem("error", file.name, "file.header",
                     "the first line is blank: the header (column names) must be on row 1",
                     row=1)
        )
        return False, None, None
    for separator, name in ((";", "semicolon"), ("\t", "tab")):
        if len(headers) == 1 and separator in headers[0]:
            problems.append(
                _problem("error", file.name, "file.delimiter",
                         f"the header holds a single column containing {separator!r}: the file "
                         f"seems to be {name}-separated; save it comma-separated", row=1)
            )
            return False, None, None
    # A column without a name (a trailing comma) is read, under a name no header has, and left.
    renamed = ", ".join(
        f"c{i} AS {_quote_ident(h if _normalise_header(h) else f'{i + 1}$unnamed')}"
        for i, h in enumerate(headers)
    )
    spaces_only = csvshape.plain_spaces(file)
    encoding = "utf-8"
    salvaged: csvshape.BlankRows | None = None
    for attempt in ("utf-8", "latin-1"):
        encoding = attempt
        listed = len(problems)  # a second attempt lists the header's problems again
        relation = f"(SELECT {renamed} FROM {_csv_relation(file, encoding, len(headers))})"
        try:
            # The file is read once, straight into the typed table; its rowid follows file order.
            unnamed = _unnamed_values(con, relation, headers)
            if any(unnamed.values()):  # where they are, for the message (a rare case)
                where = csvshape.rows_with_values(file, encoding,
                                                  [p for p, n in unnamed.items() if n])
                unnamed_rows = {p: tuple(rows) for p, rows in where.items()}
            else:
                unnamed_rows = {}
            created = _stage_table(con, table, file, relation, headers, None, build, problems,
                                   spaces_only=spaces_only, never_empty=True,
                                   unnamed_values=unnamed, unnamed_rows=unnamed_rows)
        except duckdb.Error as exc:
            build.discard(con, table)
            if _not_the_files_fault(exc):
                raise
            if attempt == "utf-8" and "utf-8" in str(exc).lower():
                del problems[listed:]
                continue
            if attempt == "latin-1" and "latin-1" in str(exc).lower():
                line = _first_c1_byte_line(file)
                problems.append(
                    _problem("error", file.name, "file.encoding",
                             "the file is neither UTF-8 nor Latin-1 (bytes 0x80-0x9F suggest "
                             "Windows-1252); save it as UTF-8",
                             row=None if line is None else _row_of_line(file, line))
                )
                return False, encoding, None
            shape = csvshape.shape_problems(file, encoding, len(headers))
            if not shape:
                row, reason = _csv_error_reason(exc, show_identifiers)
                problems.append(
                    _problem("error", file.name, "file.unreadable",
                             f"the CSV file could not be read: {reason}", row=row)
                )
                return False, encoding, None
            problems.extend(shape)
            salvaged = _salvaged(con, table, file, renamed, encoding, headers, build, shape,
                                 problems, spaces_only)
            if salvaged is None:
                problems.append(
                    _problem("warning", file.name, "file.not_checked",
                             "the values of this file are checked once every row above is "
                             "mended")
                )
                return False, encoding, None
            created = True  # without its malformed rows; the encoding is checked below
        if created and encoding == "latin-1" and (mixed := _mixed_encodings(file)):
            build.discard(con, table)
            bad, good = mixed
            problems.append(
                _problem("error", file.name, "file.encoding",
                         f"the file mixes encodings: this row is not UTF-8, while row {good} "
                         "holds UTF-8 text; read either way, part of it would be garbled. Save "
                         "the whole file as UTF-8", row=bad)
            )
            return False, encoding, None
        if created and encoding == "latin-1":
            line = _line_of_first(file, _NOT_ASCII, overlap=0)
            problems.append(
                _problem("warning", file.name, "file.encoding",
                         "the file is not valid UTF-8; it was read as Latin-1 (ISO-8859-1). "
                         "Check accented text (the first is in this row) and save the file as "
                         "UTF-8", row=None if line is None else _row_of_line(file, line))
            )
        return created, encoding, salvaged
    return False, encoding, None


def _salvaged(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    file: Path,
    renamed: str,
    encoding: str,
    headers: list[str],
    build: "TableBuilder",
    shape: list[dict[str, Any]],
    problems: list[dict[str, Any]],
    spaces_only: bool,
) -> csvshape.BlankRows | None:
    """Read a CSV file whose only malformed rows have the wrong number of values, leaving them
    out, so that the values of every other row are checked in the same run (each malformed row
    is already an error of ``shape``). Returns the rows left out (for the row numbers), or None
    when the file is not read so: other malformations (quotes, line endings), too many such
    rows to number the others, or a reader that did not leave out exactly those rows."""
    if (any(p["rule"] != "file.row_width" for p in shape)
            or len(shape) > csvshape.MAX_INNER_BLANK_ROWS):
        return None
    skipped, records = csvshape.skipped_rows(file, encoding, len(headers))
    relation = (f"(SELECT {renamed} FROM "
                f"{_csv_relation(file, encoding, len(headers), skip_malformed=True)})")
    found: list[dict[str, Any]] = []
    try:
        created = _stage_table(con, table, file, relation, headers, None, build, found,
                               spaces_only=spaces_only, never_empty=True)
        n_rows = con.execute(f"SELECT count(*) FROM {build.target(table)}").fetchall()[0][0]
    except duckdb.Error as exc:
        if _not_the_files_fault(exc):
            raise
        created, n_rows = False, -1
    if not created or n_rows != records:
        build.discard(con, table)
        return None
    problems.extend(p for p in found if p not in problems)  # the header's, met before
    malformed = {p["row"] for p in shape}
    blank = [(r, n) for r, n in zip(skipped.inner, skipped.records_before) if r not in malformed]
    _blank_rows_are_mapped(file, csvshape.BlankRows(tuple(r for r, _ in blank),
                                                    tuple(n for _, n in blank), 0), problems)
    problems.append(
        _problem("warning", file.name, "file.partly_checked",
                 "the rows with the wrong number of values (listed) were left out; the "
                 "values of the other rows are checked, and the checks across rows and "
                 "tables are made once the file is mended")
    )
    return skipped


def _unnamed_values(
    con: duckdb.DuckDBPyConnection, relation: str, headers: list[str]
) -> dict[int, int]:
    """For each column without a name (by position, from 1), the rows holding a value in it.

    Such columns are not imported; a spreadsheet's trailing commas leave them empty, and then
    nothing is lost. Counted by reading the file once more, only when it has such a column.
    """
    unnamed = [i for i, h in enumerate(headers) if not _normalise_header(h)]
    if not unnamed:
        return {}
    counts = ", ".join(
        f"count(*) FILTER (WHERE trim({_quote_ident(f'{i + 1}$unnamed')}, {sql.WHITESPACE}) <> '')"
        for i in unnamed
    )
    row = con.execute(f"SELECT {counts} FROM {relation}").fetchone()
    assert row is not None
    return {i + 1: int(n) for i, n in zip(unnamed, row)}


def _csv_blank_rows(
    file: Path, encoding: str, problems: list[dict[str, Any]]
) -> csvshape.BlankRows | None:
    """The blank rows DuckDB skipped, reported (a warning); None when they cannot be mapped."""
    try:
        blank = csvshape.blank_rows(file, encoding)
    except csv.Error as exc:
        problems.append(
            _problem("error", file.name, "file.unreadable",
                     f"the file has blank rows or values with line breaks, and could "
                     f"not be read again to number its rows ({exc})")
        )
        return None
    return blank if _blank_rows_are_mapped(file, blank, problems) else None


def _blank_rows_are_mapped(
    file: Path, blank: csvshape.BlankRows, problems: list[dict[str, Any]]
) -> bool:
    """Report blank rows between records (skipped; a warning); False when there are too many."""
    if not blank.inner:
        return True
    rows = ", ".join(str(r) for r in blank.inner[:10]) + (", ..." if len(blank.inner) > 10 else "")
    if len(blank.inner) > csvshape.MAX_INNER_BLANK_ROWS:
        problems.append(
            _problem("error", file.name, "file.blank_rows",
                     f"{len(blank.inner)} blank rows between records (rows {rows}); delete "
                     "them (the values of this file are checked once they are gone)")
        )
        return False
    problems.append(
        _problem("warning", file.name, "file.blank_rows",
                 f"{len(blank.inner)} blank row(s) between records ignored (rows {rows}); row "
                 "numbers count them, as a spreadsheet does")
    )
    return True


_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
"""A UTF-8 character beyond ASCII (in Latin-1 text such pairs, e.g. 'Ã©', hardly occur)."""


def _mixed_encodings(path: Path) -> tuple[int, int] | None:
    """For a file that is not valid UTF-8: (row of the first byte that is not UTF-8, row of
    the first UTF-8 character beyond ASCII) when it also holds such characters, else None."""
    good = _line_of_first(path, _UTF8_MULTIBYTE)
    if good is None:
        return None
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1  # that of the chunk's first byte
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = line + chunk.count(b"\n", 0, max(exc.start, 0))
                return _row_of_line(path, bad), _row_of_line(path, good)
            line += chunk.count(b"\n")
    return None


def _line_of_first(path: Path, pattern: re.Pattern[bytes], overlap: int = 3) -> int | None:
    """Line number (1-based) of the first match of ``pattern`` (at most ``overlap`` + 1 bytes
    long) in a file, read in chunks."""
    line, tail = 1, b""  # line: that of the window's first byte
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            window = tail + chunk
            found = pattern.search(window)
            if found is not None:
                return line + window.count(b"\n", 0, found.start())
            tail = window[-overlap:] if overlap else b""
            line += window.count(b"\n") - tail.count(b"\n")
    return None


def _row_of_line(path: Path, line: int) -> int:
    """The spreadsheet row holding physical line ``line`` of a CSV file (a quoted value may
    span lines; a blank line is a row, as in a spreadsheet)."""
    import csv

    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    with open(path, newline="", encoding="latin-1") as handle:  # any byte reads; only rows count
        reader = csv.reader(handle)
        for row, _ in enumerate(reader, start=1):
            if reader.line_num >= line:
                return row
    return line


def _first_c1_byte_line(path: Path) -> int | None:
    """Line number (1-based) of the first byte 0x80-0x9F, which Latin-1 text never contains."""
    return _line_of_first(path, _C1_BYTE, overlap=0)


_C1_BYTE = re.compile(rb"[\x80-\x9f]")
_NOT_ASCII = re.compile(rb"[\x80-\xff]")


def _nested_kind(dtype: str) -> str | None:
    """'lists', 'structs' or 'maps' for a nested DuckDB type, else None."""
    if dtype.endswith("]"):
        return "lists"
    for prefix, kind in (("STRUCT", "structs"), ("MAP", "maps"), ("UNION", "unions")):
        if dtype.startswith(prefix + "("):
            return kind
    return None


_MAX_LISTED_ROWS = 100
"""Rows listed one by one for a problem of a Parquet column (then one problem counts the rest)."""


def _parquet_relation(file: Path, *, row_numbers: bool = False) -> str:
    """SQL reading a Parquet file; binary columns (BYTE_ARRAY without the UTF-8 mark, as older
    Spark and Hive write text) as UTF-8 text (bytes that are not UTF-8 are an error, never a
    guessed encoding); with ``row_numbers``, each row's index in the file (``file_row_number``)."""
    extra = ", file_row_number = true" if row_numbers else ""
    return f"read_parquet({_quote_str(str(file))}, binary_as_string = true{extra})"


def _list_element_problems(
    con: duckdb.DuckDBPyConnection, file: Path, name: str, column: str
) -> list[dict[str, Any]]:
    """Rows of a Parquet list column with a missing or empty element or one holding the token
    separator: joined into the registry's text, the first two would vanish and the last split
    in two, so none is read without a word."""
    q = _quote_ident(name)
    text = f"trim(CAST(x AS VARCHAR), {sql.WHITESPACE})"
    bad = (f"list_filter({q}, lambda x: x IS NULL OR {text} = '' OR "
           f"contains(CAST(x AS VARCHAR), '{LIST_SEPARATOR}'))")
    rows = con.execute(
        f"SELECT file_row_number + 2, list_count({bad}) < len({bad}), "
        f"CAST(list_filter({bad}, lambda x: x IS NOT NULL)[1] AS VARCHAR) "
        f"FROM {_parquet_relation(file, row_numbers=True)} "
        f"WHERE len({bad}) > 0 ORDER BY 1"
    ).fetchall()
    problems = [
        _problem("error", file.name, "list.element",
                 "a list element is missing (null)" if missing else
                 "a list element is empty" if not (element or "").strip() else
                 f"a list element holds {LIST_SEPARATOR!r}, the separator of list tokens",
                 row=int(row), column=column,
                 value=None if missing or not (element or "").strip() else element)
        for row, missing, element in rows[:_MAX_LISTED_ROWS]
    ]
    if len(rows) > _MAX_LISTED_ROWS:
        problems.append(
            _problem("error", file.name, "list.element",
                     f"{len(rows) - _MAX_LISTED_ROWS} more rows with a missing or empty list "
                     f"element or one holding {LIST_SEPARATOR!r}", column=column)
        )
    return problems


def _masked_reason(exc: Exception, show_identifiers: bool) -> str:
    """Why a file could not be read (DuckDB's or openpyxl's error), whose text may quote a cell:
    the text only when asked, except for the reasons named here."""
    text = str(exc)
    if "not valid UTF8" in text or "Invalid string encoding" in text:
        return "a text column holds bytes that are not UTF-8 text; write its strings as UTF-8"
    if show_identifiers and text:
        return f"{type(exc).__name__}: {text.splitlines()[0]}"
    hidden = " (its text may quote values; --show-identifiers shows it)" if text else ""
    return f"{type(exc).__name__}{hidden}"


def _load_parquet(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    file: Path,
    build: "TableBuilder",
    problems: list[dict[str, Any]],
    show_identifiers: bool = False,
) -> bool:
    relation = _parquet_relation(file)
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        import pyarrow.parquet as pq

        written = pq.read_schema(file).names
    except (duckdb.Error, OSError, ValueError) as exc:
        reason = (_masked_reason(exc, show_identifiers) if isinstance(exc, duckdb.Error)
                  else str(exc).splitlines()[0])
        problems.append(
            _problem("error", file.name, "file.unreadable",
                     f"the Parquet file could not be read: {reason}")
        )
        return False
    seen: dict[str, str] = {}
    for name in written:  # DuckDB renames a repeated name (sex, SEX -> SEX_1): named here
        normalised = _normalise_header(name)
        if normalised in seen:
            problems.append(
                _problem("error", file.name, "column.duplicate",
                         f"columns {seen[normalised]!r} and {name!r} are the same column "
                         "(names are compared ignoring case); keep one", column=normalised)
            )
            return False
        seen[normalised] = name
    headers = [name for name, *_ in described]
    types = {name: dtype for name, dtype, *_ in described}
    converted = []
    native: set[str] = set()
    unusable = False  # a column of a type that cannot be read: every such column is listed
    schema_columns = {c.name: c for c in table.columns}
    for name in headers:
        q = _quote_ident(name)
        dtype = types[name].upper()
        column = schema_columns.get(_normalise_header(name))
        nested = _nested_kind(dtype)
        if column is not None and nested and not (column.dtype == "list" and nested == "lists"):
            problems.append(
                _problem("error", file.name, "column.type",
                         f"column {column.name!r} holds {nested} in the Parquet file "
                         f"({types[name]}); expected one {column.dtype} value per row",
                         column=column.name)
            )
            unusable = True
            continue
        if column is not None and column.dtype == "date" and (
            dtype in _INTEGER_TYPES or dtype in ("FLOAT", "DOUBLE", "HUGEINT", "UHUGEINT")
            or dtype.startswith("DECIMAL")
        ):
            # Numbers are no dates: counted from 1970 (R, pandas) or from 1899 (Excel), the
            # same number is two different days; never guessed.
            problems.append(
                _problem("error", file.name, "column.type",
                         f"column {column.name!r} holds numbers in the Parquet file "
                         f"({types[name]}), not dates; write it as a Parquet DATE column (or "
                         "as ISO text YYYY-MM-DD): a day count is not read as a date, since "
                         "its origin (1970-01-01, or Excel's 1899-12-30) cannot be told",
                         column=column.name)
            )
            unusable = True
            continue
        if column is not None and column.dtype == "date" and _with_zone(dtype):
            problems.append(
                _problem("error", file.name, "column.type",
                         f"column {column.name!r} holds instants with a time zone in the "
                         f"Parquet file ({types[name]}), not dates: which day each is depends "
                         "on the zone, and is not guessed; write it as a Parquet DATE column "
                         "(or as ISO text YYYY-MM-DD)", column=column.name)
            )
            unusable = True
            continue
        if (column is not None and column.name in _key_columns(table)
                and (dtype in ("FLOAT", "DOUBLE") or _decimal_scale(dtype) > 0)):
            # pandas writes an integer column with one empty cell as floats: 1000001 would
            # become the identifier '1000001.0', and match no other table without a word
            problems.append(
                _problem("error", file.name, "column.type",
                         f"column {column.name!r} holds decimal numbers in the Parquet file "
                         f"({types[name]}): an identifier is text (1000001 would be read as "
                         "'1000001.0'); write it as a text or integer column (in pandas, "
                         "`.astype('Int64')` or `.astype('string')` before `to_parquet`)",
                         column=column.name)
            )
            unusable = True
            continue
        if column is not None and column.dtype == "list" and nested == "lists":
            problems.extend(_list_element_problems(con, file, name, column.name))
        if column is not None and dtype == "FLOAT" and column.dtype == "float":
            # a 32-bit float read as the number it shows (2.7, not 2.700000047683716)
            expr = f"CAST(CAST({q} AS VARCHAR) AS DOUBLE)"
            native.add(column.name)
        elif column is not None and dtype in _NATIVE_TYPES.get(column.dtype, ()):
            expr = q
            native.add(column.name)
        elif _with_zone(dtype):
            # An instant, not a date: which day it is depends on the zone; never guessed.
            expr = f"CAST({q} AS VARCHAR)"
        elif dtype.startswith("TIMESTAMP"):
            expr = (
                f"CASE WHEN CAST({q} AS TIME) = TIME '00:00:00' "
                f"THEN strftime(CAST({q} AS DATE), '%Y-%m-%d') ELSE CAST({q} AS VARCHAR) END"
            )
        elif dtype.endswith("[]"):
            expr = f"array_to_string({q}, ';')"
        elif dtype == "BOOLEAN":
            expr = f"CASE WHEN {q} THEN 'true' WHEN NOT {q} THEN 'false' END"
        else:
            expr = f"CAST({q} AS VARCHAR)"
        converted.append(f"{expr} AS {q}")
    if unusable:
        # its rows are checked once the columns are mended (read without them, every row
        # would have a required value missing)
        for problem in problems:
            if problem["rule"] == "column.type" and problem["file"] == file.name:
                problem["message"] += "; the file's rows are checked once this is mended"
        return False
    inner = f"(SELECT {', '.join(converted)} FROM {relation})"
    try:
        # An ordered scan: the created table's rowid follows the file's row order.
        return _stage_table(
            con, table, file, inner, headers, None, build, problems, frozenset(native)
        )
    except duckdb.Error as exc:
        build.discard(con, table)
        if _not_the_files_fault(exc):
            raise
        problems.append(
            _problem("error", file.name, "file.unreadable",
                     f"the Parquet file could not be read: {_masked_reason(exc, show_identifiers)}")
        )
        return False


@dataclass(frozen=True)
class _Percent:
    """A number in a percentage-formatted XLSX cell: Excel stores 0.06 and shows 6%."""

    value: float


_UNCOMPUTED = object()
"""An XLSX formula cell without a computed value (saved by a program that computes none)."""


@dataclass(frozen=True)
class _ExcelError:
    """An XLSX cell holding an error value (``#N/A``, ``#REF!`` ...) instead of a value."""

    code: str


def _xlsx_cell_text(value: Any, *, as_shown: bool = False) -> str | None:
    """Render an XLSX cell as the text a user typed (dates as ISO dates). With ``as_shown``
    (a text column, such as an identifier), a number is the text its format shows
    (``00000042``, ``NEN-00000042``); otherwise the number itself."""
    if isinstance(value, _Formatted):
        return (value.text if as_shown and value.text is not None
                else _xlsx_cell_text(value.value))
    if value is None or value is _UNCOMPUTED or isinstance(value, _ExcelError):
        return None
    if isinstance(value, _Percent):  # the text shown, which the number rules then refuse
        return f"{value.value * 100:.10g}%"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        if value.time() == _dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


_XLSX_FORMULA = re.compile(rb"<(?:\w+:)?f[\s/>]")
"""A formula element of a worksheet's XML (``<f>``, ``<f t="shared" .../>``, any prefix)."""
_XLSX_MERGED = re.compile(
    rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z]{1,3}[0-9]+:[A-Z]{1,3}[0-9]+)"'
)
"""A merged cell range of a worksheet's XML (``<mergeCell ref="A2:A5"/>``)."""
_XLSX_HIDDEN_ROW = re.compile(rb'<(?:\w+:)?row\s[^>]*?\bhidden="(?:1|true)"[^>]*>')
"""A hidden row of a worksheet's XML (its number in the ``r`` attribute)."""
_XLSX_ROW_NUMBER = re.compile(rb'\br="([0-9]+)"')
_MAX_LISTED_CELLS = 20
"""Merged cell ranges listed one by one (then one problem counts the rest)."""


@dataclass(frozen=True)
class _SheetXml:
    """What a worksheet's XML says beyond its cells' values (see :func:`_sheet_xml`)."""

    formulas: bool
    merged: list[str]
    hidden_rows: list[int]


def _sheet_xml(path: Path, sheet: Any) -> _SheetXml:
    """Whether a worksheet's XML holds a formula (True when that cannot be told), its merged
    cell ranges (``A2:A5``) and its hidden rows, read from the XML in one pass."""
    import zipfile

    part = getattr(sheet, "_worksheet_path", None)  # openpyxl's read-only sheets keep it
    if not isinstance(part, str):
        return _SheetXml(True, [], [])
    formula, merged, hidden = False, [], []
    try:
        with zipfile.ZipFile(path) as archive, archive.open(part) as xml:
            tail = b""
            for chunk in iter(lambda: xml.read(1 << 20), b""):
                text = tail + chunk
                formula = formula or _XLSX_FORMULA.search(text) is not None
                # an element cut at the chunk's end is found whole in the next text; one
                # that ends within the carried tail was found before
                merged += [m.group(1).decode() for m in _XLSX_MERGED.finditer(text)
                           if m.end() > len(tail)]
                for m in _XLSX_HIDDEN_ROW.finditer(text):
                    number = _XLSX_ROW_NUMBER.search(m.group(0))
                    if m.end() > len(tail) and number:
                        hidden.append(int(number.group(1)))
                tail = text[-256:]
    except (KeyError, OSError, zipfile.BadZipFile):
        return _SheetXml(True, [], [])
    return _SheetXml(formula, merged, hidden)


def _holds_header_of(sheet: Any, table: Table) -> bool:
    """Whether a worksheet's first row is a header of ``table`` (:func:`_names_the_table`):
    rows of the table, split over sheets."""
    first = next(sheet.iter_rows(max_row=1, values_only=True), ()) or ()
    return _names_the_table(list(first), table)


def _xlsx_rows(path: Path, problems: list[dict[str, Any]]) -> Iterator[tuple[int, tuple]]:
    import openpyxl

    # The cells' values as last computed, and (second reading, only when the sheet holds a
    # formula) their formulas: a formula cell without a computed value reads as empty in the
    # first and is flagged with the second.
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    formulas = None
    try:
        sheets = workbook.worksheets
        table = TABLES.get(path.stem.lower())
        for sheet in sheets[1:]:
            if table is not None and _holds_header_of(sheet, table):
                problems.append(
                    _problem("error", path.name, "file.sheets",
                             f"sheet {sheet.title!r} starts with the header of table "
                             f"{table.name} too, but only the first sheet "
                             f"({sheets[0].title!r}) is read: its rows would be left out. "
                             "Put every row of the table in the first sheet, or delete the "
                             "other")
                )
        if len(sheets) > 1:
            problems.append(
                _problem("warning", path.name, "file.sheets",
                         f"the workbook has {len(sheets)} sheets; only the first "
                         f"({sheets[0].title!r}) was read")
            )
        if getattr(sheets[0], "sheet_state", "visible") != "visible":
            problems.append(
                _problem("warning", path.name, "file.sheets",
                         f"the first sheet ({sheets[0].title!r}) is hidden in the workbook; it "
                         "is the one read")
            )
        # The used range a sheet states (its <dimension>) may be wrong, as some programs write
        # it: read every row and column the sheet holds instead, never fewer.
        sheets[0].reset_dimensions()
        xml = _sheet_xml(path, sheets[0])
        merged = xml.merged
        if xml.hidden_rows:
            shown = ", ".join(map(str, xml.hidden_rows[:MAX_SHOWN_ROWS]))
            more = ", ..." if len(xml.hidden_rows) > MAX_SHOWN_ROWS else ""
            problems.append(
                _problem("warning", path.name, "row.hidden",
                         f"{len(xml.hidden_rows)} row(s) of the sheet are hidden (filtered "
                         f"out?): rows {shown}{more}; they are read like every other row",
                         row=xml.hidden_rows[0])
            )
        for cells in merged[:_MAX_LISTED_CELLS]:
            first = cells.split(":")[0]
            problems.append(
                _problem("error", path.name, "cell.merged",
                         f"cells {cells} are merged: the value is in {first} only and the "
                         "other cells read as empty; unmerge them and fill each cell",
                         row=int(re.sub(r"[A-Z]+", "", first)))
            )
        if len(merged) > _MAX_LISTED_CELLS:
            problems.append(
                _problem("error", path.name, "cell.merged",
                         f"{len(merged) - _MAX_LISTED_CELLS} more merged cell ranges "
                         "(not listed)")
            )
        if not xml.formulas:
            for number, cells in enumerate(sheets[0].iter_rows(), start=1):
                yield number, tuple(_xlsx_value(c, None) for c in cells)
            return
        formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
        formulas.worksheets[0].reset_dimensions()
        rows = zip(sheets[0].iter_rows(), formulas.worksheets[0].iter_rows())
        for number, (cells, written) in enumerate(rows, start=1):
            yield number, tuple(_xlsx_value(c, f) for c, f in zip(cells, written))
    finally:
        workbook.close()
        if formulas is not None:
            formulas.close()


def _is_formula(written: Any) -> bool:
    """Whether a cell of the formulas reading holds a formula (array formulas included)."""
    return getattr(written, "data_type", None) == "f" or (
        isinstance(written.value, str) and written.value.startswith("=")
    )


def _xlsx_value(cell: Any, written: Any) -> Any:
    """A cell's value, or a marker for a percentage, an error value or a formula never computed."""
    value = cell.value
    if getattr(cell, "data_type", None) == "e":  # #N/A, #REF!, #DIV/0! ...
        return _ExcelError(str(value))
    # A formula whose computed value is the empty text has data type 'str'; one never
    # computed has none ('n'). ``written`` is None for a sheet without formulas.
    if (value is None and written is not None and _is_formula(written)
            and getattr(cell, "data_type", None) != "str"):
        return _UNCOMPUTED
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number_format = getattr(cell, "number_format", "") or ""
        if "%" in _shown_format(number_format):
            return _Percent(value)
        try:
            shown = _shown_integer(value, number_format)
        except _UnshownFormat:
            return _Formatted(value, None, number_format)
        if shown is not None:
            return _Formatted(value, shown)
    return value


@functools.lru_cache(maxsize=256)
def _format_parts(number_format: str) -> tuple[str, ...]:
    """The first section of a number format, in parts: quoted text, an escaped character, a
    bracket (colour, condition), a padding or fill (``_x``, ``*x``), or a single character."""
    return tuple(re.findall(r'"[^"]*"|\\.|\[[^\]]*\]|[_*].|.', number_format.split(";")[0]))


def _shown_format(number_format: str) -> str:
    """A cell's number format without its literal text: quoted text, backslash-escaped
    characters (``0.0\\%`` shows a percent sign without scaling), brackets, and paddings
    (``0.0_%`` pads the width of a percent sign without showing one)."""
    return "".join(p for p in _format_parts(number_format)
                   if len(p) == 1 and p not in "\"")


_LITERAL_CHARACTERS = frozenset("-/ :()+")
"""Characters a number format shows as they are (besides quoted and escaped text)."""
_CONDITION = re.compile(r"\[(?:<|>|=)")
"""A condition in a number format (``[>=1000]``): its sections are chosen by the value."""
_DIGIT_PLACEHOLDERS = frozenset("0#?")


def _shown_integer(value: float, number_format: str) -> str | None:
    """The text a sheet shows for a whole number in a format of digit placeholders (``0``
    padding with zeros, ``#`` not, ``?`` with a space) and literal text (``00000000``,
    ``"NEN-"00000000``, ``000-00-0000``, ``"P"#``, ``00000000_)``), when it differs from the
    plain number; the number itself for General (``"NEN-"General`` shows the text around it).

    Returns None when the text shown is the plain number (thousands separators aside). Raises
    :class:`_UnshownFormat` for a format not rendered here (conditions, several sections for a
    negative number, decimals, dates ...), so that a text column never takes a number for the
    text its sheet shows without a word.
    """
    number = int(value) if float(value).is_integer() else None
    sections = number_format.split(";")
    parts = _format_parts(number_format)
    quoted = any(p[0] in '"\\' for p in parts)
    if _shown_format(number_format).strip().lower() in ("general", "@", "") and not quoted:
        return None  # the number as it is
    if number is None or _CONDITION.search(number_format) or (number < 0 and len(sections) > 1):
        raise _UnshownFormat(number_format)
    if number < 0:
        shown = _shown_integer(-number, number_format)
        return None if shown is None else "-" + shown
    general = [i for i, p in enumerate(parts) if p.lower() == "g"
               and "".join(parts[i:i + 7]).lower() == "general"]
    if general:  # the number as it is, with the text around it
        i = general[0]
        parts = [*parts[:i], "#", *parts[i + 7:]]
    parts = [p for p in parts if p != ","]  # a thousands separator: the digits stay the same
    places = sum(p in _DIGIT_PLACEHOLDERS for p in parts)
    if places == 0 or any(len(p) == 1 and p not in _DIGIT_PLACEHOLDERS
                          and p not in _LITERAL_CHARACTERS for p in parts):
        raise _UnshownFormat(number_format)
    digits = str(number)
    # digits fill the placeholders from the right; the first takes any beyond their number
    fill = digits.rjust(places, "\0")
    out, taken = [], 0
    for p in parts:
        if p in _DIGIT_PLACEHOLDERS:
            width = len(fill) - places + 1 if taken == 0 else 1
            chunk = fill[taken:taken + width]
            taken += width
            if chunk == "\0":
                chunk = {"0": "0", "?": " ", "#": ""}[p]
            out.append(chunk.replace("\0", ""))
        elif p.startswith('"'):
            out.append(p[1:-1])
        elif p.startswith("\\"):
            out.append(p[1])
        elif len(p) == 1:
            out.append(p)
        # brackets (colours), paddings and fills show no text
    text = "".join(out)
    return None if text == digits else text


class _UnshownFormat(ValueError):
    """A number format whose text :func:`_shown_integer` does not render."""


@dataclass(frozen=True)
class _Formatted:
    """A number whose cell format shows it otherwise (leading zeros, text around it); ``text``
    None for a format not rendered (then ``number_format`` names it)."""

    value: float
    text: str | None
    number_format: str = ""


def _decimal_scale(dtype: str) -> int:
    """The digits after the point of a DuckDB ``DECIMAL(p,s)`` type (0 for another type: a
    ``DECIMAL(10,0)``, as SAS or Spark write integer identifiers, reads as its digits)."""
    found = re.fullmatch(r"DECIMAL\(\s*\d+\s*,\s*(\d+)\s*\)", dtype)
    return int(found.group(1)) if found else 0


def _key_columns(table: Table) -> frozenset[str]:
    """A table's own key columns and the columns that refer to another table's key."""
    return frozenset(table.key) | frozenset(fk.column for fk in table.foreign_keys)


_EXCEL_EXACT_LIMIT = 10**15
"""A number this large has more than 15 digits, more than Excel keeps: a cell of a text column
(an identifier) holding one has lost the digits typed beyond the 15th."""

_UNNAMED_ROWS_SHOWN = 20
"""Rows named in the warning of a column without a name that holds values."""

_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The first bytes of an OLE compound file (old .xls, and any password-protected workbook)."""


def _load_xlsx(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    file: Path,
    build: "TableBuilder",
    problems: list[dict[str, Any]],
    show_identifiers: bool = False,
) -> bool:
    import zipfile

    import pyarrow as pa

    if not zipfile.is_zipfile(file):
        with open(file, "rb") as handle:
            start = handle.read(8)
        if start == _OLE_SIGNATURE:
            what = ("an OLE file: a password-protected workbook or an old-format .xls; save it "
                    "from Excel as .xlsx without a password")
        elif not start:
            what = "the file is empty"
        elif start.startswith(b"PK"):
            what = "a damaged zip archive (cut short while copying?)"
        else:
            what = "not a zip archive; if it is CSV text, name it .csv"
        problems.append(_problem("error", file.name, "file.format",
                                 f"the file is not an XLSX workbook: {what}"))
        return False
    try:
        rows = _xlsx_rows(file, problems)
        header_row = None
        for number, values in rows:
            if any(v is not None and str(v).strip() for v in values):
                header_row = (number, [_xlsx_cell_text(v) or "" for v in values])
                break
        if header_row is None:
            problems.append(_problem("error", file.name, "file.empty",
                                     "the workbook's first sheet is empty (no header row)"))
            return False
        header_number, headers = header_row
        while headers and not headers[-1]:
            headers.pop()
        width = len(headers)
        # A column without a name (pandas' index column, a spacer) is read and left, with the
        # warning a CSV file's gets: how many rows hold values in it, and the first of them.
        blank = [i for i, h in enumerate(headers) if not _normalise_header(h)]
        unnamed_values = dict.fromkeys((i + 1 for i in blank), 0)
        unnamed_rows: dict[int, list[int]] = {i + 1: [] for i in blank}
        names = [f"c{i}" for i in range(width)]
        listed = len(problems)
        text_columns = {c.name for c in table.columns if c.dtype == "string"}
        text_positions = {i for i, h in enumerate(headers)
                          if _normalise_header(h) in text_columns}
        schema = pa.schema([("_row", pa.int64())] + [(n, pa.string()) for n in names])
        batches: list[pa.RecordBatch] = []
        numbers: list[int] = []
        columns: list[list[str | None]] = [[] for _ in range(width)]

        def flush() -> None:
            if numbers:
                arrays = [pa.array(numbers, pa.int64())] + [pa.array(c, pa.string())
                                                             for c in columns]
                batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
                numbers.clear()
                for c in columns:
                    c.clear()

        for number, values in rows:
            for i, value in enumerate(values[:width]):
                if value is _UNCOMPUTED:
                    problems.append(
                        _problem("error", file.name, "cell.formula",
                                 "a formula without a computed value (the workbook was saved by "
                                 "a program that does not compute formulas); open it in Excel "
                                 "or LibreOffice and save it, or type the value",
                                 row=number, column=_normalise_header(headers[i]))
                    )
                elif isinstance(value, _ExcelError):
                    problems.append(
                        _problem("error", file.name, "cell.error",
                                 f"the cell holds the Excel error value {value.code} instead "
                                 "of a value; correct the cell or its formula",
                                 row=number, column=_normalise_header(headers[i]))
                    )
            for i in text_positions:
                value = values[i] if i < len(values) else None
                stored = value.value if isinstance(value, _Formatted) else value
                # a float: Excel's 15 digits (1.23456789012346E+17 in the sheet's XML); an
                # int was written whole (by pandas, openpyxl) and lost nothing
                if isinstance(stored, float) and abs(stored) >= _EXCEL_EXACT_LIMIT:
                    problems.append(
                        _problem("error", file.name, "cell.digits",
                                 "a number of more than 15 digits in a text column: Excel "
                                 "keeps 15 significant digits of a number and turns the rest "
                                 "into zeros, so the value typed is lost (General format "
                                 "shows it as 1.23457E+17); format the column as Text and "
                                 "type the values again",
                                 row=number, column=_normalise_header(headers[i]))
                    )
                elif isinstance(value, _Formatted) and value.text is None:
                    problems.append(
                        _problem("error", file.name, "cell.format",
                                 f"a number in a text column, shown through the cell's format "
                                 f"{value.number_format!r}, which is not read here (the sheet "
                                 "may show another text than the number stored); format the "
                                 "column as Text and type the values as shown",
                                 row=number, column=_normalise_header(headers[i]))
                    )
            cells = [_xlsx_cell_text(v, as_shown=i in text_positions)
                     for i, v in enumerate(values)]
            if len(cells) > width and any(c is not None and c.strip() for c in cells[width:]):
                problems.append(
                    _problem("error", file.name, "file.ragged",
                             "the row has values beyond the last header column", row=number)
                )
            if not any(c is not None and c.strip() for c in cells):
                continue  # blank rows (often trailing formatting) carry no data
            for i in blank:
                if i < len(cells) and cells[i] is not None and cells[i].strip():
                    unnamed_values[i + 1] += 1
                    if len(unnamed_rows[i + 1]) < _UNNAMED_ROWS_SHOWN:
                        unnamed_rows[i + 1].append(number)
            cells = (cells + [None] * width)[:width]
            numbers.append(number)
            for i, cell in enumerate(cells):
                columns[i].append(cell)
            if len(numbers) >= _XLSX_BATCH:
                flush()
        flush()
    except Exception as exc:  # openpyxl raises many kinds for a corrupt workbook
        problems.append(
            _problem("error", file.name, "file.unreadable",
                     f"the workbook could not be read: {_masked_reason(exc, show_identifiers)}")
        )
        return False
    arrow_table = pa.Table.from_batches(batches, schema=schema)
    con.register(f"_xlsx_{table.name}", arrow_table)
    try:
        renamed = ", ".join(
            f"{_quote_ident(n)} AS "
            f"{_quote_ident(h if _normalise_header(h) else f'{i + 1}$unnamed')}"
            for i, (n, h) in enumerate(zip(names, headers))
        )
        inner = f"(SELECT _row, {renamed} FROM _xlsx_{table.name})"
        made = _stage_table(con, table, file, inner, headers, "_row", build, problems,
                            unnamed_values=unnamed_values,
                            unnamed_rows={p: tuple(r) for p, r in unnamed_rows.items()})
        if any(p["rule"] == "header.missing" for p in problems[listed:]):
            # a title above the header: the rows wider than it follow from that one error
            problems[listed:] = [p for p in problems[listed:] if p["rule"] != "file.ragged"]
        return made
    finally:
        con.unregister(f"_xlsx_{table.name}")


_Loaded = tuple[list[dict[str, Any]], "SourceFile | None"]


def _file_identity(path: Path) -> tuple[int, ...] | None:
    """A file's device, inode, size and modification time (ns): a file rewritten, or replaced
    by another, differs. None when it cannot be read."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _load_table(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    candidates: list[Path],
    build: TableBuilder,
    show_identifiers: bool,
    passed: Callable[[], tuple[str | None, int | None]],
    seen: tuple[int, ...] | None = None,
) -> tuple[list[dict[str, Any]], SourceFile | None]:
    """Read the file of one table; return its problems and the file read (None if not read).

    ``passed`` waits for the pass over the file's bytes (:func:`csvshape.byte_pass`) and
    returns its digest and line count; ``seen`` is the file's :func:`_file_identity` taken
    before either began (a file that changed meanwhile is an error).
    """
    problems: list[dict[str, Any]] = []
    if not candidates:
        problems.append(
            _problem("error", f"{table.name}.csv", "file.missing",
                     f"no file for table {table.name} (expected {table.name}.csv, "
                     f"{table.name}.parquet or {table.name}.xlsx)")
        )
        return problems, None
    if len(candidates) > 1:
        for path in candidates:
            problems.append(
                _problem("error", path.name, "file.duplicate",
                         f"several files for table {table.name} ("
                         + ", ".join(p.name for p in candidates)
                         + "); keep exactly one")
            )
        return problems, None
    file = candidates[0]
    fmt = file.suffix.lower().lstrip(".")
    encoding: str | None = None
    skipped: csvshape.BlankRows | None = None
    if fmt != "xlsx" and _file_is_blank(file):
        problems.append(
            _problem("error", file.name, "file.empty",
                     "the file is empty: it has no header row" if fmt == "csv" else
                     "the file is empty (0 bytes or blank): no Parquet data; write it again")
        )
        return problems, None
    if fmt == "csv":
        created, encoding, skipped = _load_csv(con, table, file, build, problems,
                                               show_identifiers)
    elif fmt == "parquet":
        created = _load_parquet(con, table, file, build, problems, show_identifiers)
    else:
        created = _load_xlsx(con, table, file, build, problems, show_identifiers)
    if not created:
        return problems, None
    n_rows = con.execute(f"SELECT count(*) FROM {build.target(table)}").fetchall()[0][0]
    blank = skipped
    digest, n_lines = passed()
    if seen is not None and _file_identity(file) != seen:
        problems.append(
            _problem("error", file.name, "file.changed",
                     "the file changed while it was being read (its size, time or identity "
                     "differs from when the reading began): the rows read and the file's "
                     "digest may come from two versions of it. Import again once nothing "
                     "writes to it")
        )
        build.discard(con, table)
        return problems, None
    if (skipped is None and n_lines is not None
            and csvshape.may_have_blank_rows(file, n_lines, n_rows)):
        assert encoding is not None
        blank = _csv_blank_rows(file, encoding, problems)
        if blank is None:
            build.discard(con, table)
            return problems, None
    if n_rows == 0:
        problems.append(
            _problem("warning" if table.may_be_empty else "error", file.name,
                     "file.header_only",
                     "the file has a header but no data rows"
                     + ("" if table.may_be_empty else
                        f"; a registry needs at least one row in {table.name}"))
        )
    repeats = (repeated_key_hashes(con, table, build.target(table))
               if own_key_is_checked_apart(table) else None)
    return problems, SourceFile(
        table.name, file, fmt, encoding, int(n_rows), row_column=(fmt == "xlsx"),
        blank_rows=blank, sha256=digest, key_hash_repeats=repeats, partial=skipped is not None,
    )


def load_source(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    build: TableBuilder,
    *,
    show_identifiers: bool = False,
    digests: bool = False,
    tasks: Sequence[LaneTask] = (),
) -> LoadedSource:
    """Read every table file of a registry source folder, once, into the tables ``build`` makes.

    As many files are read at a time as DuckDB has threads, each by its own cursor of ``con``
    (the tables are created in an attached database, which every cursor sees), with the threads
    shared among them (see :func:`nenstudy.registry.lanes.run_side_by_side`); the files and
    problems are returned in schema order whatever the order the reads finish in. Meanwhile one
    more thread passes over the files' bytes, in the order they are read: it counts the lines
    of CSV files (blank rows, see :mod:`nenstudy.registry.csvshape`) and, with ``digests``,
    hashes every file.

    Parameters
    ----------
    con
        DuckDB connection (with ``preserve_insertion_order`` on, so that rowids follow file order).
    source
        Folder with one ``<table>.csv``, ``<table>.parquet`` or ``<table>.xlsx`` per table.
    build
        Creates each table from the text relation of its file (see :class:`TableBuilder`).
    show_identifiers
        Whether reading errors may quote the offending source line.
    digests
        Compute the SHA-256 of every file read (:attr:`SourceFile.sha256`).
    tasks
        Work that needs some tables read and nothing else, run in the reading lanes after the
        files (each as soon as a lane is free and its tables are read): a lane that has no file
        left does it while the other still reads. Their results are
        :attr:`LoadedSource.task_results`.

    Returns
    -------
    LoadedSource
        The files read and the file-level problems (missing, empty, duplicated or unreadable
        files; missing required or unexpected columns; encoding).
    """
    problems: list[dict[str, Any]] = []
    files: dict[str, SourceFile] = {}
    source = Path(source)
    if not source.is_dir():
        problems.append(
            _problem("error", str(source), "source.missing",
                     "the source folder does not exist or is not a folder")
        )
        return LoadedSource(files={}, problems=tuple(problems),
                            task_results=(None,) * len(tasks))
    matched, found = find_source_files(source)
    problems.extend(found)
    # Largest files first, so that the last read is a small one.
    by_size = sorted(
        SCHEMA, key=lambda t: -sum(p.stat().st_size for p in matched[t.name])
    )
    # taken before any reading: a file changed while it is read is found (see _load_table)
    identities = {t.name: _file_identity(matched[t.name][0])
                  for t in by_size if len(matched[t.name]) == 1}
    with ThreadPoolExecutor(max_workers=1) as bytes_pass:
        passes = {}
        for t in by_size:
            if len(matched[t.name]) == 1:
                path = matched[t.name][0]
                lines = path.suffix.lower() == ".csv"
                if digests or lines:
                    passes[t.name] = bytes_pass.submit(csvshape.byte_pass, path,
                                                       digest=digests, lines=lines)

        read = {t.name: threading.Event() for t in by_size}
        created: dict[str, str] = {}

        def job(table: Table) -> Callable[[duckdb.DuckDBPyConnection], _Loaded]:
            def passed() -> tuple[str | None, int | None]:
                future = passes.get(table.name)
                return (None, None) if future is None else future.result()

            def load(cursor: duckdb.DuckDBPyConnection) -> _Loaded:
                try:
                    loaded = _load_table(
                        cursor, table, matched[table.name], build, show_identifiers, passed,
                        identities.get(table.name)
                    )
                    if loaded[1] is not None and not loaded[1].partial:
                        created[table.name] = build.target(table)
                    return loaded
                finally:
                    read[table.name].set()

            return load

        def after(task: LaneTask) -> Callable[[duckdb.DuckDBPyConnection], Any]:
            def run(cursor: duckdb.DuckDBPyConnection) -> Any:
                # Every file's job started before this one (the lanes take jobs in order), so
                # each of these waits ends.
                for name in task.needs:
                    read[name].wait()
                if not all(name in created for name in task.needs):
                    return None
                return task.run(cursor, {name: created[name] for name in task.needs})

            return run

        try:
            done = run_side_by_side(con, [job(t) for t in by_size] + [after(t) for t in tasks])
        finally:
            for future in passes.values():
                future.cancel()
    results = dict(zip((t.name for t in by_size), done))
    # A table whose only file has an unsupported type (follow_up.txt) is named once, there.
    unsupported = {Path(p["file"]).stem.lower() for p in found if p["rule"] == "file.format"}
    for table in SCHEMA:
        found_problems, file = results[table.name]
        if table.name in unsupported:
            found_problems = [p for p in found_problems if p["rule"] != "file.missing"]
        problems.extend(found_problems)
        if file is not None:
            files[table.name] = file
    return LoadedSource(files=files, problems=tuple(problems),
                        task_results=tuple(done[len(by_size):]))
