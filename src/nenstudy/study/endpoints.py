"""Derived variables and time-to-event endpoints, computed in SQL inside the DuckDB store.

Tables created in the study connection (temporary, never in the registry):

``study_lines``
    one row per systemic treatment: line number, dates, best response, progression,
    last assessment and the regimen class matched from its agents (study's class rules).
``patient_lines``
    one row per treated patient: first-line fields (defined only when exactly one line-1 row
    exists), ``lines_received`` (consecutive lines from 1), ``line_data_problem`` (a gap, a
    duplicate, a missing number or no line 1), first progression and last assessment on or
    after first-line start.
``study_base``
    one row per diagnosis: every field of :data:`nenstudy.study.fields.STUDY_FIELDS` plus the
    registry keys; the table cohort expressions run on.
``study_tte``
    one row per patient and endpoint (``OS``, ``PFS``) of the endpoint's population: origin
    and end dates, days, ``aval`` in months (days / 30.4375) and ``cnsr`` (0 event, 1 censored).

Conventions (documented in docs/study-format.md):

* OS: origin (diagnosis, MDT or first-line start) to death; alive patients censored at last
  contact; a patient who died on the day of last contact is an event (vital status decides).
* PFS: first-line start to the earliest progression recorded on any systemic line, or death,
  whichever is first; otherwise censored at the last tumour assessment on or after first-line
  start (``censor = "last_assessment"``), or, when none is recorded, at last contact or at the
  origin (``no_assessment``); ``censor = "last_contact"`` censors everyone at last contact.
  A progression dated after an earlier line's last assessment is still an event.
"""

from __future__ import annotations

import duckdb

from nenstudy.study.definition import RegimenClass, StudyDefinition

__all__ = [
    "DAYS_PER_MONTH",
    "regimen_class_sql",
    "build_treatment_lines",
    "build_study_base",
    "build_endpoints",
]

DAYS_PER_MONTH = 30.4375
"""Days per month: months = days / 30.4375 (365.25 / 12)."""


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _list(tokens: tuple[str, ...]) -> str:
    return "[" + ", ".join(_lit(t) for t in tokens) + "]::VARCHAR[]"


def regimen_class_sql(classes: tuple[RegimenClass, ...], other: str, agents: str = "agents") -> str:
    """Return the SQL CASE that maps a line's agent list to its regimen class.

    Parameters
    ----------
    classes : tuple of RegimenClass
        Ordered rules; the first class whose conditions hold wins.
    other : str
        Class of a line whose agents match no rule.
    agents : str
        SQL expression of the agent list (``VARCHAR[]``).

    Returns
    -------
    str
        A CASE expression giving NULL when the agent list is NULL or empty.
    """
    whens = []
    for rule in classes:
        conditions = []
        if rule.all_of:
            conditions.append(f"list_has_all({agents}, {_list(rule.all_of)})")
        if rule.any_of:
            conditions.append(f"list_has_any({agents}, {_list(rule.any_of)})")
        if rule.none_of:
            conditions.append(f"NOT list_has_any({agents}, {_list(rule.none_of)})")
        whens.append(f"WHEN {' AND '.join(conditions)} THEN {_lit(rule.name)}")
    return (
        f"CASE WHEN {agents} IS NULL OR len({agents}) = 0 THEN NULL "
        f"{' '.join(whens)} ELSE {_lit(other)} END"
    )


