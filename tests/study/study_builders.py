"""Hand-built registry stores for study tests: answers known by construction.

Tables follow the store layout of ``nenstudy.registry.schema`` (source columns plus derived
columns, lists as VARCHAR[]); derived values are set explicitly by the test or by the simple
rules below, so a test states exactly what the study engine sees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from nenstudy.paths import default_study
from nenstudy.registry.schema import SCHEMA
from nenstudy.study.definition import StudyDefinition, parse_study


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


@dataclass
class RegistryBuilder:
    """Collects rows, then writes a DuckDB store file."""

    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {t.name: [] for t in SCHEMA}
    )

    def patient(self, sex: str = "F", birth: str = "1955-06-15") -> str:
        pid = f"id{len(self.rows['patients']) + 1:03d}"
        self.rows["patients"].append({"patient_id": pid, "sex": sex, "birth_date": _date(birth)})
        return pid

    def diagnosis(self, pid: str, date: str = "2019-03-01", mdt: str | None = None, *,
                  who: str = "NEC", site: str = "C25.9", site_group: str = "GEP",
                  stage: str = "metastatic", resectable: bool | None = None,
                  ki67: float | None = 70.0, cell_type: str | None = "small",
                  morphology: str | None = None, non_ne: float | None = 0.0,
                  ecog: int | None = 1, pure: bool | None = None) -> str:
        did = f"dx{len(self.rows['diagnoses']) + 1:03d}"
        advanced = stage == "metastatic" or (stage == "locally_advanced" and resectable is not True)
        self.rows["diagnoses"].append({
            "diagnosis_id": did, "patient_id": pid, "diagnosis_date": _date(date),
            "mdt_date": _date(mdt or date), "primary_site": site, "site_group": site_group,
            "site_group_reported": None, "morphology": morphology,
            "differentiation": "poor" if who == "NEC" else "well", "cell_type": cell_type,
            "ki67_pct": ki67, "mitoses_per_2mm2": None, "non_ne_component_pct": non_ne,
            "who_category": who, "who_category_reported": None, "stage": stage,
            "resectable": resectable, "metastatic_sites": ["liver"] if stage == "metastatic" else None,
            "ecog_ps": ecog, "karnofsky": None, "notes": None,
            "pure_histology": pure if pure is not None else ((non_ne or 0) == 0 and who != "MiNEN"),
            "advanced": advanced, "metastatic": stage == "metastatic", "age_at_diagnosis": None,
        })
        return did

    def line(self, pid: str, line: int | None, start: str, *, agents: list[str] | None = None,
             end: str | None = None, response: str | None = None, progression: str | None = None,
             assessed: str | None = None, modality: str = "systemic") -> None:
        self.rows["treatments"].append({
            "treatment_id": f"tx{len(self.rows['treatments']) + 1:03d}", "patient_id": pid,
            "diagnosis_id": None, "modality": modality, "line": line, "regimen": None,
            "agents": agents if agents is not None else (["cisplatin", "etoposide"] if modality == "systemic" else None),
            "start_date": _date(start), "end_date": _date(end), "stop_reason": None,
            "best_response": response, "ne_reason": None, "progression_date": _date(progression),
            "last_assessment_date": _date(assessed),
        })

    def follow_up(self, pid: str, last_contact: str, death: str | None = None) -> None:
        self.rows["follow_up"].append({
            "patient_id": pid, "last_contact_date": _date(last_contact),
            "vital_status": "dead" if death else "alive", "death_date": _date(death),
        })

    def molecular(self, pid: str, *, gene: str | None = None, alteration: str | None = None,
                  msi: str | None = None, tmb: float | None = None, assay: str = "PanelX") -> None:
        self.rows["molecular_tests"].append({
            "test_id": f"mt{len(self.rows['molecular_tests']) + 1:03d}", "patient_id": pid,
            "test_date": _date("2020-01-01"), "method": "NGS", "assay": assay, "gene": gene,
            "alteration": alteration, "variant": None, "msi_status": msi, "tmb": tmb,
        })

    def write(self, path: Path) -> Path:
        con = duckdb.connect(str(path))
        try:
            for table in SCHEMA:
                columns: dict[str, str] = {}
                for column in table.columns:
                    columns[column.name] = column.duckdb_type
                for derived in getattr(table, "derived", ()):
                    columns[derived.name] = derived.duckdb_type
                ddl = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
                con.execute(f'CREATE TABLE "{table.name}" ({ddl})')
                rows = self.rows[table.name]
                if rows:
                    frame = pd.DataFrame(rows)  # noqa: F841  (read by DuckDB's replacement scan)
                    names = ", ".join(f'"{c}"' for c in rows[0])
                    con.execute(f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM frame')
        finally:
            con.close()
        return path


def epnec_variant(replacements: dict[str, str]) -> StudyDefinition:
    """The EP-NEC study with some text replaced (each old text must occur once or more)."""
    text = default_study().read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return parse_study(text, "variant.toml")
