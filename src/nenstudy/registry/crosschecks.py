"""Checks across rows and tables of a registry being validated: keys, references, date logic.

They run on the views ``typed_<table>`` that :func:`nenstudy.registry.validation.validate_into`
makes over the typed tables, and insert what they find into the temporary table ``_problems``
(severity, file, row, column, value, rule, message).
"""

from __future__ import annotations

import duckdb

from nenstudy.registry import sql
from nenstudy.registry.schema import AGE_RANGE_YEARS, DAYS_PER_YEAR, SCHEMA, Table

__all__ = ["run_cross_checks", "insert_problems"]

MAX_SHOWN_ROWS = 5
"""At most this many row numbers are listed in one message (then ``...``)."""


def insert_problems(con: duckdb.DuckDBPyConnection, select: str) -> None:
    """Insert problems selected as (severity, _file, _row, column, value, rule, message)."""
    con.execute(f"INSERT INTO _problems {select}")


def _unique_key_checks(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    key = table.key[0]
    k = sql.ident(key)
    # Count per key first (no lists: nearly every key is unique); rows only for repeated keys.
    insert_problems(
        con,
        f"""
        WITH dup AS (
            SELECT {k} AS key FROM typed_{table.name} WHERE {k} IS NOT NULL
            GROUP BY {k} HAVING count(*) > 1
        ), hit AS (
            SELECT t._file, t._row, t.{k} AS key FROM typed_{table.name} t SEMI JOIN dup
            ON t.{k} = dup.key
        ), listed AS (
            SELECT key, count(*) AS n, list_sort(list(_row))[1:{MAX_SHOWN_ROWS}] AS rows
            FROM hit GROUP BY key
        )
        SELECT 'error', h._file, h._row, {sql.literal(key)}, h.key, 'unique',
               'duplicate {key}: ' || CAST(l.n AS VARCHAR) || ' rows have this value (rows '
               || array_to_string(l.rows, ', ')
               || CASE WHEN l.n > {MAX_SHOWN_ROWS} THEN ', ...' ELSE '' END || ')'
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
        insert_problems(
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
        insert_problems(
            con,
            """
            SELECT 'error', p._file, p._row, 'patient_id', p.patient_id, 'follow_up.missing',
                   'the patient has no row in follow_up (exactly one is required)'
            FROM typed_patients p ANTI JOIN typed_follow_up f ON p.patient_id = f.patient_id
            WHERE p.patient_id IS NOT NULL
            """,
        )
    if {"patients", "diagnoses"} <= available:
        insert_problems(
            con,
            """
            SELECT 'warning', p._file, p._row, 'patient_id', p.patient_id, 'diagnosis.missing',
                   'the patient has no diagnosis'
            FROM typed_patients p ANTI JOIN typed_diagnoses d ON p.patient_id = d.patient_id
            WHERE p.patient_id IS NOT NULL
            """,
        )
        lo, hi = AGE_RANGE_YEARS
        insert_problems(
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
        insert_problems(
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
                       list_sort(list(_row))[1:{MAX_SHOWN_ROWS + 1}] AS rows
                FROM hit GROUP BY ALL
            )
            SELECT 'warning', s._file, s._row, 'patient_id', s.patient_id, 'duplicate_patient',
                   'possibly the same person as patients row(s) '
                   || array_to_string(list_filter(r.rows, lambda x: x <> s._row)[1:{MAX_SHOWN_ROWS}],
                                      ', ')
                   || CASE WHEN r.n - 1 > {MAX_SHOWN_ROWS} THEN ', ...' ELSE '' END
                   || ' (same sex, birth date, first diagnosis date and primary site)'
            FROM hit s JOIN listed r
              ON s.sex = r.sex AND s.birth_date = r.birth_date AND s.dx_date = r.dx_date
             AND s.site IS NOT DISTINCT FROM r.site
            """,
        )
    if {"diagnoses", "treatments"} <= available:
        insert_problems(
            con,
            """
            SELECT 'error', t._file, t._row, 'diagnosis_id', t.diagnosis_id, 'foreign_key',
                   'the diagnosis belongs to another patient (diagnoses row '
                   || CAST(d._row AS VARCHAR) || ')'
            FROM typed_treatments t JOIN typed_diagnoses d ON t.diagnosis_id = d.diagnosis_id
            WHERE t.patient_id <> d.patient_id
            """,
        )
        insert_problems(
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
        insert_problems(
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
            insert_problems(
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
    insert_problems(
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


def run_cross_checks(con: duckdb.DuckDBPyConnection, available: set[str]) -> None:
    """Run every check across rows and tables on the tables in ``available``.

    Parameters
    ----------
    con
        The validation connection, with the views ``typed_<table>`` and the table ``_problems``.
    available
        Names of the tables whose file was read (the others are empty).
    """
    for table in SCHEMA:
        if table.name in available:
            _unique_key_checks(con, table)
    _foreign_key_checks(con, available)
    _patient_level_checks(con, available)
    if "treatments" in available:
        _line_checks(con)
