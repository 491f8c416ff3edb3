"""Molecular profile of the cohort, computed in SQL: profiled, per-gene, MSI and TMB.

Definitions (registry_spec): a patient is *profiled* when any molecular test row exists; a
gene is *tested* when a row for that gene exists and *altered* when any of those rows has an
alteration other than ``wild_type``; MSI is *tested* when an MSI status is recorded and *high*
when any is ``MSI-H``; TMB is *tested* when a value is recorded and *high* when the patient's
highest value is at or above the threshold. The matrix (patients x genes) gives, per cell, the
non-wild-type alterations joined by ``;`` (in the schema's order of codes), ``wild_type``, or
``None`` when not tested. The TMB assays are counted by name, a name (free text) shown only
when it can identify no one.
"""

from __future__ import annotations

from typing import Any

import duckdb

from nenstudy.registry import sql
from nenstudy.study.definition import StudyDefinition
from nenstudy.study.survival import num

__all__ = ["molecular_block", "OTHER_ASSAYS", "MIN_ASSAY_PATIENTS"]

OTHER_ASSAYS = "(other)"
"""Key of the TMB assays pooled in the results: free text is shown only when it can identify
no one (see :func:`_assay_counts`)."""
MIN_ASSAY_PATIENTS = 2
"""An assay name recorded for fewer patients of the cohort is pooled under ``OTHER_ASSAYS``."""
_ID_WORD = 6
"""Words of only digits shorter than this are not looked up among the identifiers: a bare
``500`` (TruSight Oncology 500) cannot be told from a small numeric identifier, and says
nothing about a person."""


