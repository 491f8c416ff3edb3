"""Validate a registry source folder against the schema, every problem at once, in DuckDB.

Each source file is read once (:mod:`nenstudy.registry.sources`) by a single statement that types
every column, computes the derived columns and checks every row (:mod:`nenstudy.registry.typed`:
types and formats, allowed codes, required fields, ranges, date order within the row): the rows'
problems land in a ``_problems`` column (a JSON list) that is NULL for sound rows, so the typed
table is the store table in the making and no raw-text copy is kept. Keys, references, date logic
across tables, lines of therapy and duplicate patients then run as aggregations and joins on keys
and dates (:mod:`nenstudy.registry.crosschecks`). Every problem found is a row of
:attr:`ValidationReport.problems` with its file, row (as in a spreadsheet: header = row 1), column,
value and rule. Values of identifier columns are masked unless the user asks for them.
"""

from __future__ import annotations

import csv
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import duckdb

from nenstudy.registry import DEFAULT_MEMORY_LIMIT, sql
from nenstudy.registry.crosschecks import (
    LANE_TABLES, insert_problems, prepare_in_lane, run_cross_checks,
)
from nenstudy.registry.schema import IDENTIFIER_MASK, SCHEMA, Table
from nenstudy.registry.sources import ROW_CONVENTION, LaneTask, LoadedSource, load_source
from nenstudy.registry.typed import (
    PROBLEMS_JSON_TYPE,
    empty_text_relation,
    free_text_columns,
    typed_table_sql,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "PROBLEM_COLUMNS",
    "IDENTIFIER_COLUMNS",
    "SPLIT_TEXT_LENGTH",
    "ValidationReport",
    "ValidationError",
    "validate_source",
    "connect_work_db",
    "typed_table_sql",
    "validate_into",
    "drop_views",
]

PROBLEM_COLUMNS = ("severity", "file", "row", "column", "value", "rule", "message")
"""Columns of :attr:`ValidationReport.problems` (and of its CSV)."""

IDENTIFIER_COLUMNS: frozenset[str] = frozenset(
    c.name for t in SCHEMA for c in t.columns if c.identifier
)
"""Columns whose values are masked in problem listings unless identifiers are shown."""


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating a registry source: every problem found.

    The problems are kept as plain records; :attr:`problems` builds a DataFrame on request, so
    that validating and importing from the command line never waits for pandas to load.

    Attributes
    ----------
    source
        The validated folder.
    files
        Rows read per staged table.
    seconds
        Wall time of each stage: ``read`` (reading, typing and checking each row, every file)
        and ``cross_checks`` (keys, references and date logic across rows and tables).
    """

    source: Path
    _records: tuple[tuple[Any, ...], ...] = field(repr=False)
    files: tuple[tuple[str, str, int], ...] = ()
    seconds: Mapping[str, float] = field(default_factory=dict)

    @property
    def problems(self) -> pd.DataFrame:
        """Every problem (a new frame): severity, file, row, column, value, rule, message.

        ``row`` counts as in a spreadsheet (header = row 1, first data row = row 2); it is
        missing for file-level problems. Sorted by file, row, column.
        """
        import pandas as pd

        frame = pd.DataFrame(list(self._records), columns=list(PROBLEM_COLUMNS))
        frame["row"] = frame["row"].astype("Int64")
        return frame

    @property
    def n_errors(self) -> int:
        """Number of error-level problems."""
        return sum(1 for record in self._records if record[0] == "error")

    @property
    def n_warnings(self) -> int:
        """Number of warning-level problems."""
        return sum(1 for record in self._records if record[0] == "warning")

    @property
    def ok(self) -> bool:
        """Whether no error-level problem was found (warnings allowed)."""
        return self.n_errors == 0

    def to_csv(self, path: Path) -> None:
        """Write every problem to a CSV file (UTF-8, columns :data:`PROBLEM_COLUMNS`).

        The file starts with a UTF-8 byte-order mark, as REDCap's exports do: Excel then reads
        accented text right (without it, Excel on Windows reads the file as its ANSI code
        page). pandas, readr, data.table and Python's ``utf-8-sig`` codec skip the mark; base
        R's ``read.csv`` needs ``fileEncoding = "UTF-8-BOM"``.

        A missing value (the row of a file-level problem, a problem without a column) is an
        empty cell. A value a spreadsheet would run as a formula (``=...``, ``@...``, or ``+``/``-``
        followed by other than a number) is written after a ``'``, as spreadsheets do for text.
        """
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(PROBLEM_COLUMNS)
            writer.writerows(tuple(_inert(v) for v in record) for record in self._records)

    def render(self, max_rows: int = 200, written_to: Path | None = None) -> str:
        """Return the report as plain text for a terminal.

        With more problems than ``max_rows``, a count of the problems of each kind (file,
        column, rule) comes first, and the listing shows the first problems of every kind, so
        that no file or rule is hidden behind another's thousands.

        Parameters
        ----------
        max_rows
            Show at most this many problems (all are in :meth:`to_csv`).
        written_to
            The CSV file the problems are written to, named in the footer of a cut listing.
        """
        lines = [
            f"Validation of {self.source}: {self.n_errors} error(s), "
            f"{self.n_warnings} warning(s)."
        ]
        for table, file, n in self.files:
            lines.append(f"  {table:16s} {file:28s} {n:>12,} rows")
        if not self._records:
            lines.append("No problems found.")
            return "\n".join(lines)
        shown: Sequence[tuple[Any, ...]] = self._records
        if len(self._records) > max_rows:
            kinds = Counter(_kind(r) for r in self._records)
            lines.append(f"Problems by kind ({len(kinds):,} kinds):")
            ranked = sorted(kinds.items(), key=lambda kv: (kv[0][0] != "error", -kv[1], kv[0]))
            for (severity, file, column, rule), n in ranked[:_MAX_KINDS]:
                lines.append(f"  {n:>9,}  {severity.upper():7s} {file} column {column or '-'} "
                             f"({rule})")
            if len(kinds) > _MAX_KINDS:
                lines.append(f"  ... and {len(kinds) - _MAX_KINDS:,} more kinds")
            shown = _first_of_each_kind(self._records, max_rows, len(kinds))
            lines.append(f"The first problems of each kind ({ROW_CONVENTION}):")
        else:
            lines.append(f"Problems ({ROW_CONVENTION}):")
        for severity, file, row, column, value, rule, message in shown:
            where = file if row is None else f"{file} row {int(row)}"
            if isinstance(column, str):
                where += f" column {column}"
            value_text = "" if not isinstance(value, str) else f" value {_shorten(value)!r}"
            lines.append(f"  {severity.upper():7s} {where}{value_text}: {message} ({rule})")
        if len(shown) < len(self._records):
            where = (f"all are in {written_to}" if written_to is not None
                     else "write them all with --problems FILE.csv")
            lines.append(f"  ... and {len(self._records) - len(shown):,} more; {where}")
        return "\n".join(lines)


_MAX_KINDS = 40
"""Most kinds of problem counted in a cut terminal listing."""


def _kind(record: tuple[Any, ...]) -> tuple[str, str, str, str]:
    """A problem's kind: severity, file, column ('' for none) and rule."""
    severity, file, _row, column, _value, rule, _message = record
    return severity, file, column if isinstance(column, str) else "", rule