def build_treatment_lines(con: duckdb.DuckDBPyConnection, study: StudyDefinition) -> None:
    """Create ``study_lines`` and ``patient_lines`` from the registry's systemic treatments.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection with the store attached as ``reg``.
    study : StudyDefinition
        Supplies the regimen class rules.
    """
    regimen = regimen_class_sql(study.treatment.regimen_classes, study.treatment.other_class)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE study_lines AS
        SELECT patient_id, line, start_date, end_date, best_response, progression_date,
               last_assessment_date, {regimen} AS regimen_class
        FROM reg.treatments
        WHERE modality = 'systemic'
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE patient_lines AS
        WITH counts AS (
            SELECT patient_id,
                   count(*) AS n_rows,
                   count(line) AS n_numbered,
                   count(DISTINCT line) AS n_distinct,
                   max(line) AS max_line,
                   count(*) FILTER (WHERE line = 1) AS n_line1
            FROM study_lines GROUP BY patient_id
        ),
        prefix AS (
            SELECT patient_id, count(*) AS consecutive
            FROM (SELECT DISTINCT patient_id, line,
                         dense_rank() OVER (PARTITION BY patient_id ORDER BY line) AS rank_
                  FROM study_lines WHERE line IS NOT NULL)
            WHERE line = rank_
            GROUP BY patient_id
        ),
        first AS (
            SELECT l.patient_id, l.start_date, l.end_date, l.regimen_class, l.best_response,
                   l.progression_date
            FROM study_lines l JOIN counts c USING (patient_id)
            WHERE l.line = 1 AND c.n_line1 = 1
        ),
        after_first AS (
            SELECT l.patient_id,
                   min(l.progression_date) FILTER (WHERE l.progression_date >= f.start_date)
                       AS first_progression_date,
                   max(l.last_assessment_date) FILTER (WHERE l.last_assessment_date >= f.start_date)
                       AS last_assessment_date
            FROM study_lines l JOIN first f USING (patient_id)
            WHERE l.line >= 1
            GROUP BY l.patient_id
        )
        SELECT c.patient_id,
               f.start_date AS first_line_start,
               f.end_date AS first_line_end,
               f.regimen_class AS first_line_regimen,
               f.best_response AS first_line_best_response,
               f.progression_date AS first_line_progression_date,
               CASE WHEN c.n_line1 = 1 THEN coalesce(p.consecutive, 0) ELSE 0 END AS lines_received,
               NOT (c.n_line1 = 1 AND c.n_numbered = c.n_rows AND c.n_distinct = c.n_rows
                    AND c.max_line = c.n_rows) AS line_data_problem,
               a.first_progression_date,
               a.last_assessment_date
        FROM counts c
        LEFT JOIN prefix p USING (patient_id)
        LEFT JOIN first f USING (patient_id)
        LEFT JOIN after_first a USING (patient_id)
        """
    )


def build_study_base(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``study_base``: one row per diagnosis with every study field.

    Requires ``patient_lines`` (:func:`build_treatment_lines`).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection with the store attached as ``reg``.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE study_base AS
        SELECT d.diagnosis_id, d.patient_id,
               d.diagnosis_date, d.mdt_date, d.primary_site, d.site_group, d.site_group_reported,
               d.morphology, d.differentiation, d.cell_type,
               CAST(d.ki67_pct AS DOUBLE) AS ki67_pct,
               CAST(d.mitoses_per_2mm2 AS DOUBLE) AS mitoses_per_2mm2,
               CAST(d.non_ne_component_pct AS DOUBLE) AS non_ne_component_pct, d.necrosis,
               d.who_category, d.who_category_reported, d.stage, d.resectable,
               d.metastases_timing,
               d.ecog_ps, d.karnofsky, d.pure_histology, d.advanced, d.metastatic,
               p.sex, p.birth_date,
               date_diff('day', p.birth_date, d.diagnosis_date) / 365.25 AS age_at_diagnosis,
               f.last_contact_date, f.vital_status, f.death_date,
               pl.first_line_start, pl.first_line_end, pl.first_line_regimen,
               pl.first_line_best_response, pl.first_line_progression_date,
               coalesce(pl.lines_received, 0) AS lines_received,
               coalesce(pl.line_data_problem, FALSE) AS line_data_problem,
               pl.first_progression_date, pl.last_assessment_date,
               EXISTS (SELECT 1 FROM reg.molecular_tests m WHERE m.patient_id = d.patient_id)
                   AS molecular_profiled
        FROM reg.diagnoses d
        JOIN reg.patients p ON p.patient_id = d.patient_id
        LEFT JOIN reg.follow_up f ON f.patient_id = d.patient_id
        LEFT JOIN patient_lines pl ON pl.patient_id = d.patient_id
        """
    )


