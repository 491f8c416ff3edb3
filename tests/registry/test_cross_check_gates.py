"""The cross-table checks list the same problems whether or not their counts gate the listings.

:func:`nenstudy.registry.crosschecks.run_cross_checks` runs a check's listing query only when one
aggregation per patient says the check may find something. Random registries, corrupted in the
ways those counts must notice (orphans, repeated rows, missing rows, dates out of order, treatments
of another patient's diagnosis, look-alike patients), must give exactly the problems the ungated
run gives.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import good_rows, write_registry
from nenstudy.registry import crosschecks, validation
from nenstudy.registry.validation import validate_source

Rows = dict[str, list[dict[str, str]]]


def _pick(rows: Rows, table: str, i: int) -> dict[str, str]:
    """Row ``i`` (modulo) of ``table``; a copy of the good first row when earlier faults emptied it."""
    if not rows[table]:
        rows[table].append(good_rows()[table][0])
    return rows[table][i % len(rows[table])]


def _orphan_child(rows: Rows, i: int) -> None:
    table = ("diagnoses", "molecular_tests", "treatments", "follow_up")[i % 4]
    _pick(rows, table, i)["patient_id"] = "P999"


def _child_of_other_patient(rows: Rows, i: int) -> None:
    table = ("diagnoses", "molecular_tests", "treatments", "follow_up")[i % 4]
    row = _pick(rows, table, i)
    last = row["patient_id"][-1:]  # '' when an earlier fault emptied it
    row["patient_id"] = "P00" + str(1 + (int(last) % 3 if last.isdigit() else 0))


def _no_patient_id(rows: Rows, i: int) -> None:
    table = ("diagnoses", "treatments", "follow_up")[i % 3]
    _pick(rows, table, i)["patient_id"] = ""


def _repeat_patient(rows: Rows, i: int) -> None:
    row = dict(_pick(rows, "patients", i))
    row["birth_date"] = ("1930-01-01", "2019-12-31", row["birth_date"])[i % 3]
    rows["patients"].append(row)


def _repeat_follow_up(rows: Rows, i: int) -> None:
    row = dict(_pick(rows, "follow_up", i))
    row["last_contact_date"] = "2018-01-01"
    rows["follow_up"].append(row)


def _drop_follow_up(rows: Rows, i: int) -> None:
    if rows["follow_up"]:
        del rows["follow_up"][i % len(rows["follow_up"])]


def _drop_diagnoses_of_patient(rows: Rows, i: int) -> None:
    pid = f"P00{1 + i % 3}"
    rows["diagnoses"] = [r for r in rows["diagnoses"] if r["patient_id"] != pid]


def _diagnosis_before_birth(rows: Rows, i: int) -> None:
    row = _pick(rows, "diagnoses", i)
    row["diagnosis_date"] = ("1940-01-01", "2099-01-01", "1950-03-14")[i % 3]


def _death_before_diagnosis(rows: Rows, i: int) -> None:
    row = _pick(rows, "follow_up", i)
    row.update(vital_status="dead", death_date="2019-01-01", last_contact_date="2019-01-01")


def _last_contact_too_early(rows: Rows, i: int) -> None:
    _pick(rows, "follow_up", i)["last_contact_date"] = "2019-06-01"


def _event_after_death(rows: Rows, i: int) -> None:
    row = _pick(rows, "follow_up", i)
    row.update(vital_status="dead", death_date="2019-06-01")
    if i % 2:
        _pick(rows, "molecular_tests", i)["test_date"] = "2020-01-01"


def _event_before_birth(rows: Rows, i: int) -> None:
    table, column = (("molecular_tests", "test_date"), ("treatments", "end_date"))[i % 2]
    _pick(rows, table, i)[column] = "1940-01-01"


def _treatment_diagnosis(rows: Rows, i: int) -> None:
    row = _pick(rows, "treatments", i)
    row["diagnosis_id"] = ("D999", "D003", "", "D002")[i % 4]


def _treatment_too_early(rows: Rows, i: int) -> None:
    _pick(rows, "treatments", i)["start_date"] = "2018-12-01"


def _look_alike_patient(rows: Rows, i: int) -> None:
    n = len(rows["patients"]) + 1
    source = _pick(rows, "patients", i)
    rows["patients"].append(dict(source, patient_id=f"Q{n:03d}"))
    rows["follow_up"].append({"patient_id": f"Q{n:03d}", "last_contact_date": "2022-08-01",
                              "vital_status": "alive"})
    for dx in [d for d in rows["diagnoses"] if d["patient_id"] == source["patient_id"]][:1]:
        rows["diagnoses"].append(dict(dx, diagnosis_id=f"DQ{n:03d}", patient_id=f"Q{n:03d}"))


def _same_day_diagnoses(rows: Rows, i: int) -> None:
    first = _pick(rows, "diagnoses", i)
    rows["diagnoses"].append(dict(first, diagnosis_id=f"DS{i:03d}",
                                  primary_site=("C18.7", "C16.9")[i % 2]))


def _line_number(rows: Rows, i: int) -> None:
    row = _pick(rows, "treatments", i)
    row.update(modality="systemic", line=("3", "1", "2", "0", "64", "")[i % 6],
               agents=row.get("agents") or "cisplatin")


def _lines_out_of_order(rows: Rows, i: int) -> None:
    for row in rows["treatments"]:
        if row.get("line") == "2":
            row["start_date"] = ("2019-03-01", "2019-02-15")[i % 2]


FAULTS = (
    _orphan_child, _child_of_other_patient, _no_patient_id, _repeat_patient, _repeat_follow_up,
    _drop_follow_up, _drop_diagnoses_of_patient, _diagnosis_before_birth, _death_before_diagnosis,
    _last_contact_too_early, _event_after_death, _event_before_birth, _treatment_diagnosis,
    _treatment_too_early, _look_alike_patient, _same_day_diagnoses, _line_number,
    _lines_out_of_order,
)


def _problems(folder: Path) -> pd.DataFrame:
    return validate_source(folder).problems.astype(str).reset_index(drop=True)


def _compare(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[pd.DataFrame, pd.DataFrame]:
    gated = _problems(folder)
    with monkeypatch.context() as m:
        m.setattr(validation, "run_cross_checks",
                  functools.partial(crosschecks.run_cross_checks, gated=False))
        ungated = _problems(folder)
    return gated, ungated


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=st.lists(st.tuples(st.sampled_from(FAULTS), st.integers(0, 11)),
                       min_size=1, max_size=4))
def test_gated_listing_equals_ungated(faults, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = good_rows()
    for fault, i in faults:
        fault(rows, i)
    folder = Path(tempfile.mkdtemp(prefix="nenstudy-gates-"))
    try:
        write_registry(folder / "registry", rows)
        gated, ungated = _compare(folder / "registry", monkeypatch)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pd.testing.assert_frame_equal(gated, ungated)


@pytest.mark.parametrize("fault", [f for f in FAULTS if f is not _same_day_diagnoses],
                         ids=lambda f: f.__name__.strip("_"))
def test_each_fault_is_found_by_a_cross_check(fault, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Each corruption above makes some problem appear (the comparison is not vacuous)."""
    rows = good_rows()
    fault(rows, 0)
    folder = write_registry(tmp_path / "registry", rows)
    gated, ungated = _compare(folder, monkeypatch)
    pd.testing.assert_frame_equal(gated, ungated)
    assert len(gated) > 0, fault.__name__


