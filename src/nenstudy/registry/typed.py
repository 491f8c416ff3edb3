"""SQL that types one source table and checks each of its rows, in a single statement.

:func:`typed_table_sql` builds the statement that reads a table's text relation once: it types
every value (as written first, trimmed only when that fails), derives the diagnoses' columns, and
evaluates every row-level check (required fields, types and formats, allowed codes, ranges, date
order within the row). A row's problems land in a ``_problems`` column (a JSON list), NULL for
sound rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from nenstudy.registry import sql
from nenstudy.registry.schema import (
    CODE_SYNONYMS,
    EARLIEST_DATE,
    LIST_SEPARATOR,
    MISSING_MARKERS,
    TOPOGRAPHY_LAST,
    TOPOGRAPHY_GAPS,
    Column,
    Table,
)
from nenstudy.registry.sources import trimmed_sql

__all__ = ["typed_table_sql", "empty_text_relation", "free_text_columns", "PROBLEMS_JSON_TYPE"]


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


def _cleaning(column: Column) -> str:
    """The column telling whether the text of list ``column`` has a token to trim or an empty
    token (:func:`nenstudy.registry.sql.list_needs_cleaning`), evaluated once per row."""
    return sql.ident(column.name + "$cleaning")


def _split_text(column: Column, native: frozenset[str]) -> bool:
    """Whether ``column`` is a list read from text (split on ``;``), not a native list."""
    return column.dtype == "list" and column.name not in native


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
    where the value did not type. A value (never NULL), for use inside other expressions; row
    checks use :func:`_absent`.
    """
    raw = sql.raw(column.name)
    if not _untrimmed(column) or column.name in native:
        return f"({raw} IS NOT NULL)"
    c = sql.ident(column.name)
    return (
        f"(CASE WHEN {c} IS NOT NULL THEN true WHEN {raw} IS NULL THEN false "
        f"ELSE {_text(column, native)} IS NOT NULL END)"
    )


def _absent(column: Column, native: frozenset[str]) -> str:
    """SQL condition: the cell of ``column`` is empty or blank (``NOT`` :func:`_present`).

    Written as a conjunction for the row checks, which DuckDB evaluates as filters: the typed
    value's test rules out nearly every row before the text is looked at.
    """
    raw = sql.raw(column.name)
    if not _untrimmed(column) or column.name in native:
        return f"({raw} IS NULL)"
    c = sql.ident(column.name)
    return f"({c} IS NULL AND ({raw} IS NULL OR {_text(column, native)} IS NULL))"


def _given(column: Column, native: frozenset[str]) -> str:
    """SQL condition: the cell of ``column`` holds a value (:func:`_present` as a disjunction)."""
    raw = sql.raw(column.name)
    if not _untrimmed(column) or column.name in native:
        return f"({raw} IS NOT NULL)"
    c = sql.ident(column.name)
    return f"({c} IS NOT NULL OR ({raw} IS NOT NULL AND {_text(column, native)} IS NOT NULL))"


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
        if column.dtype == "string" and column.allowed is not None:
            # an unknown code types to NULL (the "allowed" check lists it)
            return f"TRY_CAST({raw} AS {column.duckdb_type})"
        if column.dtype == "list":
            return sql.typed_expr(column, raw, cleaning=_cleaning(column))
        return sql.typed_expr(column, raw)
    return (
        f"coalesce({sql.typed_expr(column, raw)}, CASE WHEN {raw} IS NOT NULL "
        f"THEN {sql.typed_expr(column, '(' + _text(column, native) + ')')} END)"
    )


def _expected(values: Iterable[str]) -> str:
    return ", ".join(values)


def _case_hint(column: Column, text: str) -> str:
    """SQL (`` || text``): for a code written in another case (``Metastatic``, ``net g1``) or
    by a usual other name (:data:`~nenstudy.registry.schema.CODE_SYNONYMS`, in any case), the
    code meant (codes are compared as written)."""
    assert column.allowed is not None
    meant = {code.lower(): code for code in column.allowed}
    meant.update(CODE_SYNONYMS.get(column.name, {}))
    whens = " ".join(f"WHEN {sql.literal(written)} THEN {sql.literal(code)}"
                     for written, code in meant.items())
    return (f" || coalesce(' (did you mean ''' || CASE lower({text}) {whens} END || "
            "'''? Codes are written as listed)', '')")


