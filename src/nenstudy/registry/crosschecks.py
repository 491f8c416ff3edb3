"""Checks across rows and tables of a registry being validated: keys, references, date logic.

They run on the views ``typed_<table>`` that :func:`nenstudy.registry.validation.validate_into`
makes over the typed tables, and insert what they find into the temporary table ``_problems``
(severity, file, row, column, value, rule, message).

Most checks are about one patient's rows across tables. One aggregation per patient of each table,
joined (:func:`_patient_facts`), and one join of treatments to their diagnoses
(:func:`_treatment_facts`) count, per check, the patients (or treatments) that may break it;
the query that lists a check's problems row by row runs only when that count is not zero. A clean
registry therefore costs a few aggregations instead of a dozen joins, and a registry with problems
gets exactly the listing each check's own query gives. Each count is a superset condition: it is
zero only when the check's own query would find nothing.

What needs only the treatments and the molecular tests (their per-patient first and last dates,
the line numbers) is done beforehand, in the reading lane that runs out of files first
(:func:`prepare_in_lane`, see :class:`nenstudy.registry.sources.LaneTask`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import duckdb

from nenstudy.registry import sql
from nenstudy.registry.schema import AGE_RANGE_YEARS, DAYS_PER_YEAR, SCHEMA, Table

__all__ = ["run_cross_checks", "insert_problems", "repeated_key_hashes",
           "own_key_is_checked_apart", "LaneFacts", "prepare_in_lane", "LANE_TABLES",
           "EVENTS_TABLE"]

MAX_SHOWN_ROWS = 5
"""At most this many row numbers are listed in one message (then ``...``)."""



def insert_problems(con: duckdb.DuckDBPyConnection, select: str) -> None:
    """Insert problems selected as (severity, _file, _row, column, value, rule, message)."""
    con.execute(f"INSERT INTO _problems {select}")


# --------------------------------------------------------------------------- gates


FEMALE_SITES = ("C51", "C59")
"""Topographies from ``C51`` up to (not including) ``C59``: female genital organs."""

MALE_SITES = ("C60", "C64")
"""Topographies from ``C60`` up to (not including) ``C64``: male genital organs."""


def _site_of_sex(column: str, sites: tuple[str, str]) -> str:
    """SQL: whether the topography ``column`` is one of a sex's organs (``sites``)."""
    return f"({column} >= '{sites[0]}' AND {column} < '{sites[1]}')"


def _dx_per_patient(semi_join: str = "", sexed_sites: bool = False) -> str:
    """SQL: per patient with a diagnosis, the first and last diagnosis and the first's site.

    ``semi_join`` restricts the diagnoses read (e.g. to some patients) before they are grouped.
    ``sexed_sites`` adds whether any diagnosis is of a female (``female_site``) or a male
    (``male_site``) genital organ.
    """
    sexed = (f", bool_or({_site_of_sex('primary_site', FEMALE_SITES)}) AS female_site, "
             f"bool_or({_site_of_sex('primary_site', MALE_SITES)}) AS male_site"
             if sexed_sites else "")
    # date and row (< 2^32) in one integer: ties on a date go to the first row, the same every run
    return f"""
        SELECT patient_id, count(*) AS n_diagnoses, min(diagnosis_date) AS first_dx,
               arg_min(primary_site,
                       (diagnosis_date - DATE '1970-01-01') * 4294967296 + _row) AS first_site,
               max(diagnosis_date) AS last_dx,
               arg_max(_row, (diagnosis_date - DATE '1970-01-01') * 4294967296 - _row)
                   AS last_dx_row,
               max(greatest(diagnosis_date, mdt_date)) AS dx_event{sexed}
        FROM typed_diagnoses {semi_join} WHERE patient_id IS NOT NULL GROUP BY patient_id
    """


_FACT_NAMES = ("orphans", "repeated_patients", "repeated_follow_up", "follow_up_missing",
               "diagnosis_missing", "diagnosis_vs_birth", "death_before_diagnosis",
               "late_last_contact", "treated_after_death", "tested_after_death",
               "event_before_birth", "site_of_other_sex")


_TREATMENT_DATES = ("start_date", "end_date", "progression_date", "last_assessment_date")