def test_first_site_of_same_day_diagnoses_is_the_first_row(tmp_path: Path) -> None:
    """Two diagnoses on the first date: the first row's site is the patient's first site."""
    rows = good_rows()
    _look_alike_patient(rows, 0)  # Q004 copies P001 and P001's first diagnosis (C25.9)
    first = rows["diagnoses"][0]
    rows["diagnoses"].append(dict(first, diagnosis_id="D010", primary_site="C18.7"))
    report = validate_source(write_registry(tmp_path / "registry", rows))
    flagged = report.problems[report.problems["rule"] == "duplicate_patient"]
    assert sorted(flagged["row"].tolist()) == [2, 5]
    rows["diagnoses"].insert(0, rows["diagnoses"].pop())  # now C18.7 comes first
    report = validate_source(write_registry(tmp_path / "registry2", rows))
    assert "duplicate_patient" not in set(report.problems["rule"])


@pytest.mark.parametrize("gated", [True, False], ids=["gated", "ungated"])
def test_one_thread_and_four_find_the_same_problems(gated: bool, tmp_path: Path) -> None:
    """Every fault at once: files read one at a time (1 thread) or side by side (4)."""
    rows = good_rows()
    for i, fault in enumerate(FAULTS):
        fault(rows, i)
    folder = write_registry(tmp_path / "registry", rows)
    found = []
    for threads in (1, 4):
        con = validation.connect_work_db(threads=threads)
        try:
            con.execute(f"ATTACH '{tmp_path / f'typed{threads}.duckdb'}' AS typed")
            with pytest.MonkeyPatch.context() as m:
                m.setattr(validation, "run_cross_checks",
                          functools.partial(crosschecks.run_cross_checks, gated=gated))
                report, _ = validation.validate_into(con, folder, catalog="typed")
            threads_after = con.execute("SELECT current_setting('threads')").fetchone()
        finally:
            con.close()
        assert threads_after == (threads,)
        found.append(report.problems.astype(str).reset_index(drop=True))
    pd.testing.assert_frame_equal(found[0], found[1])
    assert {"foreign_key", "unique", "date_order", "line.gap", "line.order", "follow_up.missing",
            "diagnosis.missing"} <= set(found[0]["rule"])