def _first_of_each_kind(records: Sequence[tuple[Any, ...]], limit: int, n_kinds: int
                        ) -> list[tuple[Any, ...]]:
    """At most ``limit`` records, in their order: an equal share of the first of each kind,
    the rest of the limit filled with the next records."""
    share = max(1, limit // n_kinds)
    taken: Counter = Counter()
    chosen: list[int] = []
    for i, record in enumerate(records):
        kind = _kind(record)
        if taken[kind] < share:
            taken[kind] += 1
            chosen.append(i)
    picked = set(chosen[:limit])
    for i in range(len(records)):
        if len(picked) >= limit:
            break
        picked.add(i)
    return [records[i] for i in sorted(picked)]


SHOWN_VALUE_CHARS = 120
"""A value longer than this is cut in terminal listings (written whole by ``to_csv``)."""


def _shorten(value: str) -> str:
    if len(value) <= SHOWN_VALUE_CHARS:
        return value
    return f"{value[:SHOWN_VALUE_CHARS]}... ({len(value):,} characters)"


_NUMBER = re.compile(r"[+-]\s*(\d+[.,]?\d*|[.,]\d+)([eE][+-]?\d+)?")


def _inert(value: object) -> object:
    """A text a spreadsheet would take for a formula, made plain text with a leading ' (a
    sign alone, as a missing value is often written, is no formula)."""
    if isinstance(value, str) and value and (
        value[0] in "=@\t\r"
        or (value[0] in "+-" and len(value) > 1 and not _NUMBER.fullmatch(value))
    ):
        return "'" + value
    return value


class ValidationError(Exception):
    """Raised when a registry does not pass validation; ``.report`` lists every problem."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(
            f"the registry in {report.source} has {report.n_errors} error(s) "
            f"and {report.n_warnings} warning(s)"
        )
        self.report = report


# --------------------------------------------------------------------------- helpers


def connect_work_db(
    *, threads: int | None = None, memory_limit: str | None = None, temp_dir: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the in-memory DuckDB database validation works in (spills to ``temp_dir``).

    Insertion order is preserved while the files are read (the rowid of a table read from a file
    follows the file's rows, which gives the spreadsheet row of every record without a row-number
    column); :func:`validate_into` turns it off once every file is read. That holds
    only while the reading statement has no join, so the optimizer rule that turns a long
    ``IN (...)`` list into a join is disabled: the lists of allowed codes are short. FSST string
    compression is disabled for the tables written: its analysis dominated the write time, and
    the registry's strings (random identifiers, short codes) gain nothing from it (dictionary
    compression still applies).
    """
    config: dict[str, Any] = {
        "preserve_insertion_order": True,
        "disabled_optimizers": "in_clause",
        "disabled_compression_methods": "fsst",
    }
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    if temp_dir is not None:
        config["temp_directory"] = str(temp_dir)
    con = duckdb.connect(":memory:", config=config)
    if memory_limit:
        # Buffer blocks from memory DuckDB keeps for them, instead of allocating and freeing
        # each (page faults): about 4% less CPU for an import of 10^6 patients. A hint only:
        # a limit DuckDB cannot reserve (above the virtual memory size) goes without it.
        try:
            con.execute(f"SET block_allocator_memory = {sql.literal(memory_limit)}")
        except duckdb.Error:
            pass
    return con


@dataclass(frozen=True)
class _Builder:
    """Creates the typed tables in the database ``catalog`` (see :class:`TableBuilder`)."""

    catalog: str

    def target(self, table: Table) -> str:
        return f"{sql.ident(self.catalog)}.{sql.ident(table.name)}"

    def create_sql(
        self, table: Table, text_relation: str, row_column: bool, native: frozenset[str]
    ) -> str:
        return typed_table_sql(table, text_relation, self.target(table), row_column, native)

    def discard(self, con: duckdb.DuckDBPyConnection, table: Table) -> None:
        con.execute(f"DROP TABLE IF EXISTS {self.target(table)}")


# --------------------------------------------------------------------------- entry points


def validate_into(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    *,
    catalog: str,
    show_identifiers: bool = False,
    digests: bool = False,
) -> tuple[ValidationReport, LoadedSource]:
    """Read, type and validate a source folder inside ``con``, each file read once.

    Creates one table per schema table in the database ``catalog`` (an attached DuckDB file):
    the store columns (``age_at_diagnosis`` excepted), ``_problems`` (NULL for sound rows) and,
    for XLSX sources, ``_row``. Temporary views ``typed_<table>`` show them with ``_row`` (the
    spreadsheet row) and ``_file``; the importer turns the tables into the store.

    Parameters
    ----------
    con
        A DuckDB connection (see :func:`connect_work_db`).
    source
        The source folder.
    catalog
        Name of the attached database that receives the tables.
    show_identifiers
        Whether identifier values are shown in the problems.
    digests
        Compute the SHA-256 of every file read (hashed while DuckDB reads).

    Returns
    -------
    (ValidationReport, LoadedSource)
    """
    source = Path(source)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _problems (severity VARCHAR, file VARCHAR, row BIGINT, "
        "\"column\" VARCHAR, value VARCHAR, rule VARCHAR, message VARCHAR)"
    )
    build = _Builder(catalog)
    start = time.perf_counter()
    # The lane that runs out of files first prepares what needs treatments and tests only.
    loaded = load_source(con, source, build, show_identifiers=show_identifiers,
                         digests=digests, tasks=[LaneTask(LANE_TABLES, prepare_in_lane)])
    read = time.perf_counter()
    # Every file is read (the rowids follow the files): from here on no statement needs
    # insertion order, and keeping it made the cross-table queries and the importer's
    # finishing steps several times slower (ordered joins, ordered update of a new column).
    con.execute("SET preserve_insertion_order = false")
    if loaded.problems:
        con.executemany(
            "INSERT INTO _problems VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[p[c] for c in PROBLEM_COLUMNS] for p in loaded.problems],
        )
    # Tables read with rows: a header-only table is an error of its own (or allowed empty), and
    # rows referring to it would each be an orphan, burying the one problem under thousands.
    # A file read without its malformed rows has its rows checked, but takes no part in the
    # checks across rows and tables (its view is then emptied): rows referring to a row left
    # out would each be an orphan.
    available = {name for name, f in loaded.files.items() if f.n_rows > 0 and not f.partial}
    for table in SCHEMA:
        target = build.target(table)
        staged = loaded.files.get(table.name)
        if staged is None:
            build.discard(con, table)
            con.execute(typed_table_sql(table, empty_text_relation(table), target))
            row, file, drop = "CAST(NULL AS BIGINT)", "CAST(NULL AS VARCHAR)", "_problems"
        else:
            row, file = staged.row_sql, sql.literal(staged.path.name)
            drop = "_problems, _row" if staged.row_column else "_problems"
        # the view of a file read in part is empty (its row problems come from the table)
        only = " WHERE false" if staged is not None and staged.partial else ""
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW typed_{table.name} AS SELECT {row} AS _row, "
            f"{file} AS _file, * EXCLUDE ({drop}) FROM {target}{only}"
        )
        if staged is not None:
            insert_problems(
                con,
                f"SELECT p.severity, {file}, _row, p.column, p.value, p.rule, p.message FROM "
                f"(SELECT {row} AS _row, unnest(from_json(_problems, "
                f"{sql.literal(PROBLEMS_JSON_TYPE)})) AS p FROM {target} "
                "WHERE _problems IS NOT NULL)",
            )
            _leave_out_empty_rows(con, target, staged.path.name)
    _percentages_as_fractions(con, available, loaded)
    # One thread more than DuckDB reads with: its hash aggregations then split their tables into
    # more, smaller partitions, and the per-patient and per-key groupings of 10^6 patients took
    # about 10% less time and CPU on 2 cores (the reading lanes are better off without it).
    row = con.execute("SELECT current_setting('threads')").fetchone()
    threads = int(row[0]) if row else 1
    con.execute(f"SET threads = {threads + 1}")
    try:
        run_cross_checks(con, available, key_repeats={
            name: f.key_hash_repeats for name, f in loaded.files.items()
            if f.key_hash_repeats is not None and name in available
        }, lane_facts=loaded.task_results[0])
    finally:
        con.execute(f"SET threads = {threads}")
    # A workbook cell without a value to read (a formula never computed, an error value) is
    # named as such: not also as a required value missing from it.
    con.execute(
        "DELETE FROM _problems AS p WHERE p.rule = 'required' AND EXISTS (SELECT 1 FROM "
        "_problems AS c WHERE c.rule IN ('cell.formula', 'cell.error') AND c.file = p.file "
        "AND c.row = p.row AND c.\"column\" = p.\"column\")"
    )
    seconds = {"read": read - start, "cross_checks": time.perf_counter() - read}
    # Identifiers are looked up in every row read, those of a file read in part included.
    relations = {t.name: (build.target(t) if t.name in loaded.files
                          and loaded.files[t.name].partial else f"typed_{t.name}")
                 for t in SCHEMA}
    report = _fetch_report(con, source, loaded, show_identifiers, seconds, relations)
    return report, loaded


