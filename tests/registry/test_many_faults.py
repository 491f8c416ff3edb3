"""A registry folder corrupted in many ways at once: every problem is listed, the store kept."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from .conftest import good_rows, write_registry, write_table
from nenstudy.registry.store import import_registry
from nenstudy.registry.validation import ValidationError, validate_source


@pytest.fixture
def corrupted(tmp_path: Path) -> Path:
    rows = good_rows()
    rows["patients"][0]["birth_date"] = "44927"  # Excel serial date
    rows["patients"][1]["sex"] = "male"  # unknown code
    rows["patients"].append(dict(rows["patients"][2]))  # duplicate key (row 5)
    rows["diagnoses"][0]["mdt_date"] = "2019-02-30"  # impossible date
    rows["diagnoses"][1]["stage"] = "advanced"  # unknown code
    rows["diagnoses"][1]["mdt_date"] = "03/04/2020"  # ambiguous day/month
    rows["diagnoses"][2]["ki67_pct"] = "eighty"  # wrong type
    rows["diagnoses"][2]["notes"] = "référé par l'hôpital"  # Latin-1 text
    rows["diagnoses"].append(dict(rows["diagnoses"][2], diagnosis_id="D004",
                                  patient_id="P777", notes=""))  # orphan (row 5)
    folder = write_registry(tmp_path / "corrupted", rows)
    patients = folder / "patients.csv"
    patients.write_bytes(b"\xef\xbb\xbf" + patients.read_bytes())  # UTF-8 BOM
    write_table(folder, "diagnoses", rows["diagnoses"], encoding="latin-1")
    (folder / "molecular_tests.csv").write_bytes(b"")  # empty file
    write_table(folder, "treatments", [])  # header only
    (folder / "follow_up.csv").unlink()  # missing table
    return folder


EXPECTED = {
    ("patients.csv", 2, "birth_date", "type.date"),
    ("patients.csv", 3, "sex", "allowed"),
    ("patients.csv", 4, "patient_id", "unique"),
    ("patients.csv", 5, "patient_id", "unique"),
    ("diagnoses.csv", 4, None, "file.encoding"),  # the first row with Latin-1 text
    ("diagnoses.csv", 2, "mdt_date", "type.date"),
    ("diagnoses.csv", 3, "stage", "allowed"),
    ("diagnoses.csv", 3, "mdt_date", "type.date"),
    ("diagnoses.csv", 4, "ki67_pct", "type.float"),
    ("diagnoses.csv", 5, "ki67_pct", "type.float"),
    ("diagnoses.csv", 5, "patient_id", "foreign_key"),
    ("molecular_tests.csv", None, None, "file.empty"),
    ("treatments.csv", None, None, "file.header_only"),
    ("follow_up.csv", None, None, "file.missing"),
}


def _found(report) -> set[tuple]:
    frame = report.problems.astype(object)
    frame = frame.where(frame.notna(), None)
    return set(zip(frame["file"], frame["row"], frame["column"], frame["rule"]))


def test_every_problem_is_listed(corrupted: Path) -> None:
    report = validate_source(corrupted)
    missing = EXPECTED - _found(report)
    assert not missing, report.render()


def test_nothing_else_is_listed(corrupted: Path) -> None:
    report = validate_source(corrupted)
    assert _found(report) == EXPECTED, report.render()


def test_messages_name_the_fix(corrupted: Path) -> None:
    problems = validate_source(corrupted).problems.set_index(["file", "row", "column"])
    assert "Excel serial" in problems.loc[("patients.csv", 2, "birth_date"), "message"]
    assert "ambiguous day/month" in problems.loc[("diagnoses.csv", 3, "mdt_date"), "message"]
    assert "calendar" in problems.loc[("diagnoses.csv", 2, "mdt_date"), "message"]


def test_existing_store_untouched(corrupted: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    import_registry(write_registry(tmp_path / "good"), db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(ValidationError) as caught:
        import_registry(corrupted, db)
    assert _found(caught.value.report) == EXPECTED
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupted", "good", "store.duckdb"]


def test_problem_listing_is_sorted_and_the_same_every_time(corrupted: Path) -> None:
    """Cross-table checks run unordered; the listing must still be one fixed, sorted order."""
    first = validate_source(corrupted).problems
    again = validate_source(corrupted).problems
    assert first.equals(again)
    keys = first.astype(object).where(first.notna(), None)
    order = [
        (f, -1 if r is None else r, c or "", rule, s, m)
        for f, r, c, rule, s, m in zip(keys["file"], keys["row"], keys["column"], keys["rule"],
                                       keys["severity"], keys["message"])
    ]
    assert order == sorted(order)
