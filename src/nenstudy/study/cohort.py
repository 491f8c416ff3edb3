"""Cohort selection and attrition: the study's steps and subsets run as SQL in the store.

Every diagnosis of the registry is evaluated against every step (a condition that is NULL
counts as not met, and such rows are counted separately as "criterion not evaluable"). The
diagnoses meeting all steps form the cohort, one per patient (the earliest diagnosis when a
patient has several; any such removal is an extra attrition row). Cohort patients get
pseudonymous ids ``P0001``... in order of diagnosis date. Subsets (advanced disease, first-line
treated ...) are then flagged as ``in_<subset>`` columns of the ``cohort`` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from nenstudy.study.definition import CohortStep, StudyDefinition

__all__ = ["CohortSelection", "select_cohort", "pseudonym_width"]


@dataclass(frozen=True)
class CohortSelection:
    """Outcome of cohort selection.

    Attributes
    ----------
    attrition : list of dict
        One entry per step, then per subset: ``step, label, kind, of, n, from, excluded,
        reason, excluded_missing, excluded_by``.
    cohort_n : int
        Patients in the cohort.
    population_n : dict
        Patients per population (``cohort`` and each subset).
    registry_diagnoses : int
        Diagnoses in the registry (rows evaluated by the first step).
    """

    attrition: list[dict[str, Any]]
    cohort_n: int
    population_n: dict[str, int]
    registry_diagnoses: int


def pseudonym_width(n: int) -> int:
    """Digits of the pseudonymous ids for ``n`` patients (at least 4: ``P0001``)."""
    return max(4, len(str(max(n, 1))))


def _breakdown(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    rows = con.execute(sql).fetchall()
    out = {("(missing)" if key is None else str(key)): int(n) for key, n in rows}
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _entry(step: CohortStep, kind: str, n_from: int, n: int, missing: int,
           breakdown: dict[str, int] | None) -> dict[str, Any]:
    return {
        "step": step.name,
        "label": step.label,
        "kind": kind,
        "of": step.of or None,
        "n": n,
        "from": n_from,
        "excluded": n_from - n,
        "reason": step.reason if n_from - n else None,
        "excluded_missing": missing,
        "excluded_by": breakdown,
    }


def select_cohort(con: duckdb.DuckDBPyConnection, study: StudyDefinition) -> CohortSelection:
    """Run the cohort steps and subsets; create the ``cohort`` table.

    The ``cohort`` table has one row per cohort patient: ``usubjid`` (pseudonymous),
    ``diagnosis_id``, ``patient_id``, ``in_cohort`` and ``in_<subset>`` for each subset.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection holding ``study_base``.
    study : StudyDefinition
        Steps and subsets (their expressions already whitelisted).

    Returns
    -------
    CohortSelection
    """
    steps = study.steps
    k = len(steps)
    select = []
    for i, step in enumerate(steps, 1):
        select.append(f"({step.where.sql}) AS s_{i}")
        if step.excluded_by is not None:
            select.append(f"({step.excluded_by.sql}) AS r_{i}")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE step_eval AS SELECT diagnosis_id, patient_id, diagnosis_date, "
        f"mdt_date, {', '.join(select)} FROM study_base"
    )

    def passed(j: int) -> str:
        return " AND ".join(f"s_{i} IS TRUE" for i in range(1, j + 1)) if j else "TRUE"

    counts_sql = ["count(*)"]
    for i in range(1, k + 1):
        counts_sql.append(f"count(*) FILTER (WHERE {passed(i)})")
        counts_sql.append(f"count(*) FILTER (WHERE {passed(i - 1)} AND s_{i} IS NULL)")
    counts = con.execute(f"SELECT {', '.join(counts_sql)} FROM step_eval").fetchone()
    total = int(counts[0])
    attrition = []
    n_prev = total
    for i, step in enumerate(steps, 1):
        n, missing = int(counts[2 * i - 1]), int(counts[2 * i])
        breakdown = None
        if step.excluded_by is not None:
            breakdown = _breakdown(
                con,
                f"SELECT r_{i}, count(*) FROM step_eval WHERE {passed(i - 1)} AND s_{i} IS NOT TRUE GROUP BY 1",
            )
        attrition.append(_entry(step, "cohort", n_prev, n, missing, breakdown))
        n_prev = n

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cohort_rows AS
        SELECT diagnosis_id, patient_id, diagnosis_date, mdt_date,
               row_number() OVER (PARTITION BY patient_id ORDER BY diagnosis_date, mdt_date, diagnosis_id)
                   AS nth_of_patient
        FROM step_eval WHERE {passed(k)}
        """
    )
    later = con.execute("SELECT count(*) FROM cohort_rows WHERE nth_of_patient > 1").fetchone()[0]
    n_cohort = n_prev - int(later)
    if later:
        attrition.append({
            "step": "one_per_patient", "label": "One diagnosis per patient (the earliest)",
            "kind": "cohort", "of": None, "n": n_cohort, "from": n_prev, "excluded": int(later),
            "reason": "later diagnosis of a patient already in the cohort",
            "excluded_missing": 0, "excluded_by": None,
        })
    width = pseudonym_width(n_cohort)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cohort AS
        SELECT 'P' || lpad(CAST(row_number() OVER (ORDER BY diagnosis_date, mdt_date, diagnosis_id) AS VARCHAR),
                           {width}, '0') AS usubjid,
               diagnosis_id, patient_id, TRUE AS in_cohort
        FROM cohort_rows WHERE nth_of_patient = 1
        """
    )
    population_n = {"cohort": n_cohort}
    for subset in study.subsets:
        con.execute(
            f"ALTER TABLE cohort ADD COLUMN in_{subset.name} BOOLEAN"
        )
        reason_sql = f"({subset.excluded_by.sql})" if subset.excluded_by is not None else "NULL"
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE subset_eval AS
            SELECT c.diagnosis_id, c.in_{subset.of} AS base, ({subset.where.sql}) AS s, {reason_sql} AS r
            FROM cohort c JOIN study_base b USING (diagnosis_id)
            """
        )
        con.execute(
            f"""
            UPDATE cohort SET in_{subset.name} = e.base AND e.s IS TRUE
            FROM subset_eval e WHERE e.diagnosis_id = cohort.diagnosis_id
            """
        )
        n_from, n, missing = con.execute(
            "SELECT count(*) FILTER (WHERE base), count(*) FILTER (WHERE base AND s IS TRUE), "
            "count(*) FILTER (WHERE base AND s IS NULL) FROM subset_eval"
        ).fetchone()
        breakdown = None
        if subset.excluded_by is not None:
            breakdown = _breakdown(
                con, "SELECT r, count(*) FROM subset_eval WHERE base AND s IS NOT TRUE GROUP BY 1"
            )
        attrition.append(_entry(subset, "subset", int(n_from), int(n), int(missing), breakdown))
        population_n[subset.name] = int(n)
    con.execute("DROP TABLE IF EXISTS subset_eval")
    return CohortSelection(attrition, n_cohort, population_n, total)