def molecular_block(con: duckdb.DuckDBPyConnection, study: StudyDefinition) -> dict[str, Any]:
    """Summarise the molecular tests of the cohort.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection holding ``cohort`` with the store attached as ``reg``.
    study : StudyDefinition
        Genes and the TMB-high threshold.

    Returns
    -------
    dict
        ``profiled, cohort, genes, msi, tmb, matrix`` (results_spec.md).
    """
    genes = list(study.molecular.genes)
    threshold = study.molecular.tmb_high_threshold
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE cohort_tests AS
        SELECT c.usubjid, m.gene, m.alteration, m.msi_status, CAST(m.tmb AS DOUBLE) AS tmb, m.assay
        FROM cohort c JOIN reg.molecular_tests m ON m.patient_id = c.patient_id
        """
    )
    cohort_n, profiled = con.execute(
        "SELECT (SELECT count(*) FROM cohort), (SELECT count(DISTINCT usubjid) FROM cohort_tests)"
    ).fetchone()
    per_gene = {
        gene: (int(tested), int(altered))
        for gene, tested, altered in con.execute(
            """
            SELECT gene, count(DISTINCT usubjid),
                   count(DISTINCT usubjid) FILTER (WHERE alteration <> 'wild_type')
            FROM cohort_tests WHERE gene IS NOT NULL GROUP BY gene
            """
        ).fetchall()
    }
    msi_tested, msi_high = con.execute(
        """
        SELECT count(DISTINCT usubjid), count(DISTINCT usubjid) FILTER (WHERE msi_status = 'MSI-H')
        FROM cohort_tests WHERE msi_status IS NOT NULL
        """
    ).fetchone()
    tmb_rows = con.execute(
        "SELECT usubjid, max(tmb) FROM cohort_tests WHERE tmb IS NOT NULL GROUP BY usubjid ORDER BY usubjid"
    ).fetchall()
    high_values = sorted(float(v) for _, v in tmb_rows if v >= threshold)
    assays = _assay_counts(con)
    gene_list = "[" + ", ".join("'" + g.replace("'", "''") + "'" for g in genes) + "]"
    cells = con.execute(
        f"""
        WITH profiled AS (SELECT DISTINCT usubjid FROM cohort_tests),
        per_cell AS (
            SELECT usubjid, gene,
                   coalesce(string_agg(DISTINCT alteration, ';' ORDER BY alteration)
                                FILTER (WHERE alteration <> 'wild_type'), 'wild_type') AS cell
            FROM cohort_tests WHERE gene IS NOT NULL GROUP BY usubjid, gene
        ),
        per_patient AS (
            SELECT usubjid,
                   CASE WHEN bool_or(msi_status = 'MSI-H') THEN 'MSI-H'
                        WHEN bool_or(msi_status = 'MSS') THEN 'MSS' END AS msi,
                   max(tmb) AS tmb
            FROM cohort_tests GROUP BY usubjid
        )
        SELECT p.usubjid, list(pc.cell ORDER BY g.i) AS cells, pp.msi, pp.tmb
        FROM profiled p
        CROSS JOIN (SELECT unnest({gene_list}) AS gene, generate_subscripts({gene_list}, 1) AS i) g
        LEFT JOIN per_cell pc ON pc.usubjid = p.usubjid AND pc.gene = g.gene
        JOIN per_patient pp ON pp.usubjid = p.usubjid
        GROUP BY p.usubjid, pp.msi, pp.tmb
        ORDER BY p.usubjid
        """
    ).fetchall() if genes else []
    con.execute("DROP TABLE IF EXISTS cohort_tests")
    return {
        "profiled": int(profiled),
        "cohort": int(cohort_n),
        "profiled_rate": (profiled / cohort_n) if cohort_n else None,
        "genes": {g: {"altered": per_gene.get(g, (0, 0))[1], "tested": per_gene.get(g, (0, 0))[0]} for g in genes},
        "msi": {"tested": int(msi_tested), "high": int(msi_high)},
        "tmb": {"tested": len(tmb_rows), "high": len(high_values), "threshold": float(threshold),
                "high_values": high_values, "assays": assays},
        "matrix": {
            "ids": [row[0] for row in cells],
            "genes": genes,
            "alterations": [list(row[1]) for row in cells],
            "msi": [row[2] for row in cells],
            "tmb": [num(row[3]) for row in cells],
        },
    }


def _assay_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Patients with a TMB value per assay name, names being free text made safe to show.

    ``assay`` is free text, so a name reaches the results only when it was recorded for at
    least ``MIN_ASSAY_PATIENTS`` patients of the cohort (a label of one patient may be their
    name or a note) and holds no identifier of the registry (patient, diagnosis, test or
    treatment), whole or as a word, in any case. Every other name is pooled under
    ``OTHER_ASSAYS``, so the counts still add up to the patients tested. A patient measured
    with two assays counts under each.
    """
    rows = con.execute(
        f"""
        WITH names AS (
            SELECT assay, count(DISTINCT usubjid) AS n FROM cohort_tests
            WHERE tmb IS NOT NULL GROUP BY assay
        ),
        words AS (
            SELECT assay, lower(assay) AS w FROM names
            UNION ALL
            SELECT assay, unnest(regexp_split_to_array(lower(assay), '[^[:alnum:]_.-]+')) FROM names
        ),
        candidates AS (
            SELECT DISTINCT assay, w FROM words
            WHERE w <> '' AND (length(w) >= {_ID_WORD} OR regexp_matches(w, '[^0-9]'))
        ),
        identifying AS (
            SELECT DISTINCT assay FROM candidates WHERE w IN (
                SELECT lower(patient_id) FROM reg.patients
                UNION ALL SELECT lower(diagnosis_id) FROM reg.diagnoses
                UNION ALL SELECT lower(test_id) FROM reg.molecular_tests
                UNION ALL SELECT lower(treatment_id) FROM reg.treatments)
        ),
        shown AS (
            SELECT CASE WHEN n.n >= {MIN_ASSAY_PATIENTS} AND n.assay IS NOT NULL
                             AND n.assay NOT IN (SELECT assay FROM identifying)
                        THEN n.assay END AS name, c.usubjid
            FROM names n JOIN cohort_tests c ON c.assay IS NOT DISTINCT FROM n.assay
            WHERE c.tmb IS NOT NULL
        )
        SELECT coalesce(name, {sql.literal(OTHER_ASSAYS)}), count(DISTINCT usubjid) FROM shown
        GROUP BY name ORDER BY name IS NULL, 2 DESC, 1
        """
    ).fetchall()
    return {str(name): int(n) for name, n in rows}

