"""SQL expressions (DuckDB dialect) built from the schema: typing of text cells and derivations.

Validation and the store use these so that a value is typed, and a derived column computed, in
exactly one way. The derivation rules' constants live in :mod:`nenstudy.registry.schema`.
"""

from __future__ import annotations

import re

from nenstudy.registry.schema import (
    KARNOFSKY_TO_ECOG,
    KI67_GRADE_UPPER,
    LIST_SEPARATOR,
    MINEN_NON_NE_THRESHOLD_PCT,
    MISSING_MARKERS,
    MITOSES_GRADE_UPPER,
    SITE_GROUP_DEFAULT,
    SITE_GROUP_RANGES,
    TOPOGRAPHY_PATTERN,
    Column,
)

__all__ = [
    "full_match",
    "ident",
    "literal",
    "raw",
    "typed_expr",
    "type_error_message",
    "site_group_sql",
    "who_category_sql",
    "ecog_from_karnofsky_sql",
]

ISO_DATE_RE = r"\d{4}-\d{2}-\d{2}"
ISO_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
"""The same set of strings as ``ISO_DATE_RE`` (ASCII digits), matched without a regex engine."""
ISO_DATE_SHAPE = "????-??-?[0-9]"
"""Ten characters with '-' at 5 and 8, a digit last: with a successful cast and a first byte at
or above '0', the same strings as ``ISO_DATE_GLOB``."""
INT_RE = r"[+-]?\d{1,9}(\.0*)?"


