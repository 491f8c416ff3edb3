"""Fixtures for the report tests: a realistic results.json generated here (no study engine needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

DAYS_PER_MONTH = 30.4375
RISK_TIMES = [0, 6, 12, 18, 24, 30, 36, 42, 48]
GENES = ["TP53", "RB1", "KRAS", "BRAF", "APC", "ARID1A", "MYC", "FBXW7", "PIK3CA"]
GENE_FREQ = [0.64, 0.3, 0.22, 0.18, 0.28, 0.1, 0.08, 0.06, 0.05]


def _km(time: np.ndarray, event: np.ndarray, z: float = 1.959963984540054) -> dict:
    """A plain Kaplan-Meier with Greenwood log-log CIs, as results.json stores it."""
    ut, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=event).astype(int)
    total = np.bincount(inv)
    c = total - d
    n_risk = len(time) - np.concatenate([[0], np.cumsum(total)[:-1]])
    s = np.cumprod(1.0 - d / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.cumsum(d / (n_risk * (n_risk - d)))
        a = np.sqrt(var) / np.abs(np.log(s))
        lower = np.where(s >= 1, 1.0, s ** np.exp(z * a))
        upper = np.where(s >= 1, 1.0, s ** np.exp(-z * a))
    ok = (s > 0) & np.isfinite(lower)

    def first_time(mask):
        idx = np.flatnonzero(mask)
        return None if idx.size == 0 else round(float(ut[idx[0]]), 4)

    median = first_time(s <= 0.5)
    ci = [first_time(ok & (lower <= 0.5)), first_time(ok & (upper <= 0.5))]
    risk = [int((time >= t).sum()) for t in RISK_TIMES]

    def rate(t):
        idx = np.searchsorted(ut, t, side="right") - 1
        if idx < 0:
            return {"survival": 1.0, "lower": 1.0, "upper": 1.0, "n_risk": int(len(time))}
        return {"survival": float(s[idx]), "lower": float(lower[idx]), "upper": float(upper[idx]),
                "n_risk": int((time >= t).sum())}

    return {
        "n": int(len(time)), "events": int(event.sum()), "median": median, "ci": ci,
        "conf_type": "log-log", "conf_level": 0.95,
        "rates": {"12": rate(12), "24": rate(24)},
        "curve": {
            "time": [round(float(t), 4) for t in ut], "survival": [float(v) for v in s],
            "lower": [float(v) if k else None for v, k in zip(lower, ok)],
            "upper": [float(v) if k else None for v, k in zip(upper, ok)],
            "n_risk": n_risk.tolist(), "n_event": d.tolist(), "n_censor": c.tolist(),
        },
        "risk_table": {"times": RISK_TIMES, "n_risk": risk},
    }


def _categorical(name, label, values, groups, levels, test, p):
    def summary(v):
        known = v[v != None]  # noqa: E711  (object array with None for missing)
        counts = {lv: int((known == lv).sum()) for lv in levels}
        tot = max(len(known), 1)
        return {"counts": counts, "pct": {lv: counts[lv] / tot for lv in levels},
                "missing": int(len(v) - len(known))}

    return {"name": name, "label": label, "type": "categorical", "levels": levels,
            "overall": summary(values),
            "by_group": {g: summary(values[groups == g]) for g in np.unique(groups)},
            "test": test, "p_value": p}


def _continuous(name, label, values, groups, test, p):
    def summary(v):
        known = v[~np.isnan(v)]
        q1, med, q3 = np.percentile(known, [25, 50, 75])
        return {"n": int(len(known)), "median": float(med), "q1": float(q1), "q3": float(q3),
                "missing": int(np.isnan(v).sum())}

    return {"name": name, "label": label, "type": "continuous", "overall": summary(values),
            "by_group": {g: summary(values[groups == g]) for g in np.unique(groups)},
            "test": test, "p_value": p}


def make_results(seed: int = 7, n: int = 173) -> dict:
    """Generate a realistic results.json dictionary following docs/results_spec (EP-NEC-like)."""
    rng = np.random.default_rng(seed)
    ki67 = np.clip(rng.normal(70, 18, n), 21, 100).round()
    ki67_group = np.where(ki67 < 55, "<55", ">=55")
    ecog = rng.choice(["0-1", "2-4"], n, p=[0.75, 0.25])
    metastatic = rng.choice(["no", "yes"], n, p=[0.25, 0.75])
    morphology = rng.choice(["small cell", "large cell", None], n, p=[0.45, 0.5, 0.05])
    sex = rng.choice(["F", "M"], n, p=[0.4, 0.6])
    site = rng.choice(["GEP", "other extra-pulmonary", "unknown primary"], n, p=[0.7, 0.2, 0.1])
    age = rng.normal(64, 10, n).round()
    age[rng.random(n) < 0.03] = np.nan
    hazard = 0.028 * np.where(ecog == "2-4", 2.2, 1.0) * np.where(metastatic == "yes", 1.8, 1.0)
    death = rng.exponential(1 / hazard)
    censor = rng.uniform(6, 50, n)
    os_time = np.minimum(death, censor).round(2)
    os_event = (death <= censor).astype(int)

    treated = rng.random(n) < 136 / 173
    pfs_death = rng.exponential(1 / 0.12, n)
    pfs_cens = rng.uniform(2, 40, n)
    pfs_time = np.minimum(pfs_death, pfs_cens).round(2)[treated]
    pfs_event = (pfs_death <= pfs_cens).astype(int)[treated]

    groupings = {"ki67_group": ki67_group, "ecog_group": ecog, "metastatic": metastatic}

    def stratified(time, event, mask_treated=None):
        out = {}
        for gname, labels in groupings.items():
            lab = labels if mask_treated is None else labels[mask_treated]
            groups = {}
            for lv in np.unique(lab):
                km = _km(time[lab == lv], event[lab == lv])
                km.pop("rates")
                groups[str(lv)] = km
            out[gname] = {"logrank_p": {"ki67_group": 0.41, "ecog_group": 0.00031, "metastatic": 0.012}[gname],
                          "statistic": 3.1, "df": 1, "test": "log-rank", "groups": groups}
        return out

    os_km = _km(os_time, os_event)
    os_km["origin"] = "diagnosis"
    pfs_km = _km(pfs_time, pfs_event)
    pfs_km["origin"] = "first_line_start"

    # Molecular: 52 profiled patients; one rare-count gene for suppression tests.
    profiled = 52
    mol_ids = [f"P{i:04d}" for i in sorted(rng.choice(np.arange(1, n + 1), profiled, replace=False))]
    alterations = []
    tested_mask = rng.random((profiled, len(GENES))) < 0.92
    altered_mask = rng.random((profiled, len(GENES))) < np.array(GENE_FREQ)
    kinds = rng.choice(["mutation", "cn_loss", "amplification"], (profiled, len(GENES)), p=[0.8, 0.12, 0.08])
    for i in range(profiled):
        row = []
        for j in range(len(GENES)):
            row.append(None if not tested_mask[i, j] else (str(kinds[i, j]) if altered_mask[i, j] else "wild_type"))
        alterations.append(row)
    genes = {}
    for j, g in enumerate(GENES):
        col = [r[j] for r in alterations]
        genes[g] = {"altered": sum(1 for v in col if v not in (None, "wild_type")),
                    "tested": sum(1 for v in col if v is not None)}
    msi = [("MSI-H" if i == 3 else "MSS") if i < 25 else None for i in range(profiled)]
    tmb = [float(round(rng.gamma(2, 2), 1)) for _ in range(profiled)]
    tmb[5] = 19.0

    swimmer = []
    treated_idx = np.flatnonzero(treated)
    for k, i in enumerate(treated_idx):
        start = float(round(rng.uniform(0.3, 1.5), 2))
        end_all = float(os_time[i])
        lines = []
        t = start
        for line in (1, 2, 3):
            dur = float(rng.exponential(4.5))
            stop = min(t + dur, end_all)
            prog = stop + 0.3 if stop + 0.3 < end_all else None
            lines.append({"line": line, "start": round(t, 2), "end": round(stop, 2),
                          "regimen": ["platinum_etoposide", "FOLFIRI", "CAPTEM"][line - 1],
                          "progression": None if prog is None else round(prog, 2)})
            t = stop + 0.8
            if t >= end_all or rng.random() > [0.42, 0.43][min(line - 1, 1)]:
                break
        swimmer.append({"id": f"P{i + 1:04d}", "end": end_all, "dead": bool(os_event[i]), "lines": lines})

    regimens = {"platinum_etoposide": 111, "FOLFIRI": 5, "FOLFOX": 8, "CAPTEM": 7, "carboplatin_paclitaxel": 3,
                "irinotecan_cisplatin": 2}
    labels = {"platinum_etoposide": "Platinum + etoposide", "FOLFIRI": "FOLFIRI", "FOLFOX": "FOLFOX",
              "CAPTEM": "CAPTEM", "carboplatin_paclitaxel": "Carboplatin + paclitaxel",
              "irinotecan_cisplatin": "Irinotecan + cisplatin", "topotecan": "Topotecan",
              "immunotherapy": "Immunotherapy"}

    def cox_rows(scale):
        base = [("ecog_group", "ecog_group2-4", "ECOG PS 2-4 vs 0-1", 2.1),
                ("metastatic", "metastaticyes", "Metastatic vs not", 1.75),
                ("ki67_group", "ki67_group>=55", "Ki-67 >=55% vs <55%", 1.12),
                ("morphology", "morphologysmall cell", "Small cell vs large cell", 0.93),
                ("age", "age", "Age, per year", 1.012)]
        rows = []
        for var, term, label, hr in base:
            hr = hr ** scale
            spread = 0.02 if var == "age" else 0.25
            rows.append({"variable": var, "term": term, "label": label, "hr": hr,
                         "lower": hr * np.exp(-1.96 * spread), "upper": hr * np.exp(1.96 * spread),
                         "p_value": {"ecog_group": 0.0004, "metastatic": 0.021, "ki67_group": 0.58,
                                     "morphology": 0.74, "age": 0.21}[var], "n": 170, "events": 118})
        return rows

    cox_block = {
        "univariable": cox_rows(1.0), "multivariable": cox_rows(0.9)[:4],
        "multivariable_n": 165, "multivariable_events": 114,
        "ph_test": [{"term": "ecog_group", "chisq": 0.5, "df": 1, "p_value": 0.48},
                    {"term": "GLOBAL", "chisq": 2.2, "df": 4, "p_value": 0.7}],
        "concordance": [0.66, 0.02], "ties": "efron"}

    results = {
        "study": {"name": "epnec", "title": "Extra-pulmonary neuroendocrine carcinoma (EP-NEC) at a NEN MDT",
                  "description": "Single-center retrospective series of pure-histology EP-NEC discussed at a "
                                 "NEN-dedicated MDT, Oct 2018 - Aug 2022.",
                  "study_file": "studies/epnec.toml", "time_unit": "months", "days_per_month": DAYS_PER_MONTH,
                  "conf_type": "log-log", "conf_level": 0.95, "ties": "efron",
                  "os_origin": "diagnosis", "pfs_origin": "first_line_start",
                  "ki67_cutpoints": [20, 55], "table1_by": "ki67_group"},
        "attrition": [
            {"step": "nen_mdt", "label": "NEN diagnoses discussed at MDT", "n": 1594, "excluded": 0, "reason": None},
            {"step": "nec", "label": "Neuroendocrine carcinoma", "n": 377, "excluded": 1217,
             "reason": "not NEC (NET G1-G3, MiNEN)"},
            {"step": "pure", "label": "Pure histology", "n": 301, "excluded": 76, "reason": "mixed histology"},
            {"step": "extrapulmonary", "label": "Extra-pulmonary primary", "n": 176, "excluded": 125,
             "reason": "pulmonary primary"},
            {"step": "window", "label": "Diagnosed Oct 2018 - Aug 2022", "n": n, "excluded": 176 - n,
             "reason": "outside the study window"},
        ],
        "cohort_n": n,
        "baseline": {"n": n, "by": "ki67_group", "groups": ["<55", ">=55"], "variables": [
            _continuous("age", "Age at diagnosis, years", age, ki67_group, "Wilcoxon rank-sum", 0.41),
            _categorical("sex", "Sex", sex, ki67_group, ["F", "M"], "Pearson chi-square", 0.62),
            _categorical("site_group", "Primary site", site, ki67_group,
                         ["GEP", "other extra-pulmonary", "unknown primary"], "Fisher exact", 0.048),
            _categorical("morphology", "Morphology", morphology, ki67_group, ["small cell", "large cell"],
                         "Pearson chi-square", 0.0004),
            _categorical("ecog_group", "ECOG performance status", ecog, ki67_group, ["0-1", "2-4"],
                         "Pearson chi-square", 0.33),
            _continuous("ki67_pct", "Ki-67, %", ki67, ki67_group, "Wilcoxon rank-sum", 0.00001),
        ]},
        "os": os_km,
        "pfs": pfs_km,
        "followup": {"median": 30.1, "ci": [25.0, 34.0], "method": "reverse Kaplan-Meier"},
        "first_line": {"eligible": 153, "treated": 136, "regimens": regimens, "regimen_labels": labels},
        "response_first_line": {"CR": 3, "PR": 50, "SD": 30, "PD": 35, "NE": 18, "missing": 0,
                                "treated": 136, "evaluable": 118},
        "orr_first_line": {"responders": 53, "denominator": 136, "denominator_definition": "treated",
                           "rate": 53 / 136, "ci": [0.3070, 0.4768], "ci_method": "Clopper-Pearson",
                           "evaluable": {"denominator": 118, "rate": 53 / 118, "ci": [0.3574, 0.5440]}},
        "later_lines": {"second": {"n": 57, "of": 136}, "third": {"n": 24, "of": 136},
                        "regimens_by_line": {"1": regimens,
                                             "2": {"FOLFIRI": 30, "FOLFOX": 12, "CAPTEM": 9, "topotecan": 4,
                                                   "immunotherapy": 2},
                                             "3": {"CAPTEM": 10, "FOLFIRI": 8, "immunotherapy": 6}},
                        "transitions": [{"from": "L1:platinum_etoposide", "to": "L2:FOLFIRI", "n": 28},
                                        {"from": "L1:platinum_etoposide", "to": "L2:FOLFOX", "n": 12}]},
        "swimmer": swimmer,
        "molecular": {"profiled": profiled, "cohort": n, "genes": genes,
                      "msi": {"tested": 25, "high": 1},
                      "tmb": {"tested": profiled, "high": 1, "threshold": 10, "high_values": [19.0]},
                      "matrix": {"ids": mol_ids, "genes": GENES, "alterations": alterations,
                                 "msi": msi, "tmb": tmb}},
        "stratified": {"os": stratified(os_time, os_event), "pfs": stratified(pfs_time, pfs_event, treated)},
        "cox": {"os": cox_block, "pfs": {**cox_block, "univariable": cox_rows(0.7), "multivariable": cox_rows(0.6)[:3]}},
        "published": {"source": "J Neuroendocrinol 2025;37:e70057",
                      "items": {"cohort_n": 173, "median_os": 15.4, "median_os_ci": [13.2, 18.5]}},
        "comparison": [
            {"item": "Final cohort, n", "published": "173", "registry": str(n), "published_value": 173,
             "registry_value": n},
            {"item": "Median OS, months", "published": "15.4 (13.2-18.5)", "registry": "14.9 (12.8-17.1)",
             "published_value": 15.4, "registry_value": 14.9},
            {"item": "ORR to first line", "published": "40%", "registry": "39.0%", "published_value": 0.40,
             "registry_value": 53 / 136},
            {"item": "MSI-high", "published": "1/25", "registry": "1/25", "published_value": 1,
             "registry_value": 1},
        ],
        "methods": {"km": "Kaplan-Meier, Greenwood variance, log-log CI", "median_ci": "Brookmeyer-Crowley",
                    "logrank": "log-rank test (chi-square, k-1 df)", "cox": "Efron ties, Wald CIs",
                    "ph": "Grambsch-Therneau (cox.zph, km transform)", "binomial": "Clopper-Pearson",
                    "software": {"nenstudy": "0.1.0", "python": "3.11.7", "numpy": "2.1.0", "duckdb": "1.1.3"}},
        "provenance": {"nenstudy_version": "0.1.0", "registry_sha256": "ab" * 32, "study_sha256": "cd" * 32,
                       "seed": 2022, "synthetic": True, "generated_at": "2026-11-23T23:59:00Z",
                       "registry": "registry.duckdb"},
    }
    return results


def write_results(out_dir: Path, results: dict) -> Path:
    """Write a results dictionary as out_dir/results.json (strict JSON: no NaN)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    path.write_text(json.dumps(results, allow_nan=False, indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def results_dict() -> dict:
    """The generated results, as a dictionary."""
    return make_results()


@pytest.fixture()
def results_dir(tmp_path: Path, results_dict: dict) -> Path:
    """A fresh folder holding only results.json."""
    write_results(tmp_path, results_dict)
    return tmp_path


@pytest.fixture(scope="session")
def built_report(tmp_path_factory: pytest.TempPathFactory, results_dict: dict) -> tuple[Path, list[Path]]:
    """The report built once from the generated results (no suppression): (out_dir, written paths)."""
    from nenstudy.report import build_report

    out = tmp_path_factory.mktemp("report")
    write_results(out, results_dict)
    return out, build_report(out)


@pytest.fixture(scope="session")
def built_suppressed(tmp_path_factory: pytest.TempPathFactory, results_dict: dict) -> tuple[Path, list[Path]]:
    """The report built once with --suppress-below 5."""
    from nenstudy.report import build_report

    out = tmp_path_factory.mktemp("report_suppressed")
    write_results(out, results_dict)
    return out, build_report(out, suppress_below=5)