def _character_note(text: str) -> str:
    """SQL (text): for a value holding a character other than printable ASCII, which may look
    like a valid code (a zero-width space, a Cyrillic С), a note naming the first such one."""
    return (f"CASE WHEN regexp_matches({text}, '[^ -~]') THEN ' (the value holds the character "
            f"' || format('U+{{:04X}}', unicode(regexp_extract({text}, '[^ -~]'))) || ', which "
            "may look like another or be invisible)' ELSE '' END")


def _value_checks(column: Column, native: frozenset[str]) -> list[_RowCheck]:
    """Checks of the values of one column (required, type, codes, format, range)."""
    c, r = sql.ident(column.name), _text(column, native)
    checks: list[_RowCheck] = []
    if column.required:
        checks.append(_RowCheck("error", column.name, "required", _absent(column, native),
                                "'a value is required'"))
    if column.dtype not in ("string", "list"):
        checks.append(
            _RowCheck("error", column.name, f"type.{column.dtype}",
                      f"{c} IS NULL AND {_given(column, native)}",
                      sql.type_error_message(column, f"({r})"))
        )
    if column.dtype == "float" and column.name not in native:
        # A text such as 1e-400 types to 0 (below the smallest double): refused, never coerced.
        # The cheap tests first: the typed 0, then any nonzero digit, then the mantissa's (on
        # the text as written: trimming changes no digit).
        raw = sql.raw(column.name)
        checks.append(
            _RowCheck("error", column.name, "type.float",
                      f"{c} = 0 AND {raw} GLOB '*[1-9]*' "
                      f"AND regexp_matches(split_part(lower({raw}), 'e', 1), '[1-9]')",
                      "'a number too small to be stored: it would be read as 0; "
                      "write 0 if that is meant'")
        )
    if column.allowed is not None and column.dtype == "string":
        # The typed value is an ENUM of the codes (see _typed): NULL for a text that is none.
        unknown = (sql.literal(f"unknown code; expected one of: {_expected(column.allowed)}")
                   + " || " + _character_note(r) + _case_hint(column, r))
        # another name of a code that is also another program's mark for a missing value
        # (necrosis 'None') is named as the code meant
        synonyms = CODE_SYNONYMS.get(column.name, {})
        named = (f"WHEN lower({r}) IN ({', '.join(sql.literal(w) for w in synonyms)}) "
                 f"THEN {unknown} " if synonyms else "")
        checks.append(
            _RowCheck("error", column.name, "allowed",
                      f"{c} IS NULL AND {sql.raw(column.name)} IS NOT NULL",
                      f"CASE {named}{sql.missing_marker_hint(r, column.required)} "
                      f"ELSE {unknown} END")
        )
    if column.allowed is not None and column.dtype == "list":
        allowed = ", ".join(sql.literal(a) for a in column.allowed)
        bad = f"list_filter({c}, lambda t: t NOT IN ({allowed}))"
        checks.append(
            # list_contains on the codes costs about 35% less than filtering the list
            _RowCheck("error", column.name, "allowed",
                      f"list_bool_or(list_transform({c}, "
                      f"lambda t: NOT list_contains([{allowed}], t)))",
                      f"CASE {sql.missing_marker_hint(r, column.required)} ELSE "
                      f"'unknown token(s) ' || array_to_string({bad}, ', ') || "
                      + sql.literal(
                          f"; expected ';'-separated tokens from: {_expected(column.allowed)}"
                      ) + " || " + _character_note(f"array_to_string({bad}, ';')") + " END")
        )
        # A code listed twice (liver;liver) would count twice (sites, agents): never dropped
        # without a word. Only lists of two or more are looked at (about 0.03 CPU-s per 10^6
        # lists; len(list_distinct()) costs five times as much).
        repeated = f"list_filter({c}, lambda t, i: list_position({c}, t) < i)"
        checks.append(
            _RowCheck("error", column.name, "list.repeated",
                      f"len({c}) > 1 AND "
                      f"list_bool_or(list_transform({c}, lambda t, i: list_position({c}, t) < i))",
                      f"'listed more than once: ' || array_to_string(list_distinct({repeated}), "
                      "', ') || '; list each once (a repeated code would be counted twice)'")
        )
    if _split_text(column, native):
        # Tested on the few texts that needed cleaning only (the column computed once per row).
        sep = LIST_SEPARATOR
        checks.append(
            _RowCheck("warning", column.name, "list.empty_item",
                      f"{_cleaning(column)} AND len({c}) < len(string_split({r}, '{sep}'))",
                      "'an empty item (two separators in a row, or one at the start or end) "
                      "is left out; read as ' || CASE WHEN len(" + c + ") = 0 "
                      "THEN 'an empty list' ELSE array_to_string(" + c + f", '{sep}') END")
        )
    if column.pattern is not None:
        checks.append(
            _RowCheck("error", column.name, "format",
                      f"NOT {sql.full_match(c, column.pattern)}",
                      sql.literal(f"expected {column.pattern_hint or column.pattern}")
                      + " || " + _character_note(r)
                      + f" || CASE WHEN {sql.full_match(f'upper({r})', column.pattern)} "
                      f"THEN ' (write it in upper case: ' || upper({r}) || ')' ELSE '' END")
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
    if column.dtype == "date":
        # A registry's dates are of living patients: a year 0000 (DuckDB reads it as 1 BC) or
        # a date after today is a typing error.
        checks.append(
            _RowCheck("error", column.name, "date.range",
                      f"{c} < DATE '{EARLIEST_DATE}' OR {c} > current_date",
                      f"'the date is before {EARLIEST_DATE} or after today (' || "
                      "strftime(current_date, '%Y-%m-%d') || ')'")
        )
    return checks


def _d(name: str) -> str:
    return f"strftime({sql.ident(name)}, '%Y-%m-%d')"


def free_text_columns(table: Table) -> list[Column]:
    """The table's free-text columns: strings without codes, format or a key's role."""
    keys = set(table.key) | {fk.column for fk in table.foreign_keys}
    return [c for c in table.columns
            if c.dtype == "string" and c.allowed is None and c.pattern is None
            and c.name not in keys]


def _merged_row_checks(table: Table) -> list[_RowCheck]:
    """A free-text value holding a line break and as many commas as a whole row: in a CSV file,
    most likely two rows merged by a stray or missing quote, the second row lost into the first's
    value. An error: importing it would lose a row without a word. The value is not shown (it
    holds the other row's values, identifiers among them), only its length."""
    separators = len(table.columns) - 1
    checks = []
    for column in free_text_columns(table):
        c = sql.ident(column.name)
        checks.append(_RowCheck(
            "error", column.name, "value.merged_rows",
            f"contains({c}, chr(10)) AND strlen({c}) - strlen(replace({c}, ',', '')) "
            f">= {separators}",
            sql.literal(f"the value holds a line break and {separators} or more commas, as a "
                        "whole row would: a stray or missing quote has most likely merged this "
                        "row and the next into one (check the quotes in both; a text meant "
                        "this way must be written without its line break)"),
            value=f"'(' || length({c}) || ' characters, not shown)'",
        ))
    return checks


def _missing_marker_checks(table: Table) -> list[_RowCheck]:
    """A free-text value that is another program's mark for a missing value (R's ``NA``,
    SAS's ``.``): kept as text, with a warning (typed columns refuse it as a type error)."""
    short = [m for m in MISSING_MARKERS if len(m) <= 4]
    long = [m for m in MISSING_MARKERS if len(m) > 4]
    assert all("#" in m for m in long)  # the test below looks for them by their '#'
    checks = []
    for column in free_text_columns(table):
        c = sql.ident(column.name)
        # the length (and a '#') first: they rule out nearly every value without a comparison
        condition = (f"(strlen({c}) <= 4 AND upper({c}) IN "
                     f"({', '.join(sql.literal(m) for m in short)}))"
                     f" OR (strlen({c}) <= {max(map(len, long))} AND contains({c}, '#') "
                     f"AND upper({c}) IN ({', '.join(sql.literal(m) for m in long)}))")
        checks.append(_RowCheck(
            "warning", column.name, "value.missing_marker", condition,
            "'a mark for a missing value in another program (R writes NA, SAS .); it "
            "is stored as this text: leave the cell empty if no value is meant'"))
    return checks


_WHO_ELEMENTS = ("differentiation", "cell_type", "ki67_pct", "mitoses_per_2mm2",
                 "non_ne_component_pct")

_WHO_TYPED_KEPT = (
    "CASE WHEN _who_derived IS NULL OR who_category IS NULL OR who_category = _who_derived "
    "THEN false WHEN who_category = 'MiNEN' THEN non_ne_component_pct IS NULL "
    "ELSE who_category IN ('NET G2', 'NET G3') AND _who_derived IN ('NET G1', 'NET G2') "
    "AND who_category > _who_derived AND (ki67_pct IS NULL OR mitoses_per_2mm2 IS NULL) END"
)
"""SQL: a missing element could still give the typed-in WHO category, which is then kept (see
:func:`nenstudy.registry.schema.stored_who_category`; NET grades compare alike as text and as
codes). A CASE: computed as a value for every row, its first test settles nearly all."""


_STORED_WHO = ("CASE WHEN d._who_typed_kept THEN d.who_category "
               "ELSE coalesce(d._who_derived, d.who_category) END")
"""SQL over the typed relation ``d``: the WHO category the store holds."""


def _elements_sound(table: Table, native: frozenset[str]) -> str:
    """SQL (`` AND ...``): the pathology elements the WHO category is derived from are readable
    and within their ranges (if not, each is an error of its own, and a category derived without
    it would only add a misleading conflict)."""
    tests = []
    for name in _WHO_ELEMENTS:
        column = table.column(name)
        c = sql.ident(name)
        tests.append(f"({c} IS NULL AND {_given(column, native)})")
        if column.minimum is not None:
            tests.append(f"{c} < {column.minimum}")
        if column.maximum is not None:
            tests.append(f"{c} > {column.maximum}")
    return f" AND NOT coalesce({' OR '.join(tests)}, false)"


def _scientific_key_checks(table: Table, native: frozenset[str]) -> list[_RowCheck]:
    """A table's own identifiers that read as a number in scientific notation (``1.23457E+15``,
    R's ``1.2e+15``): a long numeric identifier that Excel or R turned into a number, its digits
    lost. An error: such IDs may still be unique, and would be stored wrong without a word. (A
    reference so written matches no key: an orphan.)"""
    checks = []
    for name in table.key:
        column = table.column(name)
        text = _text(column, native)
        checks.append(_RowCheck(
            "error", name, "id.scientific",
            # the '+' first: an identifier rarely holds one
            f"contains({text}, '+') AND "
            f"regexp_full_match({text}, '[+-]?[0-9]+([.,][0-9]+)?[eE]\\+[0-9]+')",
            "'the identifier reads as a number in scientific notation, as Excel or R show a "
            "long number: its last digits are lost. Format the column as text before saving, "
            "and restore the identifiers'"))
    return checks


def _table_row_checks(table: Table, native: frozenset[str]) -> list[_RowCheck]:
    """Checks across the columns of one row, particular to each table."""
    checks: list[_RowCheck] = (_merged_row_checks(table) + _missing_marker_checks(table)
                               + _scientific_key_checks(table, native))
    if table.name == "diagnoses":
        checks += [
            _RowCheck("error", "mdt_date", "date_order", "mdt_date < diagnosis_date",
                      f"'MDT date before the diagnosis date ' || {_d('diagnosis_date')}"),
            # well-formed codes (those with a derived site group) compare as text
            _RowCheck("error", "primary_site", "format",
                      f"_site_group_derived IS NOT NULL "
                      f"AND primary_site > {sql.literal(TOPOGRAPHY_LAST)}",
                      sql.literal(f"ICD-O-3 topography codes run from C00.0 to "
                                  f"{TOPOGRAPHY_LAST}")),
            # well-formed codes compare as text: 'C78' <= 'C78.7' <= 'C79.9' (a 'Cnn' bound
            # is followed by '.9' for the last code of a range)
            _RowCheck("error", "primary_site", "format",
                      "_site_group_derived IS NOT NULL AND (" + " OR ".join(
                          f"primary_site BETWEEN {sql.literal(low)} AND "
                          f"{sql.literal(high if '.' in high else high + '.9')}"
                          for low, high in TOPOGRAPHY_GAPS) + ")",
                      sql.literal("not an ICD-O-3 topography code (C27-C29, C35-C36, C43, "
                                  "C45-C46, C59 and C78-C79 do not exist there, and C80 holds "
                                  "only C80.9; C78-C79 are ICD-10 codes of secondary tumours): "
                                  "give the primary site, or C80.9 if it is unknown")),
            _RowCheck("error", "who_category", "who_category.missing",
                      # a code written but unknown (R's NA too) is its own error
                      f"{sql.raw('who_category')} IS NULL AND _who_derived IS NULL",
                      "'no WHO category: none typed in and the pathology elements "
                      "(differentiation, cell type, Ki-67, mitoses, non-NE component) do not "
                      "determine one'"),
            _RowCheck("warning", "who_category", "who_category.conflict",
                      "_who_derived IS NOT NULL AND who_category <> _who_derived "
                      "AND NOT _who_typed_kept" + _elements_sound(table, native),
                      "'typed-in WHO category differs from the one derived from the pathology "
                      "elements (' || _who_derived || '); the derived one is stored'"),
            _RowCheck("warning", "who_category", "who_category.unsettled",
                      "_who_typed_kept" + _elements_sound(table, native),
                      "'the pathology elements given make it ' || _who_derived || ', but the "
                      "missing ' || CASE WHEN who_category = 'MiNEN' THEN 'non-NE component' "
                      "WHEN ki67_pct IS NULL THEN 'Ki-67' ELSE 'mitotic count' END || "
                      "' could make it ' || who_category || ': the typed-in category is "
                      "stored'"),
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
                      "AND len(metastatic_sites) > 0 "
                      # with a timing written, metachronous sites fit; a synchronous timing,
                      # or one not read, is its own problem (not also this one)
                      f"AND {sql.raw('metastases_timing')} IS NULL AND NOT coalesce("
                      + sql.is_missing_marker(sql.raw("metastatic_sites")) + ", false)",
                      "'metastatic sites given but stage is ' || stage || ': if these "
                      "metastases were found after diagnosis, set metastases_timing to "
                      "metachronous; if not, check the stage (distant metastases at diagnosis "
                      "make it metastatic) or the sites'"),
            _RowCheck("warning", "metastases_timing", "metastases_timing.stage",
                      "metastases_timing = 'synchronous' AND stage <> 'metastatic'",
                      "'synchronous metastases are found at diagnosis, but the stage at "
                      "diagnosis is ' || stage"),
            _RowCheck("warning", "metastases_timing", "metastases_timing.stage",
                      "metastases_timing = 'metachronous' AND stage = 'metastatic'",
                      "'metachronous metastases are found after diagnosis, but the stage at "
                      "diagnosis is metastatic (metastases present at diagnosis are "
                      "synchronous)'"),
            _RowCheck("warning", "stage", "stage.unknown_primary",
                      "(stage = 'localized' OR stage = 'locally_advanced') "
                      "AND primary_site = 'C80.9'",
                      "'the primary site is unknown (C80.9), which is found through its "
                      "metastases, but the stage is ' || stage || ': check the stage, or give "
                      "the primary site if it is known'"),
            _RowCheck("warning", "cell_type", "cell_type.differentiation",
                      "cell_type IS NOT NULL AND differentiation = 'well'",
                      "'a small/large cell type is for poorly differentiated NEC, but "
                      "differentiation is well'"),
        ]
    elif table.name == "molecular_tests":
        # Whether a value is given, valid or not: an unknown code is its own error, not also
        # a missing one here. Another program's mark for a missing value (R's NA, an error of
        # its own) neither makes a value needed nor stands in for one: a check that needs a
        # value sees it as none, a check that needs none sees it as one (no second error).
        names = ("tmb", "gene", "msi_status", "alteration")
        tmb, gene, msi, alteration = (_present(table.column(c), native) for c in names)
        # A native number's mark is NaN (pandas and pyarrow write it for a missing number),
        # found in its text: DuckDB 2.0 folds isnan() of a Parquet column to false.
        marked = {c: (f"coalesce({sql.is_missing_marker(_text(table.column(c), native))}, false)"
                      if c not in native or table.column(c).dtype == "float" else "false")
                  for c in names}
        n_written = f"({gene}::INT + {msi}::INT + {tmb}::INT)"
        # The cheap tests first (a filter tests each next one on the rows left): the marks are
        # looked for only on the few rows the written values already put in doubt.
        checks += [
            _RowCheck("error", None, "exactly_one_result",
                      f"{n_written} <> 1 AND NOT ({marked['gene']} OR {marked['msi_status']} "
                      f"OR {marked['tmb']})",
                      f"'exactly one of gene, msi_status, tmb must be given per row (found ' || "
                      f"CAST({n_written} AS VARCHAR) || ')'"),
            _RowCheck("error", "alteration", "required",
                      f"NOT {alteration} AND {gene} AND NOT {marked['gene']}",
                      "'alteration is required when a gene is given'"),
            _RowCheck("error", "alteration", "alteration.without_gene",
                      f"NOT {gene} AND {alteration} AND NOT {marked['alteration']}",
                      "'alteration given without a gene'"),
        ]
    elif table.name == "treatments":
        checks += [
            _RowCheck("error", "line", "required",
                      f"modality = 'systemic' AND {_absent(table.column('line'), native)}",
                      "'line is required for systemic treatments'"),
            _RowCheck("error", "line", "line.not_systemic",
                      "modality <> 'systemic' AND line IS NOT NULL",
                      "'line numbers are for systemic treatments only (modality is ' || modality "
                      "|| ')'"),
            _RowCheck("error", "agents", "required",
                      "modality = 'systemic' AND \"agents$raw\" IS NULL",
                      "'agents are required for systemic treatments'"),
            _RowCheck("warning", "agents", "agents.not_systemic",
                      "(modality = 'surgery' OR modality = 'radiotherapy') "
                      "AND \"agents$raw\" IS NOT NULL",
                      "'agents given for a ' || modality || ' row: lines of therapy are "
                      "systemic rows, so these agents count in none; give concurrent "
                      "chemotherapy a systemic row of its own'"),
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
                      f"vital_status = 'dead' AND {_absent(table.column('death_date'), native)}",
                      "'death date is required when vital_status is dead'"),
            _RowCheck("error", "death_date", "death_date.alive",
                      f"vital_status = 'alive' AND {_given(table.column('death_date'), native)} "
                      # R's NA for a missing date is its own error, at the date
                      f"AND NOT coalesce("
                      f"{sql.is_missing_marker(_text(table.column('death_date'), native))}, "
                      "false)",
                      "'death date given but vital_status is alive'"),
            _RowCheck("error", "death_date", "date_order", "death_date > last_contact_date",
                      f"'death date after the last contact date ' || {_d('last_contact_date')}"),
            _RowCheck("warning", "last_contact_date", "date_order",
                      "last_contact_date > death_date",
                      f"'last contact after the death date ' || {_d('death_date')} || "
                      "': for a patient who died, the last contact is the death date (or "
                      "before)'"),
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
            "who_category": _STORED_WHO,
            "ecog_ps": "coalesce(d.ecog_ps, d._ecog_from_karnofsky)",
            "site_group_reported": "d.site_group",
            "who_category_reported": "d.who_category",
            "pure_histology": (
                "coalesce(d.non_ne_component_pct, 0) = 0 "
                f"AND {_STORED_WHO} <> 'MiNEN'"
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
    typed values instead of text (see :class:`nenstudy.registry.sources.TableBuilder`). The
    statement reads it once: it types each value,
    derives the diagnoses' columns, and evaluates every row-level check; ``_problems`` holds the
    list of a row's problems (severity, column, value, rule, message) as JSON text (read it with
    :data:`PROBLEMS_JSON_TYPE`), NULL when there is none.
    """
    row = ["_row"] if row_column else []
    typed = [*row]
    split = [c for c in table.columns if _split_text(c, native)]
    if split:
        # whether a list text needs cleaning: tested once, for its typing and its check
        marks = ", ".join(f"{sql.list_needs_cleaning(sql.raw(c.name))} AS {_cleaning(c)}"
                          for c in split)
        text_relation = f"(SELECT *, {marks} FROM {text_relation})"
    for column in table.columns:
        typed.append(sql.raw(column.name))
        if column in split:
            typed.append(_cleaning(column))
        typed.append(f"{_typed(column, native)} AS {sql.ident(column.name)}")
    relation = f"(SELECT {', '.join(typed)} FROM {text_relation})"
    if table.name == "diagnoses":
        # derived as the store's ENUMs (constants of the type: no cast on each row)
        who = sql.who_category_sql(
            "differentiation", "cell_type", "ki67_pct", "mitoses_per_2mm2", "non_ne_component_pct",
            codes_type=table.column("who_category").duckdb_type,
        )
        site = sql.site_group_sql("primary_site",
                                  codes_type=table.column("site_group").duckdb_type)
        relation = (
            f"(SELECT *, {site} AS _site_group_derived, "
            f"{who} AS _who_derived, "
            f"{sql.ecog_from_karnofsky_sql('karnofsky')} AS _ecog_from_karnofsky "
            f"FROM {relation})"
        )
        relation = f"(SELECT *, {_WHO_TYPED_KEPT} AS _who_typed_kept FROM {relation})"
    checks = [ch for col in table.columns for ch in _value_checks(col, native)]
    checks += _table_row_checks(table, native)
    structs = []
    for ch in checks:
        value = ch.value or (_text(table.column(ch.column), native) if ch.column else "NULL")
        structs.append(
            f"CASE WHEN {ch.condition} THEN "
            f"{_problem_struct(ch.severity, ch.column, value, ch.rule, ch.message)} END"
        )
    # A WHEN condition is evaluated as a filter: a NULL counts as false without coalesce(), and
    # each condition is tested only on the rows the ones before it left (measured cheaper).
    any_problem = " OR ".join(f"({ch.condition})" for ch in checks)
    # A row without any value (a spreadsheet's trailing ",,,,") is one problem, not one per
    # required column (validation leaves it out, with a warning); tested only on rows that
    # have a problem, so sound rows pay nothing.
    no_value = " AND ".join(f"{sql.raw(c.name)} IS NULL" for c in table.columns)
    empty = _problem_struct("warning", None, "NULL", "row.empty",
                            "'the row has no value (only separators); left out'")
    # Kept as JSON text: an all-NULL text column costs less to write than an all-NULL list of
    # structs (10^6 patients: about 0.05 CPU-s per table), and only rows with problems pay for
    # the encoding.
    problems = (
        f"CASE WHEN {any_problem} THEN to_json(CASE WHEN {no_value} THEN [{empty}] "
        f"ELSE list_filter([{', '.join(structs)}], lambda x: x IS NOT NULL) END) END"
    )
    columns = [*(f"d.{r}" for r in row)]
    columns += [f"{expr} AS {sql.ident(name)}" for name, expr in _store_expressions(table)]
    columns.append(f"{problems} AS _problems")
    return (
        f"CREATE TABLE {target} ({', '.join(_column_definitions(table, row_column))}); "
        f"INSERT INTO {target} SELECT {', '.join(columns)} FROM {relation} AS d"
    )


PROBLEMS_JSON_TYPE = (
    '[{"severity": "VARCHAR", "column": "VARCHAR", "value": "VARCHAR", "rule": "VARCHAR", '
    '"message": "VARCHAR"}]'
)
"""Structure of the JSON text of ``_problems``, for ``from_json(_problems, ...)``."""


def uncompressed_columns(table: Table) -> frozenset[str]:
    """The columns of ``table`` the store keeps uncompressed: its key and foreign keys.

    Identifiers are random-looking strings: compressing them (DICT_FSST) halves their size but
    costs about 40% of the time a table takes to write; every other column is left to DuckDB.
    """
    return frozenset(table.key) | {fk.column for fk in table.foreign_keys}


def _column_definitions(table: Table, row_column: bool) -> list[str]:
    """Column definitions of a typed table: key columns stored uncompressed
    (:func:`uncompressed_columns`)."""
    keys = uncompressed_columns(table)
    types = dict(table.store_columns())
    definitions = ["_row BIGINT"] if row_column else []
    for name, _ in _store_expressions(table):
        compression = " USING COMPRESSION uncompressed" if name in keys else ""
        definitions.append(f"{sql.ident(name)} {types[name]}{compression}")
    definitions.append("_problems VARCHAR")
    return definitions


def empty_text_relation(table: Table) -> str:
    cols = ", ".join(f"CAST(NULL AS VARCHAR) AS {sql.raw(c.name)}" for c in table.columns)
    return f"(SELECT {cols} LIMIT 0)"
