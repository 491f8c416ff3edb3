"""The per-diagnosis fields a study expression may use, with their SQL types.

Cohort steps, subsets, groupings and variables of a study definition are SQL expressions over
one row per NEN diagnosis: the registry's ``diagnoses`` columns (with the store's derived
columns), a few patient and follow-up columns, and per-patient fields derived from the
treatment and molecular tables. This catalogue is what ``sqlcheck`` checks column names
against, and what ``endpoints.build_study_base`` materialises in the DuckDB store.

Identifiers (``patient_id``, ``diagnosis_id``) and free text (``notes``) are deliberately absent: a criterion
cannot select named patients, and nothing identifying can reach an output through a grouping.
List columns (``metastatic_sites``, ``agents``) are absent too; their content is reachable
through derived fields (``first_line_regimen``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

__all__ = ["STUDY_FIELDS", "FIELD_DESCRIPTIONS", "field_type", "fields_markdown"]

_FIELDS: dict[str, tuple[str, str]] = {
    # diagnoses (as stored, derived columns included)
    "diagnosis_date": ("date", "date of histological diagnosis"),
    "mdt_date": ("date", "first discussion at the NEN MDT"),
    "primary_site": ("string", "ICD-O-3 topography, e.g. C25.9"),
    "site_group": ("string", "GEP, other_extrapulmonary, unknown_primary, lung (derived)"),
    "site_group_reported": ("string", "site group as typed in the source"),
    "morphology": ("string", "ICD-O-3 morphology, e.g. 8041/3"),
    "differentiation": ("string", "well, poor"),
    "cell_type": ("string", "small, large (NEC only)"),
    "ki67_pct": ("float", "Ki-67 index, %"),
    "mitoses_per_2mm2": ("float", "mitotic count per 2 mm2"),
    "non_ne_component_pct": ("float", "% non-neuroendocrine component"),
    "necrosis": ("string", "absent, focal, extensive, present (extent not stated)"),
    "who_category": ("string", "NET G1, NET G2, NET G3, NEC, MiNEN (derived from the pathology elements, else as typed in)"),
    "who_category_reported": ("string", "WHO category as typed in the source"),
    "stage": ("string", "localized, locally_advanced, metastatic"),
    "resectable": ("bool", "locally advanced disease judged resectable"),
    "metastases_timing": ("string", "synchronous (at diagnosis), metachronous (found later)"),
    "ecog_ps": ("int", "ECOG performance status 0-5 (Karnofsky mapped when missing)"),
    "karnofsky": ("int", "Karnofsky performance status"),
    "pure_histology": ("bool", "no non-neuroendocrine component and not MiNEN (derived from the stored WHO category)"),
    "advanced": ("bool", "metastatic, or locally advanced and not resectable (derived)"),
    "metastatic": ("bool", "stage = metastatic (derived)"),
    # patients and follow-up
    "sex": ("string", "F, M"),
    "birth_date": ("date", "date of birth"),
    "age_at_diagnosis": ("float", "age at diagnosis in years (days / 365.25)"),
    "last_contact_date": ("date", "last contact"),
    "vital_status": ("string", "alive, dead"),
    "death_date": ("date", "date of death"),
    # derived from treatments (systemic lines of the patient)
    "first_line_start": ("date", "start of systemic line 1 (NULL when none)"),
    "first_line_end": ("date", "end of systemic line 1"),
    "first_line_regimen": ("string", "regimen class of line 1 (from its agents)"),
    "first_line_best_response": ("string", "RECIST best response to line 1"),
    "first_line_progression_date": ("date", "progression date recorded on line 1"),
    "lines_received": ("int", "number of consecutive systemic lines from line 1 (0 when none)"),
    "line_data_problem": ("bool", "systemic line numbers with a gap, duplicate or no line 1"),
    # derived from molecular tests
    "molecular_profiled": ("bool", "any molecular test result recorded"),
}

STUDY_FIELDS: Mapping[str, str] = MappingProxyType({k: v[0] for k, v in _FIELDS.items()})
"""Field name -> type tag (string, date, float, int, bool)."""

FIELD_DESCRIPTIONS: Mapping[str, str] = MappingProxyType({k: v[1] for k, v in _FIELDS.items()})
"""Field name -> one-line description (used by docs/study-format.md)."""


def field_type(name: str) -> str:
    """Return the type tag of a study field.

    Parameters
    ----------
    name : str
        Field name (case-sensitive, lower case).

    Returns
    -------
    str
        One of ``string``, ``date``, ``float``, ``int``, ``bool``.

    Raises
    ------
    KeyError
        When the field is unknown.
    """
    return STUDY_FIELDS[name]


def fields_markdown() -> str:
    """Return the Markdown table of the study fields (embedded in docs/study-format.md).

    Returns
    -------
    str
        A table with one row per field: name, type, description.
    """
    lines = ["| field | type | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {kind} | {_FIELDS[name][1]} |" for name, kind in STUDY_FIELDS.items()]
    return "\n".join(lines) + "\n"