def _events_by_patient(treatments: str, molecular_tests: str) -> str:
    """SQL: per patient, the latest treatment date (``treated_until``), the latest test date
    (``tested_until``) and the earliest of either (``first_event``)."""
    dates = ", ".join(_TREATMENT_DATES)
    return f"""
        SELECT patient_id, max(treated) AS treated_until, max(tested) AS tested_until,
               min(earliest) AS first_event
        FROM (
            SELECT patient_id, greatest({dates}) AS treated, CAST(NULL AS DATE) AS tested,
                   least({dates}) AS earliest
            FROM {treatments} WHERE patient_id IS NOT NULL
            UNION ALL
            SELECT patient_id, NULL, test_date, test_date
            FROM {molecular_tests} WHERE patient_id IS NOT NULL
        ) GROUP BY patient_id
    """


LANE_TABLES = ("treatments", "molecular_tests")
"""The tables :func:`prepare_in_lane` needs read."""

EVENTS_TABLE = "main._events_by_patient"
"""The table of each patient's latest treatment and test dates that :func:`prepare_in_lane`
makes (in the work database, seen by every cursor; dropped by :func:`run_cross_checks`)."""


@dataclass(frozen=True)
class LaneFacts:
    """What :func:`prepare_in_lane` found out before the cross-table checks.

    Its table of each patient's treatment and test dates is :data:`EVENTS_TABLE`.

    Attributes
    ----------
    lines_1_to_k
        Whether every patient's systemic lines are exactly 1, 2, ..., k, each once.
    """

    lines_1_to_k: bool