EMPTY_ROWS_LISTED = 10
"""Rows without a value named in the one warning of a file; the others are counted."""


def _leave_out_empty_rows(con: duckdb.DuckDBPyConnection, target: str, file: str) -> None:
    """Leave out the rows of a file without any value (only separators: a spreadsheet's
    formatted empty rows saved as ``,,,,``), with one warning naming them (``row.empty``).

    They hold nothing to lose, as an XLSX sheet's empty rows; left in, each would be a row
    missing every required value.
    """
    name, file = file, sql.literal(file)
    rows = [r for (r,) in con.execute(
        f"SELECT row FROM _problems WHERE rule = 'row.empty' AND file = {file} ORDER BY row"
    ).fetchall()]
    if not rows:
        return
    con.execute(f"DELETE FROM _problems WHERE rule = 'row.empty' AND file = {file}")
    con.execute(f"DELETE FROM {target} WHERE _problems IS NOT NULL "
                "AND contains(_problems, '\"row.empty\"')")
    listed = ", ".join(str(r) for r in rows[:EMPTY_ROWS_LISTED])
    more = f" and {len(rows) - EMPTY_ROWS_LISTED} more" if len(rows) > EMPTY_ROWS_LISTED else ""
    several = len(rows) > 1
    message = (f"{len(rows)} row{'s' if several else ''} without any value (only separators) "
               f"left out: row{'s' if several else ''} {listed}{more}")
    con.execute("INSERT INTO _problems VALUES ('warning', ?, ?, NULL, NULL, 'row.empty', ?)",
                [name, rows[0], message])


