"""Assemble one simulated block of patients into the five registry tables (Arrow), schema order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nenstudy.registry import schema
from nenstudy.synth.arrow import bool_array, coded_array, date_array, float_array, int_array, opaque_ids
from nenstudy.synth.course import NE_REASONS, NE, Course
from nenstudy.synth.molecular import MolecularRows
from nenstudy.synth.population import LOCALLY_ADVANCED, NOTES, Baseline
from nenstudy.synth.regimens import Catalogue

__all__ = ["IdKeys", "Offsets", "block_tables"]


@dataclass(frozen=True)
class IdKeys:
    """Scrambling keys of the opaque ids of each table."""

    patient: int
    diagnosis: int
    test: int
    treatment: int


@dataclass(frozen=True)
class Offsets:
    """Global row numbers of the first row of a block in each table (keeps ids unique)."""

    patient: int
    test: int
    treatment: int


def _list_labels(tokens: tuple[str, ...]) -> list[str]:
    """The ``;``-joined text of every subset of ``tokens``, indexed by bitmask."""
    return [
        schema.LIST_SEPARATOR.join(t for bit, t in enumerate(tokens) if mask >> bit & 1)
        for mask in range(1 << len(tokens))
    ]


def _schema_table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    expected = schema.table(name).column_names
    if set(columns) != set(expected):
        raise AssertionError(f"{name}: generator columns differ from the schema: {sorted(set(columns) ^ set(expected))}")
    return pa.table({c: columns[c] for c in expected})


def _diagnoses(base: Baseline, patient_id: pa.Array, diagnosis_id: pa.Array) -> pa.Table:
    site_groups = [schema.site_group_for(code) for code in base.site_codes]
    ecog_valid = base.ecog_valid
    metastatic = base.metastatic_mask > 0
    return _schema_table("diagnoses", {
        "diagnosis_id": diagnosis_id,
        "patient_id": patient_id,
        "diagnosis_date": date_array(base.diagnosis),
        "mdt_date": date_array(base.mdt),
        "primary_site": coded_array(base.site, base.site_codes),
        "site_group": coded_array(base.site, site_groups, base.site_group_typed),
        "morphology": coded_array(base.morphology, schema.MORPHOLOGY_CODES, base.morphology_valid),
        "differentiation": coded_array(base.differentiation, schema.DIFFERENTIATION, base.raw_recorded),
        "cell_type": coded_array(base.cell_type, schema.CELL_TYPES, base.cell_type_valid),
        "ki67_pct": float_array(base.ki67, base.ki67_valid),
        "mitoses_per_2mm2": float_array(base.mitoses, base.mitoses_valid),
        "non_ne_component_pct": float_array(base.non_ne, base.non_ne_valid),
        "necrosis": coded_array(base.necrosis, schema.NECROSIS, base.necrosis_valid),
        "who_category": coded_array(base.who, schema.WHO_CATEGORIES, base.who_typed),
        "stage": coded_array(base.stage, schema.STAGES),
        "resectable": bool_array(base.resectable, base.stage == LOCALLY_ADVANCED),
        "metastatic_sites": coded_array(base.metastatic_mask, _list_labels(schema.METASTATIC_SITES), metastatic),
        # metastases at diagnosis only: the simulated course has no metachronous ones
        "metastases_timing": coded_array(np.zeros(base.n, dtype=np.int64), schema.METASTASES_TIMING,
                                         base.metastases_timing_valid),
        "ecog_ps": int_array(base.ecog, ecog_valid),
        "karnofsky": int_array(base.karnofsky, base.karnofsky_valid),
        "notes": coded_array(base.note, NOTES, base.note_valid),
    })


def _treatments(course: Course, catalogue: Catalogue, patient_id: pa.Array, diagnosis_id: pa.Array,
                ids: pa.Array) -> pa.Table:
    t = course.treatments
    patient = pa.array(t.patient)
    systemic = t.modality == schema.MODALITIES.index("systemic")
    return _schema_table("treatments", {
        "treatment_id": ids,
        "patient_id": pc.take(patient_id, patient),
        "diagnosis_id": pc.take(diagnosis_id, patient),
        "modality": coded_array(t.modality, schema.MODALITIES),
        "line": int_array(t.line, systemic),
        "regimen": coded_array(t.label, catalogue.labels),
        "agents": coded_array(t.agents, catalogue.agents, t.agents_valid),
        "start_date": date_array(t.start),
        "end_date": date_array(t.end, t.end_valid),
        "stop_reason": coded_array(t.stop, schema.STOP_REASONS, t.stop_valid),
        "best_response": coded_array(t.response, schema.RECIST_RESPONSES, t.response_valid),
        "ne_reason": coded_array(t.ne_reason, NE_REASONS, t.response_valid & (t.response == NE)),
        "progression_date": date_array(t.progression, t.progression_valid),
        "last_assessment_date": date_array(t.last_assessment, t.last_assessment_valid),
    })


def _molecular(rows: MolecularRows, patient_id: pa.Array, ids: pa.Array) -> pa.Table:
    gene_row, msi_row, tmb_row = rows.kind == 0, rows.kind == 1, rows.kind == 2
    return _schema_table("molecular_tests", {
        "test_id": ids,
        "patient_id": pc.take(patient_id, pa.array(rows.patient)),
        "test_date": date_array(rows.test_day),
        "method": coded_array(rows.method, schema.TEST_METHODS),
        "assay": coded_array(rows.assay, rows.assays),
        "gene": coded_array(rows.gene, schema.GENES, gene_row),
        "alteration": coded_array(rows.alteration, schema.ALTERATIONS, gene_row),
        "variant": coded_array(rows.variant, rows.variants, rows.variant_valid),
        "msi_status": coded_array(rows.msi, schema.MSI_STATUSES, msi_row),
        "tmb": float_array(rows.tmb, tmb_row),
    })


def block_tables(
    base: Baseline, course: Course, molecular: MolecularRows, catalogue: Catalogue, keys: IdKeys, offsets: Offsets
) -> dict[str, pa.Table]:
    """Build the five registry tables of one simulated block.

    Parameters
    ----------
    base, course, molecular
        The simulated block.
    catalogue
        Regimen catalogue (labels and agent lists).
    keys
        Id scrambling keys.
    offsets
        Global row numbers of the block's first rows (ids stay unique across blocks).

    Returns
    -------
    dict of str to pyarrow.Table
        ``patients``, ``diagnoses``, ``molecular_tests``, ``treatments``, ``follow_up``.
    """
    index = offsets.patient + np.arange(base.n, dtype=np.int64)
    patient_id = opaque_ids("NEN-", index, keys.patient)
    diagnosis_id = opaque_ids("DX-", index, keys.diagnosis)
    n_treat = len(course.treatments.patient)
    n_test = len(molecular.patient)
    patients = _schema_table("patients", {
        "patient_id": patient_id,
        "sex": coded_array(base.male.astype(np.int64), schema.SEXES),
        "birth_date": date_array(base.birth),
    })
    follow_up = _schema_table("follow_up", {
        "patient_id": patient_id,
        "last_contact_date": date_array(course.last_contact),
        "vital_status": coded_array(course.dead.astype(np.int64), ("alive", "dead")),
        "death_date": date_array(course.death, course.dead),
    })
    return {
        "patients": patients,
        "diagnoses": _diagnoses(base, patient_id, diagnosis_id),
        "molecular_tests": _molecular(
            molecular, patient_id, opaque_ids("MT-", offsets.test + np.arange(n_test, dtype=np.int64), keys.test)
        ),
        "treatments": _treatments(
            course, catalogue, patient_id, diagnosis_id,
            opaque_ids("TX-", offsets.treatment + np.arange(n_treat, dtype=np.int64), keys.treatment),
        ),
        "follow_up": follow_up,
    }