def prepare_in_lane(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> LaneFacts:
    """The part of the cross-table checks that needs only treatments and molecular tests.

    Run in a reading lane once those two tables are read (``tables``: the table each was read
    into), while the other lane still reads: the lane would otherwise wait idle for it. It
    aggregates the two tables per patient into :data:`EVENTS_TABLE` (latest treatment and test
    dates, earliest of either) and checks the line
    numbers (see :func:`_lines_are_1_to_k`), work the cross-table checks then skip.
    """
    treatments, molecular = tables["treatments"], tables["molecular_tests"]
    lines = _lines_are_1_to_k(con, treatments)
    con.execute(f"CREATE OR REPLACE TABLE {EVENTS_TABLE} AS "
                f"{_events_by_patient(treatments, molecular)}")
    return LaneFacts(lines_1_to_k=lines)


def _patient_facts(con: duckdb.DuckDBPyConnection, events: str | None = None) -> dict[str, int]:
    """Aggregate each table per patient, join; return, per check, how many patients may break it.

    One statement, whose per-patient rows are never stored: it creates the temporary table
    ``_facts`` holding the counts (the same on every row) and, one per row, the patients whose
    signature (sex, birth date, first diagnosis date and site) is shared by another patient,
    the candidates of :func:`_duplicate_patients` (no row has a patient when none is shared).
    Also creates the view ``_dx_by_patient`` (first and last diagnosis, first primary site, the
    row of the last diagnosis) that the listing queries use. Tables whose file was not read are
    empty views, so every part of the query has its table.

    ``events``: a table of each patient's treatment and test dates made beforehand
    (:func:`prepare_in_lane`), instead of aggregating those rows here.
    """
    lo, hi = AGE_RANGE_YEARS
    age = f"datediff('day', birth_date, {{}}) / {DAYS_PER_YEAR}"
    # With a repeated patient or follow-up row, any_value picked one of them: the checks that
    # read those values are then always listed by their own queries.
    conditions = (
        "n_patient_rows = 0 AND has_child_rows",
        "n_patient_rows > 1",
        "n_follow_up_rows > 1",
        "n_patient_rows > 0 AND n_follow_up_rows = 0",
        "n_patient_rows > 0 AND n_diagnoses = 0",
        f"n_patient_rows > 0 AND (first_dx <= birth_date OR {age.format('first_dx')} < {lo} "
        f"OR {age.format('last_dx')} > {hi})",
        "death_date < last_dx",
        "last_contact_date < latest_event",
        "death_date < treated_until",
        "death_date < tested_until",
        "first_event < birth_date",
        "(sex = 'M' AND female_site) OR (sex = 'F' AND male_site)",
    )
    counts = ", ".join(f"count(*) FILTER (WHERE {c}) AS {n}"
                       for n, c in zip(_FACT_NAMES, conditions))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _facts AS
        WITH p AS (
            SELECT patient_id, count(*) AS n_patient_rows, any_value(birth_date) AS birth_date,
                   any_value(sex) AS sex,
                   any_value(CASE WHEN sex IS NOT NULL AND birth_date IS NOT NULL
                                  THEN hash(sex, birth_date) END) AS person
            FROM typed_patients WHERE patient_id IS NOT NULL GROUP BY patient_id
        ), f AS (
            SELECT patient_id, count(*) AS n_follow_up_rows,
                   any_value(last_contact_date) AS last_contact_date,
                   any_value(death_date) AS death_date
            FROM typed_follow_up WHERE patient_id IS NOT NULL GROUP BY patient_id
        ), dx AS ({_dx_per_patient(sexed_sites=True)}
        ), events AS (
            {f"SELECT * FROM {events}" if events else
             _events_by_patient("typed_treatments", "typed_molecular_tests")}
        ), by_patient AS MATERIALIZED (
            -- One small aggregation per table, joined: cheaper (and lighter on memory) than one
            -- aggregation of all tables' rows with every table's aggregates.
            SELECT patient_id,
                   coalesce(n_patient_rows, 0) AS n_patient_rows,
                   coalesce(n_diagnoses, 0) AS n_diagnoses,
                   coalesce(n_follow_up_rows, 0) AS n_follow_up_rows,
                   (f.patient_id IS NOT NULL OR dx.patient_id IS NOT NULL
                    OR events.patient_id IS NOT NULL) AS has_child_rows,
                   birth_date, person, first_dx, first_site, last_dx,
                   -- treatments and tests after death are named as such, not also here
                   greatest(dx_event, least(treated_until, death_date),
                            least(tested_until, death_date)) AS latest_event,
                   treated_until, tested_until, first_event, last_contact_date, death_date,
                   sex, female_site, male_site
            FROM p FULL JOIN f USING (patient_id) FULL JOIN dx USING (patient_id)
                   FULL JOIN events USING (patient_id)
        ), signed AS (
            SELECT patient_id, hash(person, first_dx, first_site) AS h
            FROM by_patient
            WHERE n_patient_rows = 1 AND person IS NOT NULL AND first_dx IS NOT NULL
        ), shared AS (
            SELECT patient_id FROM signed
            WHERE h IN (SELECT h FROM signed GROUP BY h HAVING count(*) > 1)
        )
        SELECT s.patient_id, c.*
        FROM (SELECT {counts} FROM by_patient) c LEFT JOIN shared s ON true
        """
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW _dx_by_patient AS {_dx_per_patient()}")
    row = con.execute(
        f"SELECT {', '.join(f'any_value({n})' for n in _FACT_NAMES)}, count(patient_id) "
        "FROM _facts"
    ).fetchone()
    assert row is not None
    return dict(zip((*_FACT_NAMES, "shared_signatures"), (int(c) for c in row)))


def _treatment_facts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Join treatments to their diagnoses once; count the treatments each check may flag."""
    counts = con.execute(
        """
        SELECT count(*) FILTER (WHERE t.diagnosis_id IS NOT NULL AND d.hit IS NULL),
               count(*) FILTER (WHERE t.patient_id <> d.patient_id),
               count(*) FILTER (WHERE d.patient_id = t.patient_id
                                AND t.start_date < d.diagnosis_date),
               count(*) FILTER (WHERE t.start_date IS NOT NULL
                                AND (d.hit IS NULL OR d.diagnosis_date IS NULL
                                     OR d.patient_id IS DISTINCT FROM t.patient_id))
        FROM typed_treatments t
        LEFT JOIN (SELECT diagnosis_id, patient_id, diagnosis_date, true AS hit
                   FROM typed_diagnoses) d ON t.diagnosis_id = d.diagnosis_id
        """
    ).fetchone()
    assert counts is not None
    names = ("orphan_diagnosis_ids", "other_patient", "early_start", "start_without_own_dx")
    return dict(zip(names, (int(c) for c in counts)))


# --------------------------------------------------------------------------- listings


def repeated_key_hashes(con: duckdb.DuckDBPyConnection, table: Table,
                        relation: str | None = None) -> int:
    """How many hash values of ``table``'s key are shared by several rows (0: no key repeats).

    Equal keys have equal hashes, so 0 rules out a repeated key; grouping 64-bit integers costs
    less than grouping the key text. Shared hashes (a repeated key, or rarely a collision) send
    the table to :func:`_unique_key_checks`, whose listing compares the keys themselves.
    ``relation``: the table's rows (default: its ``typed_<table>`` view).
    """
    k = sql.ident(table.key[0])
    row = con.execute(
        f"SELECT count(*) FROM (SELECT hash({k}) AS h FROM {relation or 'typed_' + table.name} "
        f"WHERE {k} IS NOT NULL GROUP BY h HAVING count(*) > 1)"
    ).fetchone()
    return int(row[0]) if row else 0


def own_key_is_checked_apart(table: Table) -> bool:
    """Whether ``table``'s key is checked by :func:`repeated_key_hashes` (not by the
    per-patient facts, which count the rows of the tables keyed by ``patient_id``)."""
    return table.key != ("patient_id",)


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


def _orphan_rows(
    con: duckdb.DuckDBPyConnection, target: str, target_column: str,
    children: list[tuple[str, str]],
) -> None:
    """Rows of ``children`` (table, column) whose value is not a ``target_column`` of ``target``.

    One anti join for all children: the target's keys are hashed once.
    """
    union = " UNION ALL ".join(
        f"SELECT _file, _row, {sql.literal(column)} AS col, {sql.ident(column)} AS ref "
        f"FROM typed_{child} WHERE {sql.ident(column)} IS NOT NULL"
        for child, column in children
    )
    key = sql.ident(target_column)
    # An identifier written in another case or without its leading zeros (Excel drops them)
    # is named as such: looked for only among the keys that match an orphan so normalised.
    norm = "lower(regexp_replace({}, '^0+', ''))"
    insert_problems(
        con,
        f"""
        WITH o AS (
            SELECT s.* FROM ({union}) s ANTI JOIN typed_{target} t ON s.ref = t.{key}
        ), near AS (
            SELECT DISTINCT {norm.format('t.' + key)} AS k FROM typed_{target} t
            SEMI JOIN (SELECT DISTINCT {norm.format('ref')} AS k FROM o) w
                ON {norm.format('t.' + key)} = w.k
        )
        SELECT 'error', o._file, o._row, o.col, o.ref, 'foreign_key',
               'no row with this {target_column} in {target} (orphan row)'
               || CASE WHEN {norm.format('o.ref')} IN (SELECT k FROM near)
                  THEN '; one differing only in upper/lower case or leading zeros exists: '
                       || 'the same identifier written differently?' ELSE '' END
        FROM o
        """,
    )


def _patients_without(
    con: duckdb.DuckDBPyConnection, table: str, severity: str, rule: str, message: str
) -> None:
    """Patients with no row in ``table``."""
    insert_problems(
        con,
        f"""
        SELECT {sql.literal(severity)}, p._file, p._row, 'patient_id', p.patient_id,
               {sql.literal(rule)}, {sql.literal(message)}
        FROM typed_patients p ANTI JOIN typed_{table} t ON p.patient_id = t.patient_id
        WHERE p.patient_id IS NOT NULL
        """,
    )


def _diagnosis_vs_birth(con: duckdb.DuckDBPyConnection) -> None:
    """Diagnosis on or before the birth date; age at diagnosis outside the plausible range."""
    lo, hi = AGE_RANGE_YEARS
    insert_problems(
        con,
        f"""
        SELECT 'error', d._file, d._row, 'diagnosis_date', strftime(d.diagnosis_date, '%Y-%m-%d'),
               'date_order', 'diagnosis date not after the birth date '
               || strftime(p.birth_date, '%Y-%m-%d') || ' (' || p._file || ' row '
               || CAST(p._row AS VARCHAR) || ')'
        FROM typed_diagnoses d JOIN typed_patients p ON d.patient_id = p.patient_id
        WHERE d.diagnosis_date <= p.birth_date
        UNION ALL
        SELECT 'error', d._file, d._row, 'diagnosis_date', strftime(d.diagnosis_date, '%Y-%m-%d'),
               'range', 'age at diagnosis ' || CAST(round(age, 1) AS VARCHAR)
               || ' years is outside {lo:g}-{hi:g} (birth date in ' || p_file || ' row '
               || CAST(p_row AS VARCHAR) || ')'
        FROM (
            SELECT d.*, p._row AS p_row, p._file AS p_file,
                   datediff('day', p.birth_date, d.diagnosis_date) / {DAYS_PER_YEAR} AS age
            FROM typed_diagnoses d JOIN typed_patients p ON d.patient_id = p.patient_id
            WHERE d.diagnosis_date > p.birth_date
        ) d
        WHERE age < {lo} OR age > {hi}
        """,
    )


def _site_of_other_sex(con: duckdb.DuckDBPyConnection) -> None:
    """A primary site of the genital organs of the other sex than the patient's (a warning:
    the sex recorded may be another than the one at birth)."""
    organs = (f"CASE WHEN {_site_of_sex('d.primary_site', FEMALE_SITES)} THEN 'female' "
              "ELSE 'male' END")
    insert_problems(
        con,
        f"""
        SELECT 'warning', d._file, d._row, 'primary_site', d.primary_site, 'site.sex',
               'a site of the ' || {organs} || ' genital organs, but the patient is recorded '
               || 'as ' || CASE p.sex WHEN 'F' THEN 'female' ELSE 'male' END || ' (' || p._file
               || ' row ' || CAST(p._row AS VARCHAR) || '): check the site or the sex'
        FROM typed_diagnoses d JOIN typed_patients p ON d.patient_id = p.patient_id
        WHERE (p.sex = 'M' AND {_site_of_sex('d.primary_site', FEMALE_SITES)})
           OR (p.sex = 'F' AND {_site_of_sex('d.primary_site', MALE_SITES)})
        """,
    )


def _duplicate_patients(con: duckdb.DuckDBPyConnection, *, every_patient: bool) -> None:
    """Different patient_ids with the same sex, birth date, first diagnosis date and site.

    Unless ``every_patient``, only the patients of ``_facts`` (whose signature hash is shared,
    see :func:`_patient_facts`) are compared; the exact comparison below then drops hash
    collisions. With one row per patient that signature is the one compared here.
    """
    candidates, per_patient = "", "_dx_by_patient"
    if not every_patient:
        shared = "(SELECT patient_id FROM _facts WHERE patient_id IS NOT NULL)"
        candidates = f"SEMI JOIN {shared} c ON p.patient_id = c.patient_id"
        per_patient = f"({_dx_per_patient(f'SEMI JOIN {shared} c USING (patient_id)')})"
    insert_problems(
        con,
        f"""
        WITH first_dx AS (
            SELECT patient_id, first_dx AS dx_date, first_site AS site
            FROM {per_patient} WHERE first_dx IS NOT NULL
        ), sig AS MATERIALIZED (
            SELECT p._file, p._row, p.patient_id, p.sex, p.birth_date, f.dx_date, f.site
            FROM typed_patients p {candidates}
            JOIN first_dx f ON p.patient_id = f.patient_id
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
               'possibly the same person as ' || s._file || ' row(s) '
               || array_to_string(list_filter(r.rows, lambda x: x <> s._row)[1:{MAX_SHOWN_ROWS}],
                                  ', ')
               || CASE WHEN r.n - 1 > {MAX_SHOWN_ROWS} THEN ', ...' ELSE '' END
               || ' (same sex, birth date, first diagnosis date and primary site)'
        FROM hit s JOIN listed r
          ON s.sex = r.sex AND s.birth_date = r.birth_date AND s.dx_date = r.dx_date
         AND s.site IS NOT DISTINCT FROM r.site
        """,
    )


def _treatment_of_other_patient(con: duckdb.DuckDBPyConnection) -> None:
    insert_problems(
        con,
        """
        SELECT 'error', t._file, t._row, 'diagnosis_id', t.diagnosis_id, 'foreign_key',
               'the diagnosis belongs to another patient (' || d._file || ' row '
               || CAST(d._row AS VARCHAR) || ')'
        FROM typed_treatments t JOIN typed_diagnoses d ON t.diagnosis_id = d.diagnosis_id
        WHERE t.patient_id <> d.patient_id
        """,
    )


def _treatment_before_diagnosis(con: duckdb.DuckDBPyConnection) -> None:
    """Start before the treated diagnosis (or, without one, before the first diagnosis)."""
    insert_problems(
        con,
        """
        WITH first_dx AS (SELECT patient_id, first_dx AS dx_date FROM _dx_by_patient)
        SELECT 'error', t._file, t._row, 'start_date', strftime(t.start_date, '%Y-%m-%d'),
               'date_order',
               'start date before the diagnosis date '
               || strftime(coalesce(d.diagnosis_date, f.dx_date), '%Y-%m-%d')
        FROM typed_treatments t
        LEFT JOIN typed_diagnoses d ON t.diagnosis_id = d.diagnosis_id
                                   AND t.patient_id = d.patient_id
        LEFT JOIN first_dx f ON t.patient_id = f.patient_id
        WHERE t.start_date < coalesce(d.diagnosis_date, f.dx_date)
        """,
    )


def _death_before_diagnosis(con: duckdb.DuckDBPyConnection) -> None:
    insert_problems(
        con,
        """
        WITH last_dx AS (
            SELECT patient_id, last_dx AS dx_date, last_dx_row AS r FROM _dx_by_patient
        )
        SELECT 'error', f._file, f._row, 'death_date', strftime(f.death_date, '%Y-%m-%d'),
               'date_order',
               'death date before the diagnosis date ' || strftime(l.dx_date, '%Y-%m-%d')
               || ' (' || (SELECT _file FROM typed_diagnoses LIMIT 1) || ' row '
               || CAST(l.r AS VARCHAR) || ')'
        FROM typed_follow_up f JOIN last_dx l ON f.patient_id = l.patient_id
        WHERE f.death_date < l.dx_date
        """,
    )


def _events_after_death(con: duckdb.DuckDBPyConnection, available: set[str]) -> None:
    """Treatments dated after the patient's death (errors; the row's first such date), and
    molecular tests dated after it (warnings: archival tissue may be tested after death)."""
    parts = []
    if "treatments" in available:
        def first_late(then: str) -> str:
            return "CASE " + " ".join(f"WHEN t.{c} > f.death_date THEN {then.format(c=c)}"
                                      for c in _TREATMENT_DATES) + " END"
        parts.append(f"""
            SELECT 'error', _file, _row, col, strftime(late, '%Y-%m-%d'), 'date_order',
                   'treatment date after the death date ' || strftime(death_date, '%Y-%m-%d')
                   || ' (' || f_file || ' row ' || CAST(f_row AS VARCHAR) || ')'
            FROM (SELECT t._file, t._row, f.death_date, f._row AS f_row, f._file AS f_file,
                         {first_late("'{c}'")} AS col, {first_late("t.{c}")} AS late
                  FROM typed_treatments t JOIN typed_follow_up f ON t.patient_id = f.patient_id
                  WHERE greatest({", ".join(f"t.{c}" for c in _TREATMENT_DATES)})
                        > f.death_date)""")
    if "molecular_tests" in available:
        parts.append("""
            SELECT 'warning', m._file, m._row, 'test_date', strftime(m.test_date, '%Y-%m-%d'),
                   'date_order', 'test date after the death date '
                   || strftime(f.death_date, '%Y-%m-%d') || ' (' || f._file || ' row '
                   || CAST(f._row AS VARCHAR) || '): archival tissue tested after death, or '
                   || 'a wrong date?'
            FROM typed_molecular_tests m JOIN typed_follow_up f ON m.patient_id = f.patient_id
            WHERE m.test_date > f.death_date""")
    if parts:
        insert_problems(con, " UNION ALL ".join(parts))


def _events_before_birth(con: duckdb.DuckDBPyConnection, available: set[str]) -> None:
    """Treatment and test dates before the patient's birth date."""
    events = []
    if "treatments" in available:
        events += [("treatments", c) for c in _TREATMENT_DATES]
    if "molecular_tests" in available:
        events += [("molecular_tests", "test_date")]
    if not events:
        return
    insert_problems(con, " UNION ALL ".join(
        f"SELECT 'error', e._file, e._row, {sql.literal(c)}, "
        f"strftime(e.{c}, '%Y-%m-%d'), 'date_order', 'date before the birth date ' "
        f"|| strftime(p.birth_date, '%Y-%m-%d') || ' (' || p._file || ' row ' "
        f"|| CAST(p._row AS VARCHAR) || ')' "
        f"FROM typed_{t} e JOIN typed_patients p ON e.patient_id = p.patient_id "
        f"WHERE e.{c} < p.birth_date"
        for t, c in events
    ))


def _late_last_contact(con: duckdb.DuckDBPyConnection, available: set[str]) -> None:
    """Last contact before another dated event of the patient (named with its file and row);
    treatment and test dates after the patient's death are named as such instead."""
    events = []
    if "diagnoses" in available:
        events += [("diagnoses", "diagnosis_date"), ("diagnoses", "mdt_date")]
    if "treatments" in available:
        events += [("treatments", c) for c in
                   ("start_date", "end_date", "progression_date", "last_assessment_date")]
    if "molecular_tests" in available:
        events += [("molecular_tests", "test_date")]
    if not events:
        return

    def before_death(t: str, c: str) -> str:
        # treatments and tests after death are named as such (_events_after_death), not here
        if t == "diagnoses":
            return ""
        return (f" AND NOT EXISTS (SELECT 1 FROM typed_follow_up f WHERE f.patient_id = "
                f"e.patient_id AND f.death_date < e.{sql.ident(c)})")

    union = " UNION ALL ".join(
        f"SELECT patient_id, {sql.ident(c)} AS event_date, _file AS src_file, "
        f"_row AS src_row, {sql.literal(c)} AS src_col FROM typed_{t} e "
        f"WHERE {sql.ident(c)} IS NOT NULL{before_death(t, c)}"
        for t, c in events
    )
    # Latest date per patient first (cheap); details only for the patients at fault.
    insert_problems(
        con,
        f"""
        WITH events AS ({union}),
        latest AS (
            SELECT patient_id, max(event_date) AS event_date FROM events GROUP BY patient_id
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


def _systemic_lines(relation: str = "typed_treatments", located: bool = True) -> str:
    """SQL: the systemic treatment rows with a line number and a patient (with their file and
    row when ``located``: the typed views have them, the tables read in a lane do not)."""
    columns = "_file, _row, " if located else ""
    return (f"SELECT {columns}patient_id, line, start_date FROM {relation} "
            "WHERE modality = 'systemic' AND line IS NOT NULL AND patient_id IS NOT NULL")


_MAX_MASKED_LINE = 63


def _lines_are_1_to_k(con: duckdb.DuckDBPyConnection,
                      treatments: str = "typed_treatments") -> bool:
    """Whether every patient's systemic lines are exactly 1, 2, ..., k, each once.

    One aggregation per patient: the lines' bits OR-ed together are the k lowest bits, and there
    are k rows, only when each of 1..k appears exactly once (lines above 63 always answer no).
    """
    row = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE NOT coalesce(
                   -- a CASE: the shift is made only for n <= 63 (an AND computed as a value
                   -- would make it for every patient, and fail at 64 rows or more)
                   CASE WHEN outside = 0 AND n <= {_MAX_MASKED_LINE}
                        THEN mask = (1::UBIGINT << n) - 1 END, false))
        FROM (
            SELECT patient_id, count(*) AS n,
                   bit_or(CASE WHEN line BETWEEN 1 AND {_MAX_MASKED_LINE}
                               THEN 1::UBIGINT << (line - 1) END) AS mask,
                   count(*) FILTER (WHERE line < 1 OR line > {_MAX_MASKED_LINE}) AS outside
            FROM ({_systemic_lines(treatments, located=False)}) GROUP BY patient_id
        )
        """
    ).fetchone()
    return row is not None and row[0] == 0


def _line_order(con: duckdb.DuckDBPyConnection) -> None:
    """Line k starting before line k - 1, when every patient's lines are 1..k, each once."""
    insert_problems(
        con,
        f"""
        WITH systemic AS ({_systemic_lines()})
        SELECT 'warning', b._file, b._row, 'start_date', strftime(b.start_date, '%Y-%m-%d'),
               'line.order',
               'line ' || CAST(b.line AS VARCHAR) || ' starts before line '
               || CAST(a.line AS VARCHAR) || ' (' || strftime(a.start_date, '%Y-%m-%d') || ')'
        FROM (SELECT * FROM systemic WHERE line >= 2) b
        JOIN systemic a ON a.patient_id = b.patient_id AND a.line = b.line - 1
        WHERE b.start_date < a.start_date
        """,  # the later lines, fewer, are the hashed side (a third less CPU)
    )


def _line_checks(con: duckdb.DuckDBPyConnection) -> None:
    """Lines of systemic therapy: 1, 2, 3 ... per patient, no gaps, no duplicates, in order
    (gaps only for patients whose every row has a readable modality and line).

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
        ), unknown AS (
            -- a patient with a (systemic?) row whose line or modality could not be read: its
            -- lines are not known, and a gap named there would point at the wrong row
            SELECT DISTINCT patient_id FROM typed_treatments
            WHERE modality IS NULL OR (modality = 'systemic' AND line IS NULL)
        ), not_1_to_k AS (
            SELECT patient_id FROM per_line ANTI JOIN unknown USING (patient_id)
            GROUP BY patient_id
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


# --------------------------------------------------------------------------- entry point


def run_cross_checks(
    con: duckdb.DuckDBPyConnection, available: set[str], *, gated: bool = True,
    key_repeats: Mapping[str, int] | None = None, lane_facts: LaneFacts | None = None,
) -> None:
    """Run every check across rows and tables on the tables in ``available``.

    Parameters
    ----------
    con
        The validation connection, with the views ``typed_<table>`` and the table ``_problems``.
    available
        Names of the tables whose file was read (the others are empty).
    gated
        Run a check's listing query only when the per-patient counts say it may find something
        (the default). ``False`` runs every listing query, and makes every count here without
        what the reading found out (``key_repeats``, ``lane_facts``): the same problems, found
        slower (the tests compare the two).
    key_repeats
        :func:`repeated_key_hashes` of tables already counted (while their file was read);
        the others are counted here.
    lane_facts
        What :func:`prepare_in_lane` found out while the files were read (``None``: not run);
        its table is dropped here.
    """
    try:
        _run_cross_checks(con, available, gated, key_repeats or {},
                          lane_facts if gated else None)
    finally:
        if lane_facts is not None:
            con.execute(f"DROP TABLE IF EXISTS {EVENTS_TABLE}")


def _run_cross_checks(
    con: duckdb.DuckDBPyConnection, available: set[str], gated: bool,
    key_repeats: Mapping[str, int], lane_facts: LaneFacts | None,
) -> None:
    facts = _patient_facts(con, EVENTS_TABLE if lane_facts else None)
    if not gated:
        facts = dict.fromkeys(facts, 1)
    for table in SCHEMA:
        if table.name not in available:
            continue
        repeated_rows = {"patients": facts["repeated_patients"],
                         "follow_up": facts["repeated_follow_up"]}.get(table.name)
        if repeated_rows is None and gated:  # a key other than patient_id
            counted = key_repeats.get(table.name)
            repeated_rows = (repeated_key_hashes(con, table) if counted is None else counted)
        if repeated_rows != 0:
            _unique_key_checks(con, table)

    repeated = facts["repeated_patients"] > 0
    repeated_follow_up = facts["repeated_follow_up"] > 0
    if "patients" in available and facts["orphans"]:
        children = [(t.name, fk.column) for t in SCHEMA if t.name in available
                    for fk in t.foreign_keys if fk.table == "patients"]
        _orphan_rows(con, "patients", "patient_id", children)
    if {"patients", "follow_up"} <= available and facts["follow_up_missing"]:
        _patients_without(con, "follow_up", "error", "follow_up.missing",
                          "the patient has no row in follow_up (exactly one is required)")
    if {"patients", "diagnoses"} <= available:
        if facts["diagnosis_missing"]:
            _patients_without(con, "diagnoses", "warning", "diagnosis.missing",
                              "the patient has no diagnosis")
        if repeated or facts["diagnosis_vs_birth"]:
            _diagnosis_vs_birth(con)
        if repeated or facts["shared_signatures"]:
            _duplicate_patients(con, every_patient=repeated)
        if repeated or facts["site_of_other_sex"]:
            _site_of_other_sex(con)
    if {"diagnoses", "treatments"} <= available:
        treated = _treatment_facts(con) if gated else dict.fromkeys(("orphan_diagnosis_ids",
                  "other_patient", "early_start", "start_without_own_dx"), 1)
        if treated["orphan_diagnosis_ids"]:
            _orphan_rows(con, "diagnoses", "diagnosis_id", [("treatments", "diagnosis_id")])
        if treated["other_patient"]:
            _treatment_of_other_patient(con)
        if treated["early_start"] or treated["start_without_own_dx"]:
            _treatment_before_diagnosis(con)
    if {"diagnoses", "follow_up"} <= available and (
        repeated_follow_up or facts["death_before_diagnosis"]
    ):
        _death_before_diagnosis(con)
    if "follow_up" in available and (repeated_follow_up or facts["late_last_contact"]):
        _late_last_contact(con, available)
    if "follow_up" in available and (
        repeated_follow_up or facts["treated_after_death"] or facts["tested_after_death"]
    ):
        _events_after_death(con, available)
    if "patients" in available and (repeated or facts["event_before_birth"]):
        _events_before_birth(con, available)
    if "treatments" in available:
        if gated and (lane_facts.lines_1_to_k if lane_facts else _lines_are_1_to_k(con)):
            _line_order(con)
        else:
            _line_checks(con)