def ident(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def raw(column: str) -> str:
    """Name of the column holding the source text of ``column`` in a typed staging table."""
    return ident(f"{column}$raw")


_GLOB_ATOM = re.compile(r"\\d|\\\.|[A-Za-z0-9/_ -]")


def full_match(value: str, pattern: str) -> str:
    """SQL: whether ``value`` matches the regular expression ``pattern`` as a whole (RE2).

    A pattern made only of plain characters, ``\\d`` and ``\\.`` is matched as the equivalent
    GLOB (``[0-9]`` for ``\\d``, which RE2 reads as ASCII digits), several times cheaper than
    the regular expression engine; any other pattern uses ``regexp_full_match``.
    """
    atoms = _GLOB_ATOM.findall(pattern)
    if "".join(atoms) != pattern:
        return f"regexp_full_match({value}, {literal(pattern)})"
    glob = "".join("[0-9]" if a == "\\d" else a[-1] for a in atoms)
    return f"{value} GLOB {literal(glob)}"


WHITESPACE = "' ' || chr(9) || chr(10) || chr(13) || chr(160)"
"""SQL: the characters trimmed from a value, and from each token of a list value."""


def list_needs_cleaning(source: str) -> str:
    """SQL: whether the list text ``source`` has a token to trim or an empty token (``;;``, a
    ``;`` at the start or end): only then does splitting it need more than ``string_split``.

    A CASE, not an OR: computed as a value, an OR evaluates every test on every row; the CASE
    stops at the first that holds (false, not NULL, for a missing text).
    """
    sep = LIST_SEPARATOR
    tests = (f"contains({source}, ' ')", f"contains({source}, '{sep}{sep}')",
             f"prefix({source}, '{sep}')", f"suffix({source}, '{sep}')",
             f"contains({source}, chr(160))", f"contains({source}, chr(9))",
             # a line break in a cell (Excel's Alt+Enter after a ';')
             f"contains({source}, chr(10))", f"contains({source}, chr(13))")
    return f"(CASE {' '.join(f'WHEN {t} THEN true' for t in tests)} ELSE false END)"


def typed_expr(column: Column, source: str, *, cleaning: str | None = None) -> str:
    """Return the SQL expression typing the text ``source`` for ``column`` (NULL when invalid).

    Dates must be ISO ``YYYY-MM-DD``; integers may carry a zero fraction (``3.0``); numbers must
    be finite; booleans are ``true``/``false`` in any case; lists are split on ``;`` and trimmed,
    empty tokens dropped. For a list, ``cleaning`` may name a column already holding
    :func:`list_needs_cleaning` of ``source``.
    """
    if column.dtype == "string":
        return source
    if column.dtype == "date":
        # Cheaper than ISO_DATE_GLOB's eight digit classes, and the same: DuckDB's cast reads
        # a 10-byte text that starts at or above '0', has '-' at 5 and 8 and ends with a digit
        # only when it is YYYY-MM-DD (see tests/registry/test_load_equivalence.py).
        return (
            f"CASE WHEN strlen({source}) = 10 AND {source} >= '0' "
            f"AND {source} GLOB '{ISO_DATE_SHAPE}' THEN TRY_CAST({source} AS DATE) END"
        )
    if column.dtype == "int":
        # One to three plain digits (the usual case) skip the regular expression.
        return (
            f"CASE WHEN {source} GLOB '[0-9]' OR {source} GLOB '[0-9][0-9]' "
            f"OR {source} GLOB '[0-9][0-9][0-9]' THEN CAST({source} AS INTEGER) "
            f"WHEN regexp_full_match({source}, '{INT_RE}') "
            f"THEN CAST(split_part({source}, '.', 1) AS INTEGER) END"
        )
    if column.dtype == "float":
        # DuckDB's cast also reads digit separators (1_0 as 10): refused, never coerced.
        return (
            f"CASE WHEN isfinite(TRY_CAST({source} AS DOUBLE)) AND NOT contains({source}, '_') "
            f"THEN TRY_CAST({source} AS DOUBLE) END"
        )
    if column.dtype == "bool":
        return f"CASE lower({source}) WHEN 'true' THEN true WHEN 'false' THEN false END"
    if column.dtype == "list":
        sep = LIST_SEPARATOR
        # Each token is trimmed of the whitespace a value is (no-break spaces too). Without
        # it or empty tokens the split alone gives the same list, lambdas unneeded.
        return (
            f"CASE WHEN {cleaning or list_needs_cleaning(source)} "
            f"THEN list_filter(list_transform(string_split({source}, '{sep}'), "
            f"lambda t: trim(t, {WHITESPACE})), lambda t: t <> '') "
            f"ELSE string_split({source}, '{sep}') END"
        )
    raise ValueError(column.dtype)


def is_missing_marker(source: str) -> str:
    """SQL: the text ``source`` is another program's mark for a missing value (any case)."""
    return f"upper({source}) IN ({', '.join(literal(m) for m in MISSING_MARKERS)})"


def missing_marker_hint(source: str, required: bool = False) -> str:
    """SQL ``WHEN ... THEN ...``: the text ``source`` is another program's mark for a missing
    value (R's ``NA``, SAS's ``.``): say so, once per value, instead of a type or code error
    (for a ``required`` column: that a value is needed)."""
    what = ("this column needs a value" if required
            else "leave the cell empty (in R, write.csv(x, na = \"\"))")
    nan_what = ("this column needs a value" if required
                else "leave it missing (an empty cell; in Parquet a null, which pandas writes "
                "for a nullable dtype such as Float64)")
    return (
        f"WHEN upper({source}) IN ('NAN', '-NAN') "
        f"THEN 'NaN (not a number), which pandas, pyarrow and R write for a missing or "
        f"undefined number, is not a value: {nan_what}' "
        f"WHEN {is_missing_marker(source)} "
        f"THEN 'a mark for a missing value in another program (R writes NA, SAS .), not a "
        f"value: {what}' "
    )


def type_error_message(column: Column, source: str) -> str:
    """Return an SQL expression explaining why the text ``source`` is not of ``column``'s type."""
    hint = missing_marker_hint(source, column.required)
    if column.dtype == "date":
        # day, month (or month, day) and year with / . or -, and the first two numbers
        dmy = f"regexp_full_match({source}, '(\\d{{1,2}})[/.-](\\d{{1,2}})[/.-](\\d{{2}}|\\d{{4}})')"
        first = f"TRY_CAST(regexp_extract({source}, '^(\\d+)', 1) AS INTEGER)"
        second = f"TRY_CAST(regexp_extract({source}, '^\\d+[/.-](\\d+)', 1) AS INTEGER)"
        return (
            f"CASE {hint}"
            f"WHEN regexp_full_match({source}, '(1[89]|20)\\d\\d') "
            "THEN 'a year alone? Write the full date as ISO YYYY-MM-DD (an Excel serial date "
            "of this number would be ' || strftime(DATE '1899-12-30' + "
            f"CAST({source} AS INTEGER), '%Y-%m-%d') || ')' "
            f"WHEN regexp_full_match({source}, '\\d{{1,7}}(\\.\\d+)?') "
            f"AND TRY_CAST({source} AS DOUBLE) BETWEEN 1 AND 2958465 "
            "THEN 'looks like an Excel serial date (' || "
            f"strftime(CASE WHEN CAST({source} AS DOUBLE) < 61 THEN DATE '1899-12-31' "
            f"ELSE DATE '1899-12-30' END + CAST(floor(CAST({source} AS DOUBLE)) AS INTEGER), "
            "'%Y-%m-%d') || ' if read as one); write the date as ISO YYYY-MM-DD' "
            f"WHEN {dmy} AND {first} = {second} "
            "THEN 'not an ISO date (day and month are the same number); write the date as ISO "
            "YYYY-MM-DD' "
            f"WHEN {dmy} AND {first} <= 12 AND {second} <= 12 "
            "THEN 'ambiguous day/month order (not guessed); write the date as ISO YYYY-MM-DD' "
            f"WHEN {dmy} AND {first} <= 12 "
            "THEN 'not an ISO date (month/day/year order, as in the US?); write the date as ISO "
            "YYYY-MM-DD' "
            f"WHEN {dmy} "
            "THEN 'not an ISO date (day/month/year order?); write the date as ISO YYYY-MM-DD' "
            f"WHEN regexp_full_match({source}, '{ISO_DATE_RE}') "
            "THEN 'not a valid calendar date' "
            f"WHEN regexp_full_match({source}, '{ISO_DATE_RE}[T ].*') "
            "THEN 'a date with a time; write the date only, as ISO YYYY-MM-DD' "
            "ELSE 'not a date; write the date as ISO YYYY-MM-DD' END"
        )
    if column.dtype == "int":
        return (
            f"CASE {hint}"
            f"WHEN regexp_full_match({source}, '[+-]?\\d+(\\.0*)?') "
            "THEN 'more digits than a whole number of the registry holds (at most 9)' "
            f"WHEN suffix({source}, '%') "
            "THEN 'a percentage sign (or a cell formatted as a percentage); write the number "
            "alone, e.g. 80 for 80%' "
            f"WHEN regexp_full_match({source}, '[+-]?\\d+([.,]\\d+)?[eE][+-]?\\d+') "
            "THEN 'a number in scientific notation; write the whole number' "
            "ELSE 'not a whole number' END"
        )
    if column.dtype == "float":
        return (
            f"CASE {hint}"
            f"WHEN suffix({source}, '%') "
            "THEN 'a percentage sign (or a cell formatted as a percentage); write the number "
            "alone, e.g. 6 for 6%' "
            f"WHEN contains({source}, '_') "
            "THEN 'digit separator _; write the number without it' "
            f"WHEN TRY_CAST({source} AS DOUBLE) IS NOT NULL "
            "THEN 'not a finite number (NaN or infinity)' "
            f"WHEN regexp_full_match({source}, '[+-]?\\d{{1,3}}(,\\d{{3}})+(\\.\\d*)?') "
            "THEN 'a comma: a thousands separator, or a decimal comma? Write the number "
            "without separators, with a decimal point' "
            f"WHEN isfinite(TRY_CAST(replace({source}, ',', '.') AS DOUBLE)) "
            "THEN 'decimal comma; write the number with a decimal point' "
            "ELSE 'not a number' END"
        )
    if column.dtype == "bool":
        return (
            f"CASE {hint}"
            f"WHEN lower({source}) IN ('1', '0', 'yes', 'no', 'y', 'n') "
            "THEN 'expected true or false; 1/0 (as REDCap and SAS export a yes/no field) and "
            "yes/no are not read as such: write true or false' ELSE 'expected true or false' END"
        )
    raise ValueError(column.dtype)


def _code(value: str, codes_type: str | None) -> str:
    """SQL constant of a code, of ``codes_type`` (an ENUM) when given, else text."""
    return literal(value) if codes_type is None else f"CAST({literal(value)} AS {codes_type})"


def site_group_sql(topography: str, codes_type: str | None = None) -> str:
    """SQL deriving the site group from an ICD-O-3 topography expression (NULL if malformed).

    On a well-formed code (``Cdd.d``) the major-site ranges are text ranges: ``Cff`` up to
    ``Cll/`` (``/`` sorts right after ``.``), which spares casting the digits on every row.
    ``codes_type``: the ENUM type the result takes (constants of it: no cast on each row).
    """
    whens = " ".join(
        f"WHEN {topography} >= {literal(f'C{first:02d}')} "
        f"AND {topography} < {literal(f'C{last:02d}/')} THEN {_code(group, codes_type)}"
        for first, last, group in SITE_GROUP_RANGES
    )
    return (
        f"CASE WHEN NOT {full_match(topography, TOPOGRAPHY_PATTERN)} THEN NULL "
        f"{whens} ELSE {_code(SITE_GROUP_DEFAULT, codes_type)} END"
    )


def _grade_sql(value: str, upper: tuple[float, float]) -> str:
    return (
        f"CASE WHEN {value} IS NULL THEN NULL WHEN {value} < {upper[0]} THEN 1 "
        f"WHEN {value} <= {upper[1]} THEN 2 ELSE 3 END"
    )


def who_category_sql(
    differentiation: str,
    cell_type: str,
    ki67_pct: str,
    mitoses: str,
    non_ne_pct: str,
    codes_type: str | None = None,
) -> str:
    """SQL deriving the WHO category from the raw elements (NULL when they do not determine it).

    Same rules as :func:`nenstudy.registry.schema.derive_who_category`; ``codes_type`` as for
    :func:`site_group_sql`.
    """
    ki_grade = _grade_sql(ki67_pct, KI67_GRADE_UPPER)
    mi_grade = _grade_sql(mitoses, MITOSES_GRADE_UPPER)
    grade = f"greatest({ki_grade}, {mi_grade})"  # greatest ignores NULLs
    # Constant strings per grade: no text is built on each row (NULL grade: NULL).
    net = " ".join(f"WHEN {g} THEN {_code(f'NET G{g}', codes_type)}" for g in (1, 2, 3))
    return (
        f"CASE WHEN {non_ne_pct} >= {MINEN_NON_NE_THRESHOLD_PCT} "
        f"THEN {_code('MiNEN', codes_type)} "
        f"WHEN {differentiation} = 'poor' OR {cell_type} IS NOT NULL "
        f"THEN {_code('NEC', codes_type)} "
        f"WHEN {differentiation} = 'well' THEN CASE {grade} {net} END END"
    )


def ecog_from_karnofsky_sql(karnofsky: str) -> str:
    """SQL mapping a Karnofsky expression to ECOG (NULL when not mappable)."""
    whens = " ".join(f"WHEN {k} THEN {e}" for k, e in sorted(KARNOFSKY_TO_ECOG.items()))
    return f"CASE {karnofsky} {whens} END"