def _origin_column(origin: str) -> str:
    return {"diagnosis": "diagnosis_date", "mdt": "mdt_date", "first_line_start": "first_line_start"}[origin]


def build_endpoints(con: duckdb.DuckDBPyConnection, study: StudyDefinition) -> None:
    """Create ``study_tte``: OS and PFS per patient of each endpoint's population.

    Requires ``study_base`` and ``cohort`` (with a boolean ``in_<population>`` column per
    population). Rows whose origin or end date is missing, or whose end precedes the origin,
    get ``aval`` NULL and a ``problem`` text; analyses leave them out and report them.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection.
    study : StudyDefinition
        Supplies origins, populations and the PFS censoring rules.
    """
    os_ep = study.endpoints["os"]
    pfs_ep = study.endpoints["pfs"]
    os_origin = _origin_column(os_ep.origin)
    pfs_origin = _origin_column(pfs_ep.origin)
    if pfs_ep.censor == "last_contact":
        pfs_censor = "b.last_contact_date"
    elif pfs_ep.no_assessment == "last_contact":
        pfs_censor = "coalesce(b.last_assessment_date, b.last_contact_date)"
    else:
        pfs_censor = f"coalesce(b.last_assessment_date, b.{pfs_origin})"
    if pfs_ep.censor == "last_contact":
        pfs_censor_text = "'censored at last contact'"
    else:
        fallback = "last contact" if pfs_ep.no_assessment == "last_contact" else "origin"
        pfs_censor_text = (
            "CASE WHEN b.last_assessment_date IS NULL "
            f"THEN 'censored at {fallback} (no assessment recorded)' "
            "ELSE 'censored at last assessment' END"
        )
    dead = "(b.vital_status = 'dead')"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE study_tte_raw AS
        SELECT c.usubjid, 'OS' AS paramcd, b.{os_origin} AS startdt,
               CASE WHEN {dead} THEN b.death_date ELSE b.last_contact_date END AS adt,
               CASE WHEN {dead} THEN 0 ELSE 1 END AS cnsr,
               CASE WHEN {dead} THEN 'death' ELSE 'alive at last contact' END AS evntdesc,
               b.vital_status IS NULL AS no_follow_up
        FROM cohort c JOIN study_base b USING (diagnosis_id)
        WHERE c.in_{os_ep.population}
        UNION ALL
        SELECT c.usubjid, 'PFS', b.{pfs_origin},
               CASE WHEN b.first_progression_date IS NOT NULL OR {dead}
                    THEN least(b.first_progression_date, CASE WHEN {dead} THEN b.death_date END)
                    ELSE {pfs_censor} END,
               CASE WHEN b.first_progression_date IS NOT NULL OR {dead} THEN 0 ELSE 1 END,
               CASE WHEN b.first_progression_date IS NOT NULL
                         AND (NOT {dead} OR b.first_progression_date <= b.death_date) THEN 'progression'
                    WHEN {dead} THEN 'death'
                    ELSE {pfs_censor_text} END,
               b.vital_status IS NULL
        FROM cohort c JOIN study_base b USING (diagnosis_id)
        WHERE c.in_{pfs_ep.population}
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE study_tte AS
        SELECT usubjid, paramcd, startdt, adt, cnsr, evntdesc,
               CASE WHEN no_follow_up THEN 'no follow-up record'
                    WHEN startdt IS NULL THEN 'origin date missing'
                    WHEN adt IS NULL AND cnsr = 0 THEN 'death date missing'
                    WHEN adt IS NULL THEN 'end date missing'
                    WHEN adt < startdt THEN 'end date before origin' END AS problem,
               CASE WHEN NOT no_follow_up AND adt >= startdt THEN date_diff('day', startdt, adt) END AS days,
               CASE WHEN NOT no_follow_up AND adt >= startdt
                    THEN date_diff('day', startdt, adt) / {DAYS_PER_MONTH} END AS aval
        FROM study_tte_raw
        """
    )
