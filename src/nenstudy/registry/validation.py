"""Validate a registry source folder against the schema, every problem at once, in DuckDB.

Each source file is read once (:mod:`nenstudy.registry.sources`) by a single statement that types
every column, computes the derived columns and checks every row (types and formats, allowed codes,
required fields, ranges, date order within the row): the rows' problems land in a ``_problems``
list column that is NULL for sound rows, so the typed table is the store table in the making and
no raw-text copy is kept. Keys, references, date logic across tables, lines of therapy and
duplicate patients then run as joins and window queries on keys and dates. Every problem found is a row of
:attr:`ValidationReport.problems` with its file, row (as in a spreadsheet: header = row 1), column,
value and rule. Values of identifier columns are masked unless the user asks for them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pandas as pd

from nenstudy.registry.sources import ROW_CONVENTION, LoadedSource, load_source, trimmed_sql
from nenstudy.registry import sql
from nenstudy.registry.schema import (
    AGE_RANGE_YEARS,
    DAYS_PER_YEAR,
    IDENTIFIER_MASK,
    SCHEMA,
    Column,
    Table,
)

__all__ = [
    "PROBLEM_COLUMNS",
    "IDENTIFIER_COLUMNS",
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

_MAX_SHOWN_ROWS = 5


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating a registry source: every problem found.

    Attributes
    ----------
    source
        The validated folder.
    files
        Rows read per staged table.
    """

    source: Path
    _problems: pd.DataFrame = field(repr=False)
    files: tuple[tuple[str, str, int], ...] = ()

    @property
    def problems(self) -> pd.DataFrame:
        """Every problem (a copy): severity, file, row, column, value, rule, message.

        ``row`` counts as in a spreadsheet (header = row 1, first data row = row 2); it is
        missing for file-level problems. Sorted by file, row, column.
        """
        return self._problems.copy()

    @property
    def n_errors(self) -> int:
        """Number of error-level problems."""
        return int((self._problems["severity"] == "error").sum())

    @property
    def n_warnings(self) -> int:
        """Number of warning-level problems."""
        return int((self._problems["severity"] == "warning").sum())

    @property
    def ok(self) -> bool:
        """Whether no error-level problem was found (warnings allowed)."""
        return self.n_errors == 0

    def to_csv(self, path: Path) -> None:
        """Write every problem to a CSV file (UTF-8, columns :data:`PROBLEM_COLUMNS`)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._problems.to_csv(path, index=False)

    def render(self, max_rows: int = 200) -> str:
        """Return the report as plain text for a terminal.

        Parameters
        ----------
        max_rows
            Show at most this many problems (all are in :meth:`to_csv`).
        """
        lines = [
            f"Validation of {self.source}: {self.n_errors} error(s), "
            f"{self.n_warnings} warning(s)."
        ]
        for table, file, n in self.files:
            lines.append(f"  {table:16s} {file:28s} {n:>12,} rows")
        if self._problems.empty:
            lines.append("No problems found.")
            return "\n".join(lines)
        lines.append(f"Problems ({ROW_CONVENTION}):")
        shown = self._problems.head(max_rows)
        for rec in shown.itertuples(index=False):
            where = rec.file if pd.isna(rec.row) else f"{rec.file} row {int(rec.row)}"
            if isinstance(rec.column, str):
                where += f" column {rec.column}"
            value = "" if not isinstance(rec.value, str) else f" value {rec.value!r}"
            lines.append(f"  {rec.severity.upper():7s} {where}{value}: {rec.message} ({rec.rule})")
        if len(self._problems) > max_rows:
            lines.append(
                f"  ... and {len(self._problems) - max_rows} more; write them all with --problems "
                "FILE.csv"
            )
        return "\n".join(lines)


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
    return duckdb.connect(":memory:", config=config)


def _problem_struct(severity: str, column: str | None, value: str, rule: str, message: str) -> str:
    col = "CAST(NULL AS VARCHAR)" if column is None else sql.literal(column)
    return (
        f"{{'severity': {sql.literal(severity)}, 'column': {col}, "
        f"'value': CAST({value} AS VARCHAR), 'rule': {sql.literal(rule)}, "
        f"'message': CAST({message} AS VARCHAR)}}"
    )


@dataclass(frozen=True)
class _RowCheck:
    """A check of one row: ``condition`` true means a problem (SQL over the typed table)."""

    severity: str
    column: str | None
    rule: str
    condition: str
    message: str
    value: str | None = None


def _untrimmed(column: Column) -> bool:
    """Whether the source text of ``column`` reaches the typed table as written (not trimmed)."""
    return column.dtype not in ("string", "list")


def _text(column: Column, native: frozenset[str]) -> str:
    """SQL: the trimmed source text of ``column`` (evaluate it only on the rows that need it)."""
    raw = sql.raw(column.name)
    if column.name in native:
        if column.dtype == "date":
            return f"strftime({raw}, '%Y-%m-%d')"
        return f"CAST({raw} AS VARCHAR)"
    return trimmed_sql(raw) if _untrimmed(column) else raw


def _present(column: Column, native: frozenset[str]) -> str:
    """SQL: whether the cell of ``column`` holds a value (not empty or blank).

    For typed columns the typed value answers for nearly every row; the text is trimmed only
    where the value did not type.
    """
    raw = sql.raw(column.name)
    if not _untrimmed(column) or column.name in native:
        return f"({raw} IS NOT NULL)"
    c = sql.ident(column.name)
    return (
        f"(CASE WHEN {c} IS NOT NULL THEN true WHEN {raw} IS NULL THEN false "
        f"ELSE {_text(column, native)} IS NOT NULL END)"
    )


def _typed(column: Column, native: frozenset[str]) -> str:
    """SQL typing ``column`` from its text: as written first, trimmed only when that fails.

    Natively typed source values are taken as they are (numbers must be finite, integers must
    fit the store's INTEGER; otherwise the value is a type error, as its text would be).
    """
    raw = sql.raw(column.name)
    if column.name in native:
        if column.dtype == "float":
            return f"CASE WHEN isfinite(CAST({raw} AS DOUBLE)) THEN CAST({raw} AS DOUBLE) END"
        if column.dtype == "int":
            return f"TRY_CAST({raw} AS INTEGER)"
        return raw
    if not _untrimmed(column):
        return sql.typed_expr(column, raw)
    return (
        f"coalesce({sql.typed_expr(column, raw)}, CASE WHEN {raw} IS NOT NULL "
        f"THEN {sql.typed_expr(column, '(' + _text(column, native) + ')')} END)"
    )


def _expected(values: Iterable[str]) -> str:
    return ", ".join(values)


def _value_checks(column: Column, native: frozenset[str]) -> list[_RowCheck]:
    """Checks of the values of one column (required, type, codes, format, range)."""
    c, r = sql.ident(column.name), _text(column, native)
    checks: list[_RowCheck] = []
    if column.required:
        checks.append(_RowCheck("error", column.name, "required", f"NOT {_present(column, native)}",
                                "'a value is required'"))
    if column.dtype not in ("string", "list"):
        checks.append(
            _RowCheck("error", column.name, f"type.{column.dtype}",
                      f"{c} IS NULL AND {_present(column, native)}",
                      sql.type_error_message(column, f"({r})"))
        )
    if column.allowed is not None and column.dtype == "string":
        allowed = ", ".join(sql.literal(a) for a in column.allowed)
        checks.append(
            _RowCheck("error", column.name, "allowed", f"{c} NOT IN ({allowed})",
                      sql.literal(f"unknown code; expected one of: {_expected(column.allowed)}"))
        )
    if column.allowed is not None and column.dtype == "list":
        allowed = ", ".join(sql.literal(a) for a in column.allowed)
        bad = f"list_filter({c}, lambda t: t NOT IN ({allowed}))"
        checks.append(
            _RowCheck("error", column.name, "allowed", f"len({bad}) > 0",
                      f"'unknown token(s) ' || array_to_string({bad}, ', ') || "
                      + sql.literal(
                          f"; expected ';'-separated tokens from: {_expected(column.allowed)}"
                      ))
        )
    if column.pattern is not None:
        checks.append(
            _RowCheck("error", column.name, "format",
                      f"NOT regexp_full_match({c}, {sql.literal(column.pattern)})",
                      sql.literal(f"expected {column.pattern_hint or column.pattern}"))
        )
    unit = f" {column.unit}" if column.unit else ""
    if column.minimum is not None or column.maximum is not None:
        bounds = []
        if column.minimum is not None:
            bounds.append(f"{c} < {column.minimum}")
        if column.maximum is not None:
            bounds.append(f"{c} > {column.maximum}")
        if column.minimum is not None and column.maximum is not None:
            text = f"outside the range {column.minimum:g}-{column.maximum:g}{unit}"
        elif column.minimum is not None:
            text = f"below the minimum {column.minimum:g}{unit}"
        else:
            text = f"above the maximum {column.maximum:g}{unit}"
        checks.append(_RowCheck("error", column.name, "range", " OR ".join(bounds),
                                sql.literal(text)))
    if column.multiple_of is not None:
        checks.append(
            _RowCheck("error", column.name, "range", f"{c} % {column.multiple_of} <> 0",
                      sql.literal(f"expected a multiple of {column.multiple_of}"))
        )
    return checks


def _d(name: str) -> str:
    return f"strftime({sql.ident(name)}, '%Y-%m-%d')"


def _table_row_checks(table: Table, native: frozenset[str]) -> list[_RowCheck]:
    """Checks across the columns of one row, particular to each table."""
    checks: list[_RowCheck] = []
    if table.name == "diagnoses":
        checks += [
            _RowCheck("error", "mdt_date", "date_order", "mdt_date < diagnosis_date",
                      f"'MDT date before the diagnosis date ' || {_d('diagnosis_date')}"),
            _RowCheck("error", "who_category", "who_category.missing",
                      "who_category IS NULL AND _who_derived IS NULL",
                      "'no WHO category: none typed in and the pathology elements "
                      "(differentiation, cell type, Ki-67, mitoses, non-NE component) do not "
                      "determine one'"),
            _RowCheck("warning", "who_category", "who_category.conflict",
                      "_who_derived IS NOT NULL AND who_category <> _who_derived",
                      "'typed-in WHO category differs from the one derived from the pathology "
                      "elements (' || _who_derived || '); the derived one is stored'"),
            _RowCheck("warning", "site_group", "site_group.conflict",
                      "_site_group_derived IS NOT NULL AND site_group <> _site_group_derived",
                      "'typed-in site group differs from the one derived from primary_site (' || "
                      "_site_group_derived || '); the derived one is stored'"),
            _RowCheck("warning", "karnofsky", "ecog.conflict",
                      "ecog_ps IS NOT NULL AND _ecog_from_karnofsky IS NOT NULL "
                      "AND ecog_ps <> _ecog_from_karnofsky",
                      "'Karnofsky maps to ECOG ' || CAST(_ecog_from_karnofsky AS VARCHAR) || "
                      "' but ecog_ps is ' || CAST(ecog_ps AS VARCHAR) || '; ecog_ps is stored'"),
            _RowCheck("warning", "metastatic_sites", "metastatic_sites.missing",
                      "stage = 'metastatic' AND coalesce(len(metastatic_sites), 0) = 0",
                      "'stage is metastatic but no metastatic site is given'"),
            _RowCheck("warning", "metastatic_sites", "metastatic_sites.stage",
                      "(stage = 'localized' OR stage = 'locally_advanced') "
                      "AND len(metastatic_sites) > 0",
                      "'metastatic sites given but stage is ' || stage"),
            _RowCheck("warning", "cell_type", "cell_type.differentiation",
                      "cell_type IS NOT NULL AND differentiation = 'well'",
                      "'a small/large cell type is for poorly differentiated NEC, but "
                      "differentiation is well'"),
        ]
    elif table.name == "molecular_tests":
        tmb = _present(table.column("tmb"), native)
        n_given = f"((gene IS NOT NULL)::INT + (msi_status IS NOT NULL)::INT + {tmb}::INT)"
        checks += [
            _RowCheck("error", None, "exactly_one_result", f"{n_given} <> 1",
                      f"'exactly one of gene, msi_status, tmb must be given per row (found ' || "
                      f"CAST({n_given} AS VARCHAR) || ')'"),
            _RowCheck("error", "alteration", "required", "gene IS NOT NULL AND alteration IS NULL",
                      "'alteration is required when a gene is given'"),
            _RowCheck("error", "alteration", "alteration.without_gene",
                      "gene IS NULL AND alteration IS NOT NULL",
                      "'alteration given without a gene'"),
        ]
    elif table.name == "treatments":
        checks += [
            _RowCheck("error", "line", "required",
                      f"modality = 'systemic' AND NOT {_present(table.column('line'), native)}",
                      "'line is required for systemic treatments'"),
            _RowCheck("error", "line", "line.not_systemic",
                      "modality <> 'systemic' AND line IS NOT NULL",
                      "'line numbers are for systemic treatments only (modality is ' || modality "
                      "|| ')'"),
            _RowCheck("error", "agents", "required",
                      "modality = 'systemic' AND \"agents$raw\" IS NULL",
                      "'agents are required for systemic treatments'"),
            _RowCheck("error", "end_date", "date_order", "end_date < start_date",
                      f"'end date before the start date ' || {_d('start_date')}"),
            _RowCheck("error", "progression_date", "date_order", "progression_date < start_date",
                      f"'progression date before the start date ' || {_d('start_date')}"),
            _RowCheck("error", "last_assessment_date", "date_order",
                      "last_assessment_date < start_date",
                      f"'last assessment date before the start date ' || {_d('start_date')}"),
            _RowCheck("warning", "ne_reason", "ne_reason.response",
                      "ne_reason IS NOT NULL AND best_response IS DISTINCT FROM 'NE'",
                      "'a reason for not evaluable is given but best_response is not NE'"),
        ]
    elif table.name == "follow_up":
        checks += [
            _RowCheck("error", "death_date", "required",
                      f"vital_status = 'dead' AND NOT {_present(table.column('death_date'), native)}",
                      "'death date is required when vital_status is dead'"),
            _RowCheck("error", "death_date", "death_date.alive",
                      f"vital_status = 'alive' AND {_present(table.column('death_date'), native)}",
                      "'death date given but vital_status is alive'"),
            _RowCheck("error", "death_date", "date_order", "death_date > last_contact_date",
                      f"'death date after the last contact date ' || {_d('last_contact_date')}"),
        ]
    return checks


def _store_expressions(table: Table) -> list[tuple[str, str]]:
    """(name, SQL) of the store columns of ``table`` over the typed relation ``d``.

    ``age_at_diagnosis`` needs the patients table and is added by the importer once validation
    has passed (see :func:`nenstudy.registry.store.import_registry`).
    """
    derived = {}
    if table.name == "diagnoses":
        derived = {
            "site_group": "d._site_group_derived",
            "who_category": "coalesce(d._who_derived, d.who_category)",
            "ecog_ps": "coalesce(d.ecog_ps, d._ecog_from_karnofsky)",
            "site_group_reported": "d.site_group",
            "who_category_reported": "d.who_category",
            "pure_histology": (
                "coalesce(d.non_ne_component_pct, 0) = 0 "
                "AND coalesce(d._who_derived, d.who_category) <> 'MiNEN'"
            ),
            "advanced": (
                "d.stage = 'metastatic' OR (d.stage = 'locally_advanced' "
                "AND d.resectable IS DISTINCT FROM true)"
            ),
            "metastatic": "d.stage = 'metastatic'",
        }
    return [
        (name, derived.get(name, "d." + sql.ident(name)))
        for name, _ in table.store_columns()
        if name != "age_at_diagnosis"
    ]


def typed_table_sql(
    table: Table,
    text_relation: str,
    target: str,
    row_column: bool = False,
    native: frozenset[str] = frozenset(),
) -> str:
    """SQL creating ``target`` and filling it from a text relation: store columns, ``_problems``.

    ``text_relation`` has one text column ``"<column>$raw"`` per schema column (and ``_row``
    when ``row_column``: rows not numbered by rowid); the columns in ``native`` hold natively
    typed values instead of text (see :class:`nenstudy.registry.sources.TableBuilder`). The statement reads it once: it types each value,
    derives the diagnoses' columns, and evaluates every row-level check; ``_problems`` holds the
    list of a row's problems (severity, column, value, rule, message), NULL when there is none.
    """
    row = ["_row"] if row_column else []
    typed = [*row]
    for column in table.columns:
        typed.append(sql.raw(column.name))
        typed.append(f"{_typed(column, native)} AS {sql.ident(column.name)}")
    relation = f"(SELECT {', '.join(typed)} FROM {text_relation})"
    if table.name == "diagnoses":
        who = sql.who_category_sql(
            "differentiation", "cell_type", "ki67_pct", "mitoses_per_2mm2", "non_ne_component_pct"
        )
        relation = (
            f"(SELECT *, {sql.site_group_sql('primary_site')} AS _site_group_derived, "
            f"{who} AS _who_derived, "
            f"{sql.ecog_from_karnofsky_sql('karnofsky')} AS _ecog_from_karnofsky "
            f"FROM {relation})"
        )
    checks = [ch for col in table.columns for ch in _value_checks(col, native)]
    checks += _table_row_checks(table, native)
    structs = []
    for ch in checks:
        value = ch.value or (_text(table.column(ch.column), native) if ch.column else "NULL")
        structs.append(
            f"CASE WHEN {ch.condition} THEN "
            f"{_problem_struct(ch.severity, ch.column, value, ch.rule, ch.message)} END"
        )
    any_problem = " OR ".join(f"coalesce({ch.condition}, false)" for ch in checks)
    problems = (
        f"CASE WHEN {any_problem} THEN list_filter([{', '.join(structs)}], "
        "lambda x: x IS NOT NULL) END"
    )
    columns = [*(f"d.{r}" for r in row)]
    columns += [f"{expr} AS {sql.ident(name)}" for name, expr in _store_expressions(table)]
    columns.append(f"{problems} AS _problems")
    return (
        f"CREATE TABLE {target} ({', '.join(_column_definitions(table, row_column))}); "
        f"INSERT INTO {target} SELECT {', '.join(columns)} FROM {relation} AS d"
    )


_PROBLEM_TYPE = (
    'STRUCT(severity VARCHAR, "column" VARCHAR, value VARCHAR, rule VARCHAR, message VARCHAR)[]'
)


def _column_definitions(table: Table, row_column: bool) -> list[str]:
    """Column definitions of a typed table: key columns stored uncompressed.

    Identifiers are random-looking strings: compressing them (DICT_FSST) halves their size but
    costs about 40% of the time a table takes to write; every other column is left to DuckDB.
    """
    keys = set(table.key) | {fk.column for fk in table.foreign_keys}
    types = dict(table.store_columns())
    definitions = ["_row BIGINT"] if row_column else []
    for name, _ in _store_expressions(table):
        compression = " USING COMPRESSION uncompressed" if name in keys else ""
        definitions.append(f"{sql.ident(name)} {types[name]}{compression}")
    definitions.append(f"_problems {_PROBLEM_TYPE}")
    return definitions


def _empty_text_relation(table: Table) -> str:
    cols = ", ".join(f"CAST(NULL AS VARCHAR) AS {sql.raw(c.name)}" for c in table.columns)
    return f"(SELECT {cols} LIMIT 0)"


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


def _insert(con: duckdb.DuckDBPyConnection, select: str) -> None:
    """Insert problems selected as (severity, _file, _row, column, value, rule, message)."""
    con.execute(f"INSERT INTO _problems {select}")


# --------------------------------------------------------------------------- cross-row checks


def _unique_key_checks(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    key = table.key[0]
    k = sql.ident(key)
    # Count per key first (no lists: nearly every key is unique); rows only for repeated keys.
    _insert(
        con,
        f"""
        WITH dup AS (
            SELECT {k} AS key FROM typed_{table.name} WHERE {k} IS NOT NULL
            GROUP BY {k} HAVING count(*) > 1
        ), hit AS (
            SELECT t._file, t._row, t.{k} AS key FROM typed_{table.name} t SEMI JOIN dup
            ON t.{k} = dup.key
        ), listed AS (
            SELECT key, count(*) AS n, list_sort(list(_row))[1:{_MAX_SHOWN_ROWS}] AS rows
            FROM hit GROUP BY key
        )
        SELECT 'error', h._file, h._row, {sql.literal(key)}, h.key, 'unique',
               'duplicate {key}: ' || CAST(l.n AS VARCHAR) || ' rows have this value (rows '
               || array_to_string(l.rows, ', ')
               || CASE WHEN l.n > {_MAX_SHOWN_ROWS} THEN ', ...' ELSE '' END || ')'
        FROM hit h JOIN listed l ON h.key = l.key
        """,
    )


def _foreign_key_checks(con: duckdb.DuckDBPyConnection, available: set[str]) -> None:
    """Orphan rows: one anti join per referenced table (its keys hashed once for all children)."""
    by_target: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for table in SCHEMA:
        if table.name not in available:
            continue
        for fk in table.foreign_keys:
            if fk.table in available:
                by_target.setdefault((fk.table, fk.target_column), []).append(
                    (table.name, fk.column)
                )
    for (target, target_column), children in by_target.items():
        union = " UNION ALL ".join(
            f"SELECT _file, _row, {sql.literal(column)} AS col, {sql.ident(column)} AS ref "
            f"FROM typed_{child} WHERE {sql.ident(column)} IS NOT NULL"
            for child, column in children
        )
        _insert(
            con,
            f"""
            SELECT 'error', s._file, s._row, s.col, s.ref, 'foreign_key',
                   'no row with this {target_column} in {target} (orphan row)'
            FROM ({union}) s ANTI JOIN typed_{target} t ON s.ref = t.{sql.ident(target_column)}
            """,
        )


def _diagnoses_by_patient(con: duckdb.DuckDBPyConnection) -> None:
    """One aggregation of diagnoses per patient, shared by the patient-level checks."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _dx_by_patient AS
        SELECT patient_id,
               min(diagnosis_date) AS first_dx,
               arg_min(primary_site, diagnosis_date) FILTER (WHERE diagnosis_date IS NOT NULL)
                   AS first_site,
               max(diagnosis_date) AS last_dx,
               arg_max(_row, diagnosis_date) FILTER (WHERE diagnosis_date IS NOT NULL)
                   AS last_dx_row,
               max(greatest(diagnosis_date, mdt_date)) AS latest_event
        FROM typed_diagnoses GROUP BY patient_id
        """
    )


def _patient_level_checks(con: duckdb.DuckDBPyConnection, available: set[str]) -> None:
    if "diagnoses" in available:
        _diagnoses_by_patient(con)
    if {"patients", "follow_up"} <= available:
        _insert(
            con,
            """
            SELECT 'error', p._file, p._row, 'patient_id', p.patient_id, 'follow_up.missing',
                   'the patient has no row in follow_up (exactly one is required)'
            FROM typed_patients p ANTI JOIN typed_follow_up f ON p.patient_id = f.patient_id
            WHERE p.patient_id IS NOT NULL
            """,
        )
    if {"patients", "diagnoses"} <= available:
        _insert(
            con,
            """
            SELECT 'warning', p._file, p._row, 'patient_id', p.patient_id, 'diagnosis.missing',
                   'the patient has no diagnosis'
            FROM typed_patients p ANTI JOIN typed_diagnoses d ON p.patient_id = d.patient_id
            WHERE p.patient_id IS NOT NULL
            """,
        )
        lo, hi = AGE_RANGE_YEARS
        _insert(
            con,
            f"""
            SELECT 'error', d._file, d._row, 'diagnosis_date', strftime(d.diagnosis_date, '%Y-%m-%d'),
                   'date_order', 'diagnosis date not after the birth date '
                   || strftime(p.birth_date, '%Y-%m-%d') || ' (patients row '
                   || CAST(p._row AS VARCHAR) || ')'
            FROM typed_diagnoses d JOIN typed_patients p ON d.patient_id = p.patient_id
            WHERE d.diagnosis_date <= p.birth_date
            UNION ALL
            SELECT 'error', d._file, d._row, 'diagnosis_date', strftime(d.diagnosis_date, '%Y-%m-%d'),
                   'range', 'age at diagnosis ' || CAST(round(age, 1) AS VARCHAR)
                   || ' years is outside {lo:g}-{hi:g} (birth date in patients row '
                   || CAST(p_row AS VARCHAR) || ')'
            FROM (
                SELECT d.*, p._row AS p_row,
                       datediff('day', p.birth_date, d.diagnosis_date) / {DAYS_PER_YEAR} AS age
                FROM typed_diagnoses d JOIN typed_patients p ON d.patient_id = p.patient_id
                WHERE d.diagnosis_date > p.birth_date
            ) d
            WHERE age < {lo} OR age > {hi}
            """,
        )
        _insert(
            con,
            f"""
            WITH first_dx AS (
                SELECT patient_id, first_dx AS dx_date, first_site AS site
                FROM _dx_by_patient WHERE first_dx IS NOT NULL
            ), sig AS MATERIALIZED (
                SELECT p._file, p._row, p.patient_id, p.sex, p.birth_date, f.dx_date, f.site
                FROM typed_patients p JOIN first_dx f ON p.patient_id = f.patient_id
                WHERE p.sex IS NOT NULL AND p.birth_date IS NOT NULL
            ), repeated AS (
                -- min <> max: more than one distinct patient_id, without a distinct count
                SELECT sex, birth_date, dx_date, site
                FROM sig GROUP BY ALL HAVING min(patient_id) <> max(patient_id)
            ), hit AS (
                SELECT s.* FROM sig s JOIN repeated r
                  ON s.sex = r.sex AND s.birth_date = r.birth_date AND s.dx_date = r.dx_date
                 AND s.site IS NOT DISTINCT FROM r.site
            ), listed AS (
                -- the first rows of each group: a large group must not list itself per row
                SELECT sex, birth_date, dx_date, site, count(*) AS n,
                       list_sort(list(_row))[1:{_MAX_SHOWN_ROWS + 1}] AS rows
                FROM hit GROUP BY ALL
            )
            SELECT 'warning', s._file, s._row, 'patient_id', s.patient_id, 'duplicate_patient',
                   'possibly the same person as patients row(s) '
                   || array_to_string(list_filter(r.rows, lambda x: x <> s._row)[1:{_MAX_SHOWN_ROWS}],
                                      ', ')
                   || CASE WHEN r.n - 1 > {_MAX_SHOWN_ROWS} THEN ', ...' ELSE '' END
                   || ' (same sex, birth date, first diagnosis date and primary site)'
            FROM hit s JOIN listed r
              ON s.sex = r.sex AND s.birth_date = r.birth_date AND s.dx_date = r.dx_date
             AND s.site IS NOT DISTINCT FROM r.site
            """,
        )
    if {"diagnoses", "treatments"} <= available:
        _insert(
            con,
            """
            SELECT 'error', t._file, t._row, 'diagnosis_id', t.diagnosis_id, 'foreign_key',
                   'the diagnosis belongs to another patient (diagnoses row '
                   || CAST(d._row AS VARCHAR) || ')'
            FROM typed_treatments t JOIN typed_diagnoses d ON t.diagnosis_id = d.diagnosis_id
            WHERE t.patient_id <> d.patient_id
            """,
        )
        _insert(
            con,
            """
            WITH first_dx AS (SELECT patient_id, first_dx AS dx_date FROM _dx_by_patient)
            SELECT 'error', t._file, t._row, 'start_date', strftime(t.start_date, '%Y-%m-%d'), 'date_order',
                   'start date before the diagnosis date '
                   || strftime(coalesce(d.diagnosis_date, f.dx_date), '%Y-%m-%d')
            FROM typed_treatments t
            LEFT JOIN typed_diagnoses d ON t.diagnosis_id = d.diagnosis_id
                                       AND t.patient_id = d.patient_id
            LEFT JOIN first_dx f ON t.patient_id = f.patient_id
            WHERE t.start_date < coalesce(d.diagnosis_date, f.dx_date)
            """,
        )
    if {"diagnoses", "follow_up"} <= available:
        _insert(
            con,
            """
            WITH last_dx AS (
                SELECT patient_id, last_dx AS dx_date, last_dx_row AS r FROM _dx_by_patient
            )
            SELECT 'error', f._file, f._row, 'death_date', strftime(f.death_date, '%Y-%m-%d'), 'date_order',
                   'death date before the diagnosis date ' || strftime(l.dx_date, '%Y-%m-%d')
                   || ' (diagnoses row ' || CAST(l.r AS VARCHAR) || ')'
            FROM typed_follow_up f JOIN last_dx l ON f.patient_id = l.patient_id
            WHERE f.death_date < l.dx_date
            """,
        )
    if "follow_up" in available:
        events = []
        if "diagnoses" in available:
            events += [("diagnoses", "diagnosis_date"), ("diagnoses", "mdt_date")]
        if "treatments" in available:
            events += [("treatments", c) for c in
                       ("start_date", "end_date", "progression_date", "last_assessment_date")]
        if "molecular_tests" in available:
            events += [("molecular_tests", "test_date")]
        if events:
            union = " UNION ALL ".join(
                f"SELECT patient_id, {sql.ident(c)} AS event_date, _file AS src_file, "
                f"_row AS src_row, {sql.literal(c)} AS src_col FROM typed_{t} "
                f"WHERE {sql.ident(c)} IS NOT NULL"
                for t, c in events
            )
            by_table: dict[str, list[str]] = {}
            for t, c in events:
                by_table.setdefault(t, []).append(sql.ident(c))
            per_table = " UNION ALL ".join(
                "SELECT patient_id, latest_event AS event_date FROM _dx_by_patient"
                if t == "diagnoses" else
                f"SELECT patient_id, max(greatest({', '.join(cs)})) AS event_date "
                f"FROM typed_{t} GROUP BY patient_id"
                for t, cs in by_table.items()
            )
            # Latest date per patient first (cheap); details only for the patients at fault.
            _insert(
                con,
                f"""
                WITH events AS ({union}),
                latest AS (
                    SELECT patient_id, max(event_date) AS event_date
                    FROM ({per_table}) GROUP BY patient_id
                ),
                late AS (
                    SELECT f._file, f._row, f.patient_id, strftime(f.last_contact_date, '%Y-%m-%d') AS raw,
                           l.event_date
                    FROM typed_follow_up f JOIN latest l ON f.patient_id = l.patient_id
                    WHERE f.last_contact_date < l.event_date
                ),
                detail AS (
                    SELECT late.*, arg_min(e.src_file, (e.src_file, e.src_row, e.src_col))
                                       OVER w AS src_file,
                           arg_min(e.src_row, (e.src_file, e.src_row, e.src_col)) OVER w AS src_row,
                           arg_min(e.src_col, (e.src_file, e.src_row, e.src_col)) OVER w AS src_col
                    FROM late JOIN events e
                      ON e.patient_id = late.patient_id AND e.event_date = late.event_date
                    WINDOW w AS (PARTITION BY late.patient_id, late._row)
                    QUALIFY row_number() OVER w = 1
                )
                SELECT 'error', _file, _row, 'last_contact_date', raw,
                       'date_order', 'last contact date before ' || src_col || ' '
                       || strftime(event_date, '%Y-%m-%d') || ' (' || src_file || ' row '
                       || CAST(src_row AS VARCHAR) || '); it must be on or after every other '
                       || 'date of the patient'
                FROM detail
                """,
            )


def _line_checks(con: duckdb.DuckDBPyConnection) -> None:
    """Lines of systemic therapy: 1, 2, 3 ... per patient, no gaps, no duplicates, in order.

    One aggregation per (patient, line) answers all three for nearly every patient; rows are
    ranked only for the patients whose lines are not exactly 1..k.
    """
    _insert(
        con,
        """
        WITH systemic AS (
            SELECT _file, _row, patient_id, line, start_date FROM typed_treatments
            WHERE modality = 'systemic' AND line IS NOT NULL AND patient_id IS NOT NULL
        ), per_line AS MATERIALIZED (
            SELECT patient_id, line, count(*) AS n, min(start_date) AS start_date,
                   arg_min(_row, start_date) AS r, any_value(_file) AS f
            FROM systemic GROUP BY patient_id, line
        ), not_1_to_k AS (
            SELECT patient_id FROM per_line GROUP BY patient_id
            HAVING min(line) <> 1 OR max(line) <> count(*)
        ), ranked AS (
            SELECT line, dense_rank() OVER (PARTITION BY patient_id ORDER BY line) AS rank,
                   _file, _row
            FROM systemic SEMI JOIN not_1_to_k USING (patient_id)
        ), ordered AS (
            SELECT *, lag(start_date) OVER (PARTITION BY patient_id ORDER BY line) AS prev_start,
                      lag(line) OVER (PARTITION BY patient_id ORDER BY line) AS prev_line
            FROM per_line
            WHERE patient_id IN (
                SELECT patient_id FROM per_line GROUP BY patient_id HAVING count(*) > 1
            )
        )
        SELECT 'error', s._file, s._row, 'line', CAST(s.line AS VARCHAR), 'line.duplicate',
               'line ' || CAST(s.line AS VARCHAR) || ' appears ' || CAST(d.n AS VARCHAR)
               || ' times for this patient'
        FROM systemic s JOIN (SELECT patient_id, line, n FROM per_line WHERE n > 1) d
          ON s.patient_id = d.patient_id AND s.line = d.line
        UNION ALL
        SELECT 'error', _file, _row, 'line', CAST(line AS VARCHAR), 'line.gap',
               'line ' || CAST(line AS VARCHAR) || ' but the patient has no line '
               || CAST(rank AS VARCHAR) || '; lines must be 1, 2, 3 ... without gaps'
        FROM ranked WHERE line <> rank AND line >= 1
        UNION ALL
        SELECT 'warning', f, r, 'start_date', strftime(start_date, '%Y-%m-%d'), 'line.order',
               'line ' || CAST(line AS VARCHAR) || ' starts before line '
               || CAST(prev_line AS VARCHAR) || ' (' || strftime(prev_start, '%Y-%m-%d') || ')'
        FROM ordered WHERE start_date < prev_start
        """,
    )


# --------------------------------------------------------------------------- entry points


def validate_into(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    *,
    catalog: str,
    show_identifiers: bool = False,
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
    loaded = load_source(con, source, build, show_identifiers=show_identifiers)
    # Every file is read (the rowids follow the files): from here on no statement needs
    # insertion order, and keeping it made the cross-table queries and the importer's
    # finishing steps several times slower (ordered joins, ordered update of a new column).
    con.execute("SET preserve_insertion_order = false")
    if loaded.problems:
        con.executemany(
            "INSERT INTO _problems VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[p[c] for c in PROBLEM_COLUMNS] for p in loaded.problems],
        )
    available = set(loaded.files)
    for table in SCHEMA:
        target = build.target(table)
        staged = loaded.files.get(table.name)
        if staged is None:
            build.discard(con, table)
            con.execute(typed_table_sql(table, _empty_text_relation(table), target))
            row, file, drop = "CAST(NULL AS BIGINT)", "CAST(NULL AS VARCHAR)", "_problems"
        else:
            row, file = staged.row_sql, sql.literal(staged.path.name)
            drop = "_problems, _row" if staged.row_column else "_problems"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW typed_{table.name} AS SELECT {row} AS _row, "
            f"{file} AS _file, * EXCLUDE ({drop}) FROM {target}"
        )
        if staged is not None:
            _insert(
                con,
                f"SELECT p.severity, {file}, _row, p.column, p.value, p.rule, p.message FROM "
                f"(SELECT {row} AS _row, unnest(_problems) AS p FROM {target} "
                "WHERE _problems IS NOT NULL)",
            )
            _unique_key_checks(con, table)
    _foreign_key_checks(con, available)
    _patient_level_checks(con, available)
    if "treatments" in available:
        _line_checks(con)
    report = _fetch_report(con, source, loaded, show_identifiers)
    return report, loaded


def drop_views(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the ``typed_<table>`` views :func:`validate_into` made."""
    for table in SCHEMA:
        con.execute(f"DROP VIEW IF EXISTS typed_{table.name}")


def _fetch_report(
    con: duckdb.DuckDBPyConnection, source: Path, loaded: LoadedSource, show_identifiers: bool
) -> ValidationReport:
    identifiers = ", ".join(sql.literal(c) for c in sorted(IDENTIFIER_COLUMNS))
    value = (
        "value"
        if show_identifiers
        else f"CASE WHEN \"column\" IN ({identifiers}) AND value IS NOT NULL "
        f"THEN {sql.literal(IDENTIFIER_MASK)} ELSE value END"
    )
    frame = con.execute(
        f"SELECT severity, file, row, \"column\", {value} AS value, rule, message "
        "FROM _problems ORDER BY file, row NULLS FIRST, \"column\" NULLS FIRST, rule, "
        "severity, message, value"
    ).fetchdf()
    frame["row"] = frame["row"].astype("Int64")
    files = tuple(
        (name, f.path.name, f.n_rows) for name, f in loaded.files.items()
    )
    return ValidationReport(source=source, _problems=frame.reset_index(drop=True), files=files)


def validate_source(source: Path, *, show_identifiers: bool = False) -> ValidationReport:
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

    Returns
    -------
    ValidationReport
        Every problem found (``.ok`` is true when none is an error).
    """
    with tempfile.TemporaryDirectory(prefix="nenstudy-validate-") as tmp:
        con = connect_work_db(temp_dir=Path(tmp))
        try:
            con.execute(f"ATTACH {sql.literal(str(Path(tmp) / 'typed.duckdb'))} AS typed")
            report, _ = validate_into(
                con, Path(source), catalog="typed", show_identifiers=show_identifiers
            )
        finally:
            con.close()
    return report
