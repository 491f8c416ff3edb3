"""Per-patient analysis variables (groupings, baseline variables) computed in SQL.

Creates ``cohort_vars``: one row per cohort patient with ``usubjid``, the population flags
``in_<population>``, one column per grouping and per variable of the study (named as in the
study file), and the treatment fields the analyses read. A grouping value outside its declared
levels is a :class:`~nenstudy.study.definition.StudyDefinitionError` (the levels are the
study's vocabulary: an unexpected value is a definition mistake, not data to drop).
"""

from __future__ import annotations

import duckdb

from nenstudy.study.definition import StudyDefinition, StudyDefinitionError
from nenstudy.study.fields import STUDY_FIELDS

__all__ = ["TREATMENT_COLUMNS", "build_analysis_variables"]

TREATMENT_COLUMNS: tuple[str, ...] = (
    "first_line_regimen", "first_line_best_response", "lines_received", "line_data_problem",
    "molecular_profiled",
)
"""Study fields copied into ``cohort_vars`` for the treatment and molecular analyses."""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_analysis_variables(con: duckdb.DuckDBPyConnection, study: StudyDefinition) -> None:
    """Create ``cohort_vars`` and check every grouping's values against its levels.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection holding ``cohort`` and ``study_base``.
    study : StudyDefinition
        Groupings and variables.

    Raises
    ------
    StudyDefinitionError
        When a grouping or categorical variable yields a value outside its levels, or a
        continuous variable is not numeric.
    """
    flags = [f"c.in_{name}" for name in study.populations]
    columns = []
    for name, grouping in study.groupings.items():
        columns.append(f'CAST(({grouping.expr.sql}) AS VARCHAR) AS "{name}"')
    for name, variable in study.variables.items():
        if variable.type == "continuous":
            columns.append(f'TRY_CAST(({variable.expr.sql}) AS DOUBLE) AS "{name}"')
            columns.append(f'({variable.expr.sql}) IS NOT NULL AS "{name}$present"')
        else:
            columns.append(f'CAST(({variable.expr.sql}) AS VARCHAR) AS "{name}"')
    columns += [f"b.{c}" for c in TREATMENT_COLUMNS]
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE cohort_vars AS
            SELECT c.usubjid, {', '.join(flags)}, {', '.join(columns)}
            FROM cohort c JOIN study_base b USING (diagnosis_id)
            ORDER BY c.usubjid
            """
        )
    except duckdb.Error as err:
        raise StudyDefinitionError(
            f"{study.path}: a grouping or variable expression failed in the store: {err}"
        ) from None
    for name, variable in study.variables.items():
        if variable.type != "continuous":
            continue
        bad = con.execute(
            f'SELECT count(*) FROM cohort_vars WHERE "{name}" IS NULL AND "{name}$present"'
        ).fetchone()[0]
        if bad:
            raise StudyDefinitionError(
                f"{study.path}: variables.{name}.expr: expected a numeric value, but {bad} patients "
                "have a value that is not a number"
            )
        con.execute(f'ALTER TABLE cohort_vars DROP COLUMN "{name}$present"')
    checks = [(f"groupings.{n}", n, g.levels, g.expr.columns) for n, g in study.groupings.items()]
    checks += [(f"variables.{n}", n, v.levels, v.expr.columns)
               for n, v in study.variables.items() if v.type == "categorical"]
    for key, name, levels, used in checks:
        allowed = ", ".join(_quote(level) for level in levels)
        rows = con.execute(
            f'SELECT DISTINCT "{name}" FROM cohort_vars WHERE "{name}" IS NOT NULL '
            f'AND "{name}" NOT IN ({allowed}) ORDER BY 1 LIMIT 5'
        ).fetchall()
        if rows:
            coded = all(STUDY_FIELDS[c] in ("string", "bool", "int") for c in used)
            shown = f" ({', '.join(repr(r[0]) for r in rows)})" if coded else ""
            raise StudyDefinitionError(
                f"{study.path}: {key}: the expression gives values outside levels [{allowed}]{shown}; "
                "add them to levels or map them in the expression"
            )