FRACTION_MIN_VALUES = 10
"""A percentage column is suspected of holding fractions only with this many values or more."""


def _percentages_as_fractions(con: duckdb.DuckDBPyConnection, available: set[str],
                              loaded: LoadedSource) -> None:
    """Warn of a percentage column whose every value lies between 0 and 1 (``column.fraction``).

    Spreadsheet tools read a cell formatted as a percentage as a fraction (45% as 0.45), and a
    CSV written from them holds 0.45: each value is in range, and only the column as a whole
    shows it (Ki-67 of 0.45% would make a NET G1 of a G2). One aggregate per table.
    """
    for table in SCHEMA:
        columns = [c.name for c in table.columns if c.unit == "%" and c.dtype == "float"]
        if not columns or table.name not in available:
            continue
        parts = ", ".join(f"count({sql.ident(c)}), max({sql.ident(c)})" for c in columns)
        row = con.execute(f"SELECT {parts} FROM typed_{table.name}").fetchone()
        assert row is not None
        for i, column in enumerate(columns):
            n, largest = row[2 * i], row[2 * i + 1]
            if n >= FRACTION_MIN_VALUES and 0 < largest <= 1:
                insert_problems(con, (
                    f"SELECT 'warning', {sql.literal(loaded.files[table.name].path.name)}, NULL, "
                    f"{sql.literal(column)}, NULL, 'column.fraction', "
                    + sql.literal(
                        f"every value of {column} ({n:,} values) lies between 0 and 1 (the "
                        f"largest is {largest:g}): percentages written as fractions, as a "
                        "spreadsheet reads a cell formatted as a percentage (45% as 0.45)? "
                        "Write 45 for 45%")
                ))


