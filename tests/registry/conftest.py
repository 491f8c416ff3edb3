"""Fixtures for the registry tests: a small valid registry folder to corrupt one way at a time."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from nenstudy.registry.schema import SCHEMA

GOOD_ROWS: dict[str, list[dict[str, str]]] = {
    "patients": [
        {"patient_id": "P001", "sex": "F", "birth_date": "1950-03-14"},
        {"patient_id": "P002", "sex": "M", "birth_date": "1962-11-02"},
        {"patient_id": "P003", "sex": "M", "birth_date": "1971-06-30"},
    ],
    "diagnoses": [
        {"diagnosis_id": "D001", "patient_id": "P001", "diagnosis_date": "2019-02-01",
         "mdt_date": "2019-02-20", "primary_site": "C25.9", "site_group": "GEP",
         "morphology": "8246/3", "differentiation": "poor", "cell_type": "large",
         "ki67_pct": "80", "necrosis": "extensive", "who_category": "NEC",
         "stage": "metastatic", "metastatic_sites": "liver;nodes",
         "metastases_timing": "synchronous", "ecog_ps": "1", "notes": "seen by Dr X"},
        {"diagnosis_id": "D002", "patient_id": "P002", "diagnosis_date": "2020-05-10",
         "mdt_date": "2020-05-12", "primary_site": "C17.1", "differentiation": "well",
         "ki67_pct": "2.5", "mitoses_per_2mm2": "1", "stage": "localized", "karnofsky": "90"},
        {"diagnosis_id": "D003", "patient_id": "P003", "diagnosis_date": "2021-01-15",
         "mdt_date": "2021-01-15", "primary_site": "C67.9", "differentiation": "poor",
         "cell_type": "small", "ki67_pct": "90", "stage": "locally_advanced",
         "resectable": "false", "ecog_ps": "2"},
    ],
    "molecular_tests": [
        {"test_id": "M001", "patient_id": "P001", "test_date": "2019-03-01", "method": "NGS",
         "assay": "FoundationOne CDx", "gene": "TP53", "alteration": "mutation",
         "variant": "R273H"},
        {"test_id": "M002", "patient_id": "P001", "test_date": "2019-03-01", "method": "NGS",
         "assay": "FoundationOne CDx", "tmb": "4.2"},
        {"test_id": "M003", "patient_id": "P001", "test_date": "2019-03-01", "method": "IHC",
         "assay": "MMR IHC", "msi_status": "MSS"},
    ],
    "treatments": [
        {"treatment_id": "T001", "patient_id": "P001", "diagnosis_id": "D001",
         "modality": "systemic", "line": "1", "regimen": "Carboplatin-Etoposide",
         "agents": "carboplatin;etoposide", "start_date": "2019-03-05",
         "end_date": "2019-07-01", "stop_reason": "completed", "best_response": "PR",
         "progression_date": "2019-10-01", "last_assessment_date": "2019-10-01"},
        {"treatment_id": "T002", "patient_id": "P001", "diagnosis_id": "D001",
         "modality": "systemic", "line": "2", "regimen": "FOLFIRI",
         "agents": "fluorouracil;leucovorin;irinotecan", "start_date": "2019-10-15",
         "end_date": "2020-01-10", "stop_reason": "progression", "best_response": "PD",
         "progression_date": "2020-01-05"},
        {"treatment_id": "T003", "patient_id": "P002", "diagnosis_id": "D002",
         "modality": "surgery", "start_date": "2020-06-01"},
    ],
    "follow_up": [
        {"patient_id": "P001", "last_contact_date": "2020-03-01", "vital_status": "dead",
         "death_date": "2020-03-01"},
        {"patient_id": "P002", "last_contact_date": "2022-08-01", "vital_status": "alive"},
        {"patient_id": "P003", "last_contact_date": "2022-07-15", "vital_status": "alive"},
    ],
}


def write_table(folder: Path, table: str, rows: list[dict[str, str]], *,
                columns: list[str] | None = None, encoding: str = "utf-8") -> Path:
    """Write one table as CSV with every schema column (or ``columns``) in the header."""
    from nenstudy.registry.schema import TABLES

    header = columns or list(TABLES[table].column_names)
    path = folder / f"{table}.csv"
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def write_registry(folder: Path, rows: dict[str, list[dict[str, str]]] | None = None) -> Path:
    """Write a registry folder (the good rows unless ``rows`` replaces some tables)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {name: [dict(r) for r in rs] for name, rs in GOOD_ROWS.items()}
    data.update(rows or {})
    for table in SCHEMA:
        write_table(folder, table.name, data[table.name])
    return folder


def good_rows() -> dict[str, list[dict[str, str]]]:
    """A deep copy of the good registry rows, to corrupt."""
    return {name: [dict(r) for r in rs] for name, rs in GOOD_ROWS.items()}


@pytest.fixture
def good_registry(tmp_path: Path) -> Path:
    """A small valid registry folder."""
    return write_registry(tmp_path / "registry")
