"""Analysis datasets in CDISC ADaM style: ``adsl.csv`` and ``adtte.csv``.

``adtte.csv`` has one row per patient and parameter: ``USUBJID`` (pseudonymous), ``PARAMCD``
(``OS`` | ``PFS``), ``PARAM``, ``AVAL`` (months = days / 30.4375, full precision), ``CNSR``
(0 event, 1 censored), ``EVNTDESC``, ``STARTDT``/``ADT`` when the study asks for dates, and every
grouping and variable of the study under its study name (the names used in ``stratified`` and
``cox``). A row whose time could not be derived keeps an empty ``AVAL`` and says why in
``PROBLEM``; R's ``survfit`` drops such rows, as the study does. ``adsl.csv`` has one row per
cohort patient: ``USUBJID``, population flags (``Y``/``N``), groupings, variables and the
treatment fields. Registry identifiers appear only when the user asks (``show_identifiers``:
a ``SUBJID`` column with the registry's patient_id, to link back to the records).

In R: ``d <- read.csv("adtte.csv"); survfit(Surv(AVAL, 1 - CNSR) ~ 1, subset = PARAMCD == "OS",
data = d, conf.type = "log-log")`` reproduces ``results.json``'s OS block.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from nenstudy.study.definition import StudyDefinition
from nenstudy.study.variables import TREATMENT_COLUMNS

__all__ = ["adtte_frame", "adsl_frame", "write_analysis_datasets"]


def _study_columns(study: StudyDefinition) -> list[str]:
    return [*study.groupings, *study.variables]


def _subjid(show_identifiers: bool) -> tuple[str, str]:
    if not show_identifiers:
        return "", ""
    return "c.patient_id AS SUBJID, ", "JOIN cohort c USING (usubjid) "


def adtte_frame(con: duckdb.DuckDBPyConnection, study: StudyDefinition, *,
                show_identifiers: bool = False) -> pd.DataFrame:
    """Return the ADTTE dataset (see the module docstring).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection holding ``study_tte`` and ``cohort_vars``.
    study : StudyDefinition
        Endpoint labels, the grouping and variable columns and ``include_dates``.
    show_identifiers : bool, default False
        Add ``SUBJID`` (the registry patient_id) after ``USUBJID``.

    Returns
    -------
    pandas.DataFrame
    """
    os_label = f"{study.endpoints['os'].label} (months)"
    pfs_label = f"{study.endpoints['pfs'].label} (months)"
    dates = "strftime(t.startdt, '%Y-%m-%d') AS STARTDT, strftime(t.adt, '%Y-%m-%d') AS ADT, " if study.include_dates else ""
    extra = ", ".join(f'v."{c}"' for c in _study_columns(study))
    subjid, join = _subjid(show_identifiers)
    return con.execute(
        f"""
        SELECT t.usubjid AS USUBJID, {subjid}t.paramcd AS PARAMCD,
               CASE t.paramcd WHEN 'OS' THEN ? ELSE ? END AS PARAM,
               t.aval AS AVAL, t.cnsr AS CNSR, t.evntdesc AS EVNTDESC, {dates}
               t.problem AS PROBLEM, {extra}
        FROM study_tte t JOIN cohort_vars v USING (usubjid) {join}
        ORDER BY t.paramcd, t.usubjid
        """,
        [os_label, pfs_label],
    ).df()


def adsl_frame(con: duckdb.DuckDBPyConnection, study: StudyDefinition, *,
               show_identifiers: bool = False) -> pd.DataFrame:
    """Return the ADSL dataset: one row per cohort patient.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection holding ``cohort_vars``.
    study : StudyDefinition
        Populations, groupings and variables.
    show_identifiers : bool, default False
        Add ``SUBJID`` (the registry patient_id) after ``USUBJID``.

    Returns
    -------
    pandas.DataFrame
    """
    flags = ", ".join(f"CASE WHEN v.in_{p} THEN 'Y' ELSE 'N' END AS in_{p}" for p in study.populations)
    extra = ", ".join(f'v."{c}"' for c in [*_study_columns(study), *TREATMENT_COLUMNS])
    subjid, join = _subjid(show_identifiers)
    return con.execute(
        f"SELECT v.usubjid AS USUBJID, {subjid}{flags}, {extra} FROM cohort_vars v {join}ORDER BY v.usubjid"
    ).df()


def write_analysis_datasets(con: duckdb.DuckDBPyConnection, study: StudyDefinition, folder: Path, *,
                            show_identifiers: bool = False) -> dict[str, Path]:
    """Write ``adsl.csv`` and ``adtte.csv`` into ``folder`` (created if needed).

    Floats are written with full round-trip precision, so re-reading ``AVAL`` gives the exact
    numbers the study analysed.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection holding the study's derived tables (cohort, variables, time-to-event rows).
    study : StudyDefinition
        The study whose datasets are written.
    folder : Path
        Output folder.
    show_identifiers : bool, default False
        Only when the user explicitly asks: add the registry patient_id (``SUBJID``) after
        ``USUBJID``.

    Returns
    -------
    dict
        ``{"adsl": path, "adtte": path}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"adsl": folder / "adsl.csv", "adtte": folder / "adtte.csv"}
    adsl_frame(con, study, show_identifiers=show_identifiers).to_csv(paths["adsl"], index=False)
    adtte_frame(con, study, show_identifiers=show_identifiers).to_csv(paths["adtte"], index=False)
    return paths