def drop_views(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the ``typed_<table>`` views :func:`validate_into` made."""
    for table in SCHEMA:
        con.execute(f"DROP VIEW IF EXISTS typed_{table.name}")


def _fetch_report(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    loaded: LoadedSource,
    show_identifiers: bool,
    seconds: Mapping[str, float],
    relations: Mapping[str, str],
) -> ValidationReport:
    identifiers = ", ".join(sql.literal(c) for c in sorted(IDENTIFIER_COLUMNS))
    value = (
        "value"
        if show_identifiers
        else f"CASE WHEN \"column\" IN ({identifiers}) AND value IS NOT NULL "
        f"THEN {sql.literal(IDENTIFIER_MASK)} ELSE value END"
    )
    records = con.execute(
        f"SELECT severity, file, row, \"column\", {value} AS value, rule, message "
        "FROM _problems ORDER BY file, row NULLS FIRST, \"column\" NULLS FIRST, rule, "
        "severity, message, value"
    ).fetchall()
    if not show_identifiers:
        seen, split = _identifiers_shown_elsewhere(con, identifiers, relations)
        masks = _Masks.of(seen, split) if seen else None
        records = [_masked(record, masks) for record in records]
    files = tuple(
        (name, f.path.name, f.n_rows) for name, f in loaded.files.items()
    )
    return ValidationReport(
        source=source, _records=tuple(records), files=files, seconds=seconds
    )


FREE_TEXT_COLUMNS: frozenset[str] = frozenset(
    c.name for t in SCHEMA for c in free_text_columns(t)
)
"""Columns of free text, whose values warnings show as written (so searched for identifiers)."""

_MAX_ID_LENGTHS = 8
"""Distinct lengths of identifiers up to which every substring of a short shown text of such a
length is looked up (an identifier glued to other text); beyond, its words only."""
_SHORT_TEXT = 64
"""Texts up to this length are searched substring by substring (longer ones word by word)."""
_MAX_SUBSTRING_TEXTS = 5000
"""Distinct short texts searched substring by substring (beyond, word by word): bounded work."""
_SHORT_ID = 6
"""Identifiers shorter than this are masked only as words of their own (set apart by spaces,
quotes, brackets or ';'), not inside a date, a number or a code."""
SPLIT_TEXT_LENGTH = 120
"""Texts up to this length are searched for identifiers split by whitespace (a wrapped cell);
longer ones (prose in a coded column, thousands of times) would cost seconds."""
_SPACES = "\\s\\x{0B}\\x{1C}-\\x{1F}\\x{85}\\p{Z}"
"""Whitespace as Python's ``re`` reads ``\\s`` (no-break and other Unicode spaces, line and
paragraph separators), as RE2 class contents (RE2's own ``\\s`` is ASCII only)."""
_WORD_BREAKS = _SPACES + ";,\"'()\\[\\]{}|<>=!?"
"""Characters that end a word of a shown text (RE2 class contents)."""
_PART_BREAKS = "./:+#_\\\\-"
"""Characters inside a word that may join an identifier to other text (``id:NEN-1``)."""
_LABEL_MARKS = ":/#+"
"""Characters that join a label or a reference to an identifier (``see:NEN-1``, ``#NEN-1``,
``NEN-1/D2``) and that identifiers seldom hold (unlike ``-``, ``_`` and ``.``)."""
_SHORT_BREAKS = "\\s;\"'()\\[\\]{}|<>="
"""What sets a short identifier apart as a word of its own."""
_TOKEN = "[\\pL\\pN]+"
"""A token of an identifier holding whitespace, and of a text (RE2): letters and digits."""
_TOKEN_BREAKS = "[^\\pL\\pN]+"
"""What parts an identifier holding whitespace into tokens (RE2)."""
_TOKENS = re.compile(r"[^\W_]+")
"""The tokens of an identifier holding whitespace (Python): runs of letters and digits."""
_QUOTES = "\"'\u2018\u2019\u201c\u201d"
"""Quotes around a value a message quotes (RE class contents)."""
_MEASURED_COLUMNS: frozenset[str] = frozenset(
    c.name for t in SCHEMA for c in t.columns if c.dtype in ("int", "float", "date", "bool")
)
"""Columns of numbers, dates and flags: a short number in their values is a measurement's, and
is masked only when it is the whole value (a record number shifted into the column)."""
_MERGED_LINES = re.compile(r"[\r\n].*,.*,.*,", re.DOTALL)
"""A value holding a line break and commas after it: most likely rows merged by a stray quote,
holding another row's values (identifiers among them, possibly of a row never read)."""
_TEXT_RULES = ("column.", "file.", "header.")
"""Problems about files and headers, whose column name and message may quote what a file holds
(a data row taken for the header, a file named by an identifier)."""


def _key_identifier_columns() -> list[tuple[str, str]]:
    """(table, column) of the identifiers that are keys or references (not free text)."""
    return [(t.name, c.name) for t in SCHEMA for c in t.columns
            if c.identifier and (c.name in t.key
                                 or any(fk.column == c.name for fk in t.foreign_keys))]


def _identifiers_shown_elsewhere(
    con: duckdb.DuckDBPyConnection, identifiers: str, relations: Mapping[str, str]
) -> tuple[set[str], set[str]]:
    """The identifiers (lower case) that problems would show outside identifier columns
    (``relations``: where each table's typed rows are), and those of them found split in two by
    a line break or spaces (a wrapped cell).

    An identifier shifted into another column (a row whose values moved by one, a file without
    its header row), typed in another case, or written inside other text, is an error there
    (or, in free text, a warning), whose value and message would show it; a data row taken for
    a header, or a file named by an identifier, shows it in a header or file problem. Such texts
    are looked up, whatever their case, among the identifiers that are keys or references (a
    free-text note is masked in its own column, but other values that equal a note are not
    identifiers): their words, the parts of their words, and for short texts every substring as
    long as an identifier. For an identifier split by whitespace (a wrapped cell), every run of
    two or three neighbouring words of a text of up to ``SPLIT_TEXT_LENGTH`` characters is
    joined and its words looked up; only identifiers of 6 characters or more holding a letter
    and a digit are looked for so (split digits cannot be told from numbers or dates:
    ``2019 10 01``; a short identifier is masked only as a word of its own). Only errors, free-text
    warnings and file and header problems are looked at (no clean registry pays for it); other
    warnings show typed values.

    Returns
    -------
    (set of str, set of str)
        The identifiers to mask, and those of them found split.
    """
    free_text = ", ".join(sql.literal(c) for c in sorted(FREE_TEXT_COLUMNS))
    text_rules = " OR ".join(f"prefix(rule, {sql.literal(r)})" for r in _TEXT_RULES)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _shown_texts AS SELECT DISTINCT lower(t) AS v FROM ("
        "SELECT value AS t FROM _problems WHERE value IS NOT NULL "
        f"AND (\"column\" IS NULL OR \"column\" NOT IN ({identifiers})) "
        f"AND (severity = 'error' OR \"column\" IN ({free_text})) "
        f"UNION ALL SELECT unnest([\"column\", file, message]) FROM _problems WHERE {text_rules}"
        ") WHERE t IS NOT NULL"
    )
    row = con.execute("SELECT count(*) FROM _shown_texts").fetchone()
    if not row or not row[0]:
        return set(), set()
    # Every run of 2 or 3 neighbouring words joined, as the words of 5 texts: each with the
    # words of every pair (or triple) joined, from the 1st word on, the 2nd, (the 3rd).
    word, space = f"[^{_SPACES}]+", f"[{_SPACES}]+"
    variants = []
    for k in (2, 3):
        joined = sql.literal(space.join([f"({word})"] * k))
        back = sql.literal("".join(f"\\{g}" for g in range(1, k + 1)))
        for skip in range(k):
            leading = sql.literal(f"^[{_SPACES}]*" + (word + space) * skip)
            text = "v" if skip == 0 else f"regexp_replace(v, {leading}, '')"
            variants.append(f"SELECT regexp_replace({text}, {joined}, {back}, 'g') AS v "
                            f"FROM _shown_texts WHERE length(v) <= {SPLIT_TEXT_LENGTH} "
                            f"AND regexp_matches(v, {sql.literal(word + space + word)})")
    con.execute("CREATE OR REPLACE TEMP TABLE _shown_runs AS SELECT DISTINCT v FROM ("
                + " UNION ALL ".join(variants) + ")")
    keys = " UNION ALL ".join(
        f"SELECT lower(CAST({sql.ident(c)} AS VARCHAR)) AS id FROM {relations[t]}"
        for t, c in _key_identifier_columns()
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _key_ids AS SELECT DISTINCT id FROM ({keys}) "
                "WHERE id IS NOT NULL AND id <> ''")
    lengths = [n for (n,) in con.execute(
        f"SELECT DISTINCT length(id) FROM _key_ids ORDER BY 1 LIMIT {_MAX_ID_LENGTHS + 1}"
    ).fetchall()]
    seen = {i for (i,) in con.execute(
        f"SELECT id FROM _key_ids WHERE id IN ({_candidates('_shown_texts', lengths)})"
    ).fetchall()}
    # the joined runs' words, and their pieces between labelling marks (see:NEN-1), each
    # without the marks around it (NEN-1.): not their substrings, which would join words that
    # are no identifier ('lab 1234' holds ab1234)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _run_words AS SELECT DISTINCT w FROM "
                f"({_words('_shown_runs')})")
    words = "SELECT w FROM _run_words"
    marked = " OR ".join(f"contains(w, {sql.literal(c)})" for c in _LABEL_MARKS)
    pieces = (f"SELECT unnest(regexp_split_to_array(w, {sql.literal(f'[{_LABEL_MARKS}]+')})) "
              f"AS w FROM ({words}) WHERE {marked}")
    ends = ", ".join(sql.literal(c) for c in _PART_BREAKS.replace("\\", ""))
    stripped = (f"SELECT regexp_replace(w, {sql.literal(f'^[{_PART_BREAKS}]+|[{_PART_BREAKS}]+$')}"
                f", '', 'g') FROM ({words} UNION ALL {pieces}) "
                f"WHERE left(w, 1) IN ({ends}) OR right(w, 1) IN ({ends})")
    runs = f"{words} UNION ALL {pieces} UNION ALL {stripped}"
    split = {i for (i,) in con.execute(
        f"SELECT id FROM _key_ids WHERE length(id) >= {_SHORT_ID} AND regexp_matches(id, "
        f"'[a-z]') AND regexp_matches(id, '[0-9]') AND id IN ({runs})"
    ).fetchall()}
    return seen | split | _spaced_identifiers(con), split


