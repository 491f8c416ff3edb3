"""Simulate molecular profiling: NGS gene results, MSI status and TMB with the assay that gave them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nenstudy.registry import schema
from nenstudy.synth.parameters import ParameterSet, probabilities
from nenstudy.synth.population import LUNG_NEC, NET, Baseline
from nenstudy.synth.sampling import DAYS_PER_MONTH, categorical, group_table

__all__ = ["MolecularRows", "simulate_molecular", "VARIANTS", "MSI_ASSAYS"]

VARIANTS: dict[str, tuple[str, ...]] = {
    "TP53": ("R273H", "R175H", "R248Q", "R248W", "R282W", "Y220C", "G245S"),
    "KRAS": ("G12D", "G12V", "G12C", "G13D", "Q61H"),
    "BRAF": ("V600E", "V600E", "V600E", "V600E", "G469A", "D594G"),
    "APC": ("R1450*", "Q1367*", "E1309fs", "R876*"),
    "RB1": ("R358*", "R455*", "R579*", "c.1814+1G>A"),
    "ARID1A": ("Q546*", "R1989*", "Q1334*"),
    "FBXW7": ("R465C", "R505C", "R479Q"),
    "PIK3CA": ("E545K", "H1047R", "E542K"),
    "SMAD4": ("R361H", "R361C", "D537Y"),
    "PTEN": ("R130*", "R233*", "K267fs"),
}
"""Example protein-level variants recorded for mutated genes."""

MSI_ASSAYS = {"PCR": "Promega MSI Analysis System", "IHC": "MMR IHC (MLH1/PMS2/MSH2/MSH6)"}
"""Assay names of MSI tests that are not part of the NGS panel."""

_ALTERATION = {a: i for i, a in enumerate(schema.ALTERATIONS)}
_GENE = {g: i for i, g in enumerate(schema.GENES)}
_METHOD = {m: i for i, m in enumerate(schema.TEST_METHODS)}
_MSI = {s: i for i, s in enumerate(schema.MSI_STATUSES)}


@dataclass(frozen=True)
class MolecularRows:
    """Molecular test rows as parallel arrays; ``kind`` 0 = gene, 1 = MSI, 2 = TMB."""

    patient: np.ndarray
    test_day: np.ndarray
    method: np.ndarray
    assay: np.ndarray
    assays: tuple[str, ...]
    kind: np.ndarray
    gene: np.ndarray
    alteration: np.ndarray
    variant: np.ndarray
    variant_valid: np.ndarray
    variants: tuple[str, ...]
    msi: np.ndarray
    tmb: np.ndarray


def _gene_results(
    rng: np.random.Generator, params: ParameterSet, net: np.ndarray, colorectal: np.ndarray, lung: np.ndarray
) -> np.ndarray:
    """Alteration code of every gene of :data:`schema.GENES` for each profiled patient
    (pulmonary NEC with a profile of its own: TP53 and RB1 mostly, KRAS, APC and BRAF rarely)."""
    m = len(net)
    factor = np.where(net, params["molecular.net_factor"], 1.0)
    result = np.full((m, len(schema.GENES)), _ALTERATION["wild_type"])
    extra, lung_genes = params["molecular.gene_mutation"], params["molecular.lung_nec_gene_mutation"]
    for gene in sorted(set(extra) | set(lung_genes)):
        p = np.where(lung, lung_genes.get(gene, 0.0), extra.get(gene, 0.0))
        result[rng.random(m) < p * factor, _GENE[gene]] = _ALTERATION["mutation"]
    braf = params["molecular.braf_mutation"]
    p_braf = np.select([lung, colorectal], [params["molecular.lung_nec_braf_mutation"], braf["colorectal"]], braf["other"])
    braf_mutated = rng.random(m) < p_braf * factor
    result[braf_mutated, _GENE["BRAF"]] = _ALTERATION["mutation"]
    result[braf_mutated, _GENE["KRAS"]] = _ALTERATION["wild_type"]
    rb1 = result[:, _GENE["RB1"]]
    p_loss = np.where(lung, params["molecular.lung_nec_rb1_cn_loss"], params["molecular.rb1_cn_loss"])
    lost = (rb1 == _ALTERATION["wild_type"]) & (rng.random(m) < p_loss * factor)
    result[lost, _GENE["RB1"]] = _ALTERATION["cn_loss"]
    copy_number = params["molecular.copy_number"]
    result[rng.random(m) < copy_number["MYC"] * factor, _GENE["MYC"]] = _ALTERATION["amplification"]
    result[rng.random(m) < copy_number["CDKN2A"] * factor, _GENE["CDKN2A"]] = _ALTERATION["cn_loss"]
    return result


def simulate_molecular(
    rng: np.random.Generator, params: ParameterSet, base: Baseline, last_contact: np.ndarray
) -> MolecularRows:
    """Simulate the molecular test rows of a block of patients.

    A profiled patient has one NGS panel (one row per gene of the schema's gene list), an MSI
    result for about half (by PCR, immunohistochemistry or the panel) and a TMB value when the
    panel reports TMB. All rows of a patient share the test date, between diagnosis and last
    contact.
    """
    profiled = np.flatnonzero(rng.random(base.n) < group_table(params["molecular.profiled"], base.group))
    m = len(profiled)
    panels, panel_probs = probabilities(params["molecular.assays"], "molecular.assays")
    assays = tuple(panels) + tuple(MSI_ASSAYS.values())
    panel = categorical(rng, np.tile(panel_probs, (m, 1)))
    low, high = params["molecular.test_after_diagnosis_months"]
    day = base.diagnosis[profiled] + np.floor(rng.uniform(low, high, m) * DAYS_PER_MONTH).astype(np.int64)
    # A date drawn after the last contact (death, mostly) is drawn again within the follow-up:
    # tissue taken at diagnosis is tested while the patient is followed, not on the last day.
    followed = last_contact[profiled] - base.diagnosis[profiled]
    within = base.diagnosis[profiled] + np.floor(rng.random(m) * (followed + 1)).astype(np.int64)
    day = np.where(day > last_contact[profiled], within, day)

    genes = _gene_results(rng, params, base.group[profiled] == NET, base.colorectal[profiled],
                          base.group[profiled] == LUNG_NEC)
    n_genes = len(schema.GENES)
    gene_patient = np.repeat(np.arange(m), n_genes)
    gene_code = np.tile(np.arange(n_genes), m)
    alteration = genes.reshape(-1)
    variants = tuple(sorted({v for vs in VARIANTS.values() for v in vs}))
    table = np.zeros((n_genes, max(len(v) for v in VARIANTS.values())), dtype=np.int64)
    counts = np.ones(n_genes, dtype=np.int64)
    for gene, names in VARIANTS.items():
        table[_GENE[gene], : len(names)] = [variants.index(v) for v in names]
        counts[_GENE[gene]] = len(names)
    pick = np.floor(rng.random(len(gene_code)) * counts[gene_code]).astype(np.int64)
    variant = table[gene_code, pick]
    has_variants = np.isin(gene_code, [_GENE[g] for g in VARIANTS])
    variant_valid = (alteration == _ALTERATION["mutation"]) & has_variants

    net = base.group[profiled] == NET
    # NETs are rarely MSI-high, and carry a low TMB, as they carry few alterations
    msi_high = rng.random(m) < params["molecular.msi_high"] * np.where(
        net, params["molecular.net_factor"], 1.0)
    msi_tested = np.flatnonzero(rng.random(m) < params["molecular.msi_tested"])
    methods, method_probs = probabilities(params["molecular.msi_methods"], "molecular.msi_methods")
    msi_method = np.array([_METHOD[x] for x in methods])[categorical(rng, np.tile(method_probs, (len(msi_tested), 1)))]
    # a panel that reports no MSI leaves it to PCR
    msi_capable = np.isin(panel, [panels.index(a) for a in params["molecular.msi_assays"]])
    msi_method = np.where((msi_method == _METHOD["NGS"]) & ~msi_capable[msi_tested],
                          _METHOD["PCR"], msi_method)
    msi_assay = np.select(
        [msi_method == _METHOD["PCR"], msi_method == _METHOD["IHC"]],
        [assays.index(MSI_ASSAYS["PCR"]), assays.index(MSI_ASSAYS["IHC"])],
        panel[msi_tested],
    )

    tmb_capable = np.isin(panel, [panels.index(a) for a in params["molecular.tmb_assays"]])
    tmb_tested = np.flatnonzero(tmb_capable)
    median, sdlog = params["molecular.tmb_lognormal"]
    tmb = np.where(net, params["molecular.net_tmb_factor"], 1.0) * median * np.exp(
        sdlog * rng.standard_normal(m))
    tmb = np.round(np.where(msi_high, tmb * params["molecular.msi_high_tmb_factor"], tmb), 1)

    k_gene, k_msi, k_tmb = len(gene_patient), len(msi_tested), len(tmb_tested)
    local = np.concatenate([gene_patient, msi_tested, tmb_tested])
    kind = np.concatenate([np.zeros(k_gene, np.int64), np.ones(k_msi, np.int64), np.full(k_tmb, 2)])
    order = np.lexsort((kind, local))

    def cat(gene_part, msi_part, tmb_part):
        return np.concatenate([gene_part, msi_part, tmb_part])[order]

    zeros = lambda k: np.zeros(k, dtype=np.int64)  # noqa: E731
    return MolecularRows(
        patient=profiled[local[order]],
        test_day=day[local[order]],
        method=cat(np.full(k_gene, _METHOD["NGS"]), msi_method, np.full(k_tmb, _METHOD["NGS"])),
        assay=cat(panel[gene_patient], msi_assay, panel[tmb_tested]),
        assays=assays,
        kind=kind[order],
        gene=cat(gene_code, zeros(k_msi), zeros(k_tmb)),
        alteration=cat(alteration, zeros(k_msi), zeros(k_tmb)),
        variant=cat(variant, zeros(k_msi), zeros(k_tmb)),
        variant_valid=cat(variant_valid, np.zeros(k_msi, bool), np.zeros(k_tmb, bool)),
        variants=variants,
        msi=cat(zeros(k_gene), np.where(msi_high[msi_tested], _MSI["MSI-H"], _MSI["MSS"]), zeros(k_tmb)),
        tmb=cat(np.zeros(k_gene), np.zeros(k_msi), tmb[tmb_tested]),
    )