def _spaced_identifiers(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The identifiers holding whitespace (a name, a national number written in groups:
    ``DUPONT Marie``, ``1 56 02 64 780 461``) that a shown text holds as a run of words,
    whatever stands between them (spaces, a line break, ``-``, ``;``), in a text of any length.

    An identifier and the texts are cut alike into tokens of letters and digits; the runs of
    as many neighbouring tokens as an identifier has are looked up. Only identifiers holding
    whitespace are looked for so (others are found by :func:`_candidates`)."""
    tokens = sql.literal(_TOKEN_BREAKS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _spaced_ids AS SELECT id, norm, "
        "length(norm) - length(replace(norm, ' ', '')) + 1 AS k FROM ("
        f"SELECT id, trim(regexp_replace(id, {tokens}, ' ', 'g')) AS norm FROM _key_ids "
        f"WHERE regexp_matches(id, {sql.literal(f'[^{_SPACES}][{_SPACES}]+[^{_SPACES}]')})"
        ") WHERE contains(norm, ' ')"
    )
    sizes = [k for (k,) in con.execute("SELECT DISTINCT k FROM _spaced_ids ORDER BY 1").fetchall()]
    if not sizes:
        return set()
    runs = (
        "SELECT array_to_string(t[i:i + k - 1], ' ') FROM ("
        f"SELECT regexp_extract_all(v, {sql.literal(_TOKEN)}) AS t FROM _shown_texts), "
        f"(SELECT unnest([{', '.join(str(k) for k in sizes)}]) AS k), "
        "range(1, len(t) - k + 2) AS r(i) WHERE len(t) >= k"
    )
    return {i for (i,) in con.execute(
        f"SELECT id FROM _spaced_ids WHERE norm IN ({runs})").fetchall()}


def _words(texts: str) -> str:
    """SQL: the words ``w`` of the texts of the table ``texts`` (column ``v``)."""
    return (f"SELECT unnest(regexp_split_to_array(v, {sql.literal(f'[{_WORD_BREAKS}]+')})) "
            f"AS w FROM {texts}")


def _candidates(texts: str, lengths: list[int]) -> str:
    """SQL: the texts of the table ``texts`` (column ``v``) that may be identifiers: each text,
    its words, their parts and, when identifiers have few distinct lengths, every substring of
    an identifier's length of the short texts (an identifier glued to other text)."""
    words = _words(texts)
    candidates = [
        f"SELECT v AS t FROM {texts}",
        f"SELECT w FROM ({words})",
        f"SELECT unnest(regexp_split_to_array(w, {sql.literal(f'[{_PART_BREAKS}]+')})) "
        f"FROM ({words})",
        # a number glued to letters (pt28034063)
        f"SELECT unnest(regexp_extract_all(v, '[0-9]+')) FROM {texts}",
    ]
    if len(lengths) <= _MAX_ID_LENGTHS:
        # bounded: at most so many texts are searched substring by substring
        candidates.append(
            f"SELECT substr(v, i, n) FROM (SELECT v FROM {texts} "
            f"WHERE length(v) <= {_SHORT_TEXT} LIMIT {_MAX_SUBSTRING_TEXTS}), "
            f"(SELECT unnest([{', '.join(str(n) for n in lengths)}]) AS n), "
            "range(1, length(v) - n + 2) AS r(i) WHERE length(v) >= n"
        )
    return " UNION ".join(candidates)


def _is_short_number(identifier: str) -> bool:
    """Whether ``identifier`` is a short run of digits (a record number: ``12``), which cannot
    be told from a number written in a measurement or in a program's message."""
    return len(identifier) < _SHORT_ID and identifier.isascii() and identifier.isdigit()


def _masking_pattern(
    seen: set[str], split: set[str] = frozenset(), *, whole_numbers: bool = False
) -> re.Pattern[str]:
    """A pattern finding the identifiers of ``seen`` in any case (short ones only as words of
    their own); those of ``split`` also with whitespace between any two characters. With
    ``whole_numbers``, a short identifier of digits only is found only as a whole text or a
    whole quoted text (a measurement's value or a program's message holds numbers of its
    own: ``12 per 10 HPF``, "the row has 12 values")."""
    alternatives = []
    for i in sorted(seen, key=len, reverse=True):
        pieces = _TOKENS.findall(i)
        if len(pieces) > 1 and re.search(r"\S\s+\S", i):
            # held whitespace: its tokens with anything but a letter or digit between them
            alternatives.append(r"(?<![^\W_])" + r"[\W_]+".join(map(re.escape, pieces))
                                + r"(?![^\W_])")
        elif i in split:
            alternatives.append(r"\s*".join(re.escape(c) for c in i))
        elif len(i) >= _SHORT_ID:
            alternatives.append(re.escape(i))
        elif whole_numbers and _is_short_number(i):
            alternatives.append(rf"(?:^|(?<=[{_QUOTES}]))\s*{re.escape(i)}\s*(?=[{_QUOTES}]|$)")
        else:
            # set apart, or ending a sentence or clause ("see 12.")
            alternatives.append(
                rf"(?<![^{_SHORT_BREAKS}]){re.escape(i)}(?=[.,:!?]*(?:[{_SHORT_BREAKS}]|$))")
    return re.compile("|".join(alternatives), re.IGNORECASE)


@dataclass(frozen=True)
class _Masks:
    """The patterns masking the identifiers shown outside identifier columns: as words
    (``words``), and with short numbers only whole (``whole``: in measurements and messages)."""

    words: re.Pattern[str]
    whole: re.Pattern[str]

    @classmethod
    def of(cls, seen: set[str], split: set[str] = frozenset()) -> _Masks:
        """The masks of the identifiers ``seen`` (``split``: found split by whitespace)."""
        return cls(_masking_pattern(seen, split), _masking_pattern(seen, split, whole_numbers=True))


def _masked(record: tuple[Any, ...], masks: _Masks | None) -> tuple[Any, ...]:
    """``record`` with every identifier ``masks`` find masked, and a value that merged rows
    replaced by its length. The message is searched for the identifiers found in the value
    (a list's unknown tokens, say), or wholly for a file or header problem, where a short
    number is masked only as a whole quoted text (the message counts rows and columns); in a
    value of a number or date column a short number is masked only as the whole value."""
    severity, file, row, column, value, rule, message = record
    texts = rule is not None and rule.startswith(_TEXT_RULES)
    if value is not None and column not in IDENTIFIER_COLUMNS:
        if _MERGED_LINES.search(value):
            value = f"({len(value)} characters holding a line break, not shown)"
        elif masks is not None:
            pattern = masks.whole if column in _MEASURED_COLUMNS else masks.words
            found = {m.group().strip().lower() for m in pattern.finditer(value)}
            if found:
                shown = pattern.sub(IDENTIFIER_MASK, value)
                if message and not texts:
                    message = _masking_pattern(found).sub(IDENTIFIER_MASK, message)
                value = shown
    if texts and masks is not None:
        column = masks.words.sub(IDENTIFIER_MASK, column) if column else column
        file = masks.words.sub(IDENTIFIER_MASK, file) if file else file
        message = masks.whole.sub(IDENTIFIER_MASK, message) if message else message
    return (severity, file, row, column, value, rule, message)


def validate_source(
    source: Path,
    *,
    show_identifiers: bool = False,
    threads: int | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
) -> ValidationReport:
    """Validate a registry source folder without writing anything.

    The typed tables are built in a temporary DuckDB file (so memory stays bounded) that is
    deleted afterwards.

    Parameters
    ----------
    source
        Folder with one ``<table>.csv``, ``<table>.parquet`` or ``<table>.xlsx`` per table of
        :data:`nenstudy.registry.schema.SCHEMA`.
    show_identifiers
        Show the values of identifier columns (patient_id, diagnosis_id, test_id, treatment_id,
        notes) in the problems instead of ``<identifier>``.
    threads
        DuckDB threads (default: DuckDB's choice, the number of cores).
    memory_limit
        DuckDB memory limit, e.g. ``"2GB"``; beyond it DuckDB spills to a temporary folder.

    Returns
    -------
    ValidationReport
        Every problem found (``.ok`` is true when none is an error).
    """
    with tempfile.TemporaryDirectory(prefix="nenstudy-validate-") as tmp:
        con = connect_work_db(threads=threads, memory_limit=memory_limit, temp_dir=Path(tmp))
        try:
            con.execute(f"ATTACH {sql.literal(str(Path(tmp) / 'typed.duckdb'))} AS typed")
            report, _ = validate_into(
                con, Path(source), catalog="typed", show_identifiers=show_identifiers
            )
        finally:
            con.close()
    return report
