"""Plausibility of the simulated registry, computed from the generated data (never from parameters)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nenstudy.registry import schema
from .synth_cohort import advanced, died_within, ep_nec_cohort, registry_frames


def test_nec_share_of_diagnoses_is_in_a_broad_band(registry) -> None:
    who = registry["diagnoses"]["who_category"].dropna()
    assert 0.18 <= (who == "NEC").mean() <= 0.30


def test_every_who_category_occurs(registry) -> None:
    assert set(registry["diagnoses"]["who_category"].dropna()) == set(schema.WHO_CATEGORIES)


def test_extrapulmonary_pure_nec_cohort_has_about_170_patients(registry) -> None:
    assert 140 <= len(ep_nec_cohort(registry["diagnoses"])) <= 200


def test_cohort_is_mostly_gastroenteropancreatic(registry) -> None:
    groups = ep_nec_cohort(registry["diagnoses"])["site_group_derived"].value_counts(normalize=True)
    assert groups["GEP"] > 0.5
    assert groups.get("unknown_primary", 0) > 0.03
    assert groups.get("other_extrapulmonary", 0) > 0.03


def test_cohort_is_mostly_advanced(registry) -> None:
    assert 0.80 <= advanced(ep_nec_cohort(registry["diagnoses"])).mean() <= 0.95


def test_nec_ki67_is_mostly_above_50_percent(registry) -> None:
    ki67 = ep_nec_cohort(registry["diagnoses"])["ki67_pct"].dropna()
    assert ki67.min() > 20
    assert 0.6 <= (ki67 >= 50).mean() <= 0.95


def test_ki67_is_missing_for_a_few_percent(registry) -> None:
    assert 0.01 <= registry["diagnoses"]["ki67_pct"].isna().mean() <= 0.12


def test_performance_status_is_sometimes_karnofsky_only_or_missing(registry) -> None:
    d = registry["diagnoses"]
    karnofsky_only = d["ecog_ps"].isna() & d["karnofsky"].notna()
    neither = d["ecog_ps"].isna() & d["karnofsky"].isna()
    assert 0.03 <= karnofsky_only.mean() <= 0.15
    assert 0.02 <= neither.mean() <= 0.10


def test_typed_in_who_category_agrees_with_the_raw_elements(registry) -> None:
    d = registry["diagnoses"]
    raw = d[["differentiation", "cell_type", "ki67_pct", "mitoses_per_2mm2", "non_ne_component_pct"]]
    raw = raw.astype(object).where(raw.notna(), None)
    derived = [schema.derive_who_category(*row) for row in raw.itertuples(index=False)]
    both = pd.Series(derived, index=d.index).notna() & d["who_category"].notna()
    assert both.sum() > 0.8 * len(d)
    assert (pd.Series(derived, index=d.index)[both] == d["who_category"][both]).all()


def test_some_rows_carry_only_the_typed_in_category(registry) -> None:
    d = registry["diagnoses"]
    typed_only = d["who_category"].notna() & d["differentiation"].isna() & d["ki67_pct"].isna()
    assert 5 <= typed_only.sum() <= 0.1 * len(d)


def test_necrosis_follows_the_kind_of_tumour(large_registry) -> None:
    """Extensive necrosis mostly in NEC, none in a typical lung carcinoid (WHO 2021)."""
    d = large_registry["diagnoses"]
    stated = d[d["necrosis"].notna()]
    assert 0.4 <= len(stated) / d["differentiation"].notna().sum() <= 0.8
    nec = stated[stated["who_category"] == "NEC"]["necrosis"]
    assert (nec == "extensive").mean() > 0.4
    net = stated[stated["who_category"].isin(["NET G1", "NET G2"])]
    assert (net["necrosis"] == "absent").mean() > 0.8
    typical_lung = net[(net["primary_site"] == "C34.9") & (net["who_category"] == "NET G1")]
    assert len(typical_lung) > 0 and (typical_lung["necrosis"] == "absent").all()


def test_metastases_are_synchronous_when_their_timing_is_recorded(registry) -> None:
    """The simulated course has no metachronous metastases; most metastatic rows say so."""
    d = registry["diagnoses"]
    timing = d["metastases_timing"]
    assert set(timing.dropna()) == {"synchronous"}
    assert (d.loc[timing.notna(), "stage"] == "metastatic").all()
    assert 0.6 <= timing[d["stage"] == "metastatic"].notna().mean() <= 0.95


def test_patient_ids_are_opaque_and_not_sequential(registry) -> None:
    ids = registry["patients"]["patient_id"]
    assert ids.str.fullmatch(r"NEN-[0-9a-f]{16}").all()
    assert ids.is_unique
    assert not ids.is_monotonic_increasing


def test_no_event_is_recorded_after_the_data_cutoff(registry) -> None:
    assert pd.to_datetime(registry["follow_up"]["last_contact_date"]).max() <= pd.Timestamp("2023-06-30")


def test_mdt_dates_fall_in_the_study_window(registry) -> None:
    mdt = pd.to_datetime(registry["diagnoses"]["mdt_date"])
    assert mdt.min() >= pd.Timestamp("2018-10-01") and mdt.max() <= pd.Timestamp("2022-08-31")


def test_most_advanced_cohort_patients_get_a_first_line(registry) -> None:
    cohort = ep_nec_cohort(registry["diagnoses"])
    adv = cohort[advanced(cohort)]
    first = registry["treatments"].query("line == 1")
    share = adv["patient_id"].isin(first["patient_id"]).mean()
    assert 0.78 <= share <= 0.96


def test_first_lines_are_mostly_platinum_etoposide(registry) -> None:
    cohort = ep_nec_cohort(registry["diagnoses"])
    first = registry["treatments"].query("line == 1")
    first = first[first["patient_id"].isin(cohort["patient_id"])]
    agents = first["agents"].str.split(";")
    platinum_etoposide = agents.map(lambda a: "etoposide" in a and bool({"cisplatin", "carboplatin"} & set(a)))
    assert 0.70 <= platinum_etoposide.mean() <= 0.92
    assert first["regimen"].nunique() >= 5


def test_later_lines_are_fewer_than_first_lines(registry) -> None:
    lines = registry["treatments"]["line"].dropna().value_counts()
    assert lines[1] > lines[2] > lines[3] > 0


def test_about_a_third_of_the_cohort_is_profiled(registry) -> None:
    cohort = ep_nec_cohort(registry["diagnoses"])
    profiled = cohort["patient_id"].isin(registry["molecular_tests"]["patient_id"]).mean()
    assert 0.18 <= profiled <= 0.42


def test_tp53_is_the_most_frequently_altered_gene(large_registry) -> None:
    cohort = ep_nec_cohort(large_registry["diagnoses"])
    tests = large_registry["molecular_tests"]
    genes = tests[tests["patient_id"].isin(cohort["patient_id"]) & tests["gene"].notna()]
    altered = genes[genes["alteration"] != "wild_type"].groupby("gene")["patient_id"].nunique()
    assert altered.idxmax() == "TP53"
    assert 0.5 <= altered["TP53"] / genes["patient_id"].nunique() <= 0.8


def test_every_tmb_value_comes_from_a_tmb_reporting_panel(large_registry) -> None:
    tests = large_registry["molecular_tests"]
    assert set(tests.loc[tests["tmb"].notna(), "assay"]) <= {"FoundationOne CDx", "TruSight Oncology 500"}


def _cohort_mortality(reg: dict[str, pd.DataFrame], months: float = 9.0) -> pd.DataFrame:
    cohort = ep_nec_cohort(reg["diagnoses"]).copy()
    cohort["dead"] = died_within(cohort, reg["follow_up"], months)
    return cohort


def test_poor_performance_status_patients_die_earlier(large_registry) -> None:
    c = _cohort_mortality(large_registry)
    poor, good = c.loc[c["ecog_ps"] >= 2, "dead"].mean(), c.loc[c["ecog_ps"] < 2, "dead"].mean()
    assert poor > good + 0.10


def test_metastatic_patients_die_earlier(large_registry) -> None:
    c = _cohort_mortality(large_registry)
    metastatic = c["stage"] == "metastatic"
    assert c.loc[metastatic, "dead"].mean() > c.loc[~metastatic, "dead"].mean() + 0.08


@pytest.mark.parametrize(
    ("column", "split"),
    [("ki67_pct", lambda s: s >= 55), ("cell_type", lambda s: s == "small")],
    ids=["ki67_55", "small_cell"],
)
def test_ki67_group_and_morphology_do_not_change_mortality(large_registry, column, split) -> None:
    c = _cohort_mortality(large_registry)
    c = c[c[column].notna()]
    group = np.asarray(split(c[column]), dtype=bool)
    assert abs(c.loc[group, "dead"].mean() - c.loc[~group, "dead"].mean()) < 0.12


def test_a_ki67_hazard_ratio_in_the_parameters_does_change_mortality() -> None:
    from dataclasses import replace

    from nenstudy.synth.parameters import load_parameters

    params = load_parameters()
    strong = replace(params, values={**params.values, "hazard.ki67_high_hr": 4.0})
    c = _cohort_mortality(registry_frames(11, 3.0, strong))
    c = c[c["ki67_pct"].notna()]
    high = c["ki67_pct"] >= 55
    assert c.loc[high, "dead"].mean() > c.loc[~high, "dead"].mean() + 0.10


def test_treatments_of_the_dead_are_never_ongoing(large_registry) -> None:
    """Radiotherapy, PRRT and systemic lines end by the death at the latest."""
    tx = large_registry["treatments"].merge(large_registry["follow_up"], on="patient_id")
    dead = tx[tx["vital_status"] == "dead"]
    assert (dead["modality"] == "radiotherapy").sum() > 20  # the check below has rows to see
    assert not (dead["stop_reason"] == "ongoing").any()
    assert (dead["end_date"].dropna() <= dead.loc[dead["end_date"].notna(), "death_date"]).all()


def test_progressive_disease_always_has_a_progression_date(large_registry) -> None:
    tx = large_registry["treatments"]
    assert tx.loc[tx["best_response"] == "PD", "progression_date"].notna().all()


def test_tests_are_not_piled_up_on_the_day_of_death(large_registry) -> None:
    """Test dates drawn after death are drawn again within the follow-up, not set to it."""
    tests = large_registry["molecular_tests"].drop_duplicates("patient_id")
    fu = large_registry["follow_up"]
    died = tests.merge(fu[fu["vital_status"] == "dead"], on="patient_id")
    assert len(died) > 100
    assert (died["test_date"] == died["death_date"]).mean() < 0.05


def test_first_line_chemotherapy_is_rarer_in_poor_performance_status(large_registry) -> None:
    cohort = ep_nec_cohort(large_registry["diagnoses"])
    cohort = cohort[advanced(cohort)]
    tx = large_registry["treatments"]
    treated = cohort["patient_id"].isin(tx.loc[tx["line"] == 1, "patient_id"])
    fit, poor = treated[cohort["ecog_ps"] <= 1].mean(), treated[cohort["ecog_ps"] >= 3].mean()
    assert fit > 0.85 and poor < fit - 0.15


def test_pulmonary_nec_has_a_profile_of_its_own(large_registry) -> None:
    """TP53 and RB1 in most pulmonary NEC; APC and BRAF, frequent in GEP-NEC, rare there."""
    d, tests = large_registry["diagnoses"], large_registry["molecular_tests"]
    lung = d[(d["who_category"] == "NEC") & d["primary_site"].str.startswith("C34")]
    genes = tests[tests["patient_id"].isin(lung["patient_id"]) & tests["gene"].notna()]
    n = genes["patient_id"].nunique()
    assert n > 40
    altered = genes[genes["alteration"] != "wild_type"].groupby("gene")["patient_id"].nunique() / n
    assert altered["TP53"] > 0.7 and altered["RB1"] > 0.45
    assert altered.get("APC", 0) < 0.12 and altered.get("BRAF", 0) < 0.08


def test_no_line_is_assessed_on_the_day_of_death_by_its_first_scan(large_registry) -> None:
    """A patient who dies on the day of a line's first scan has no response (NE)."""
    tx = large_registry["treatments"].merge(large_registry["follow_up"], on="patient_id")
    lines = tx[tx["line"].notna() & (tx["vital_status"] == "dead")]
    assessed = lines[lines["best_response"].isin(["CR", "PR", "SD", "PD"])]
    on_death = assessed[assessed["last_assessment_date"] == assessed["death_date"]]
    first_scan = on_death[pd.to_datetime(on_death["last_assessment_date"])
                          - pd.to_datetime(on_death["start_date"]) <= pd.Timedelta(days=77)]
    assert first_scan.empty


def test_sex_specific_primary_sites_belong_to_that_sex(large_registry) -> None:
    """Breast and female genital sites (C50-C58) in women, male genital sites (C60-C63) in men."""
    merged = large_registry["diagnoses"].merge(large_registry["patients"], on="patient_id")
    major = merged["primary_site"].str[1:3].astype(int)
    female_sites, male_sites = major.between(50, 58), major.between(60, 63)
    assert female_sites.sum() > 20 and male_sites.sum() > 20  # the test has cases to look at
    assert (merged.loc[female_sites, "sex"] == "F").all()
    assert (merged.loc[male_sites, "sex"] == "M").all()


def test_an_unknown_primary_is_metastatic_and_never_resected(large_registry) -> None:
    diagnoses, treatments = large_registry["diagnoses"], large_registry["treatments"]
    unknown = diagnoses[diagnoses["primary_site"] == "C80.9"]
    assert len(unknown) > 50
    assert (unknown["stage"].dropna() == "metastatic").all()
    resected = treatments["modality"].eq("surgery") & treatments["diagnosis_id"].isin(
        unknown["diagnosis_id"])
    assert not resected.any()


def test_unknown_primaries_keep_their_share_of_extrapulmonary_nec() -> None:
    """Moved to metastatic tumours only, the unknown primaries keep the share the parameters give
    them (sites.ep_nec: 15%); the sites' binomial spread at this size is about 0.9 points."""
    diagnoses = registry_frames(5, 10.0)["diagnoses"]
    ep_nec = diagnoses[(diagnoses["who_category"] == "NEC")
                       & ~diagnoses["primary_site"].str.startswith("C34")]
    share = (ep_nec["primary_site"] == "C80.9").mean()
    assert 0.12 <= share <= 0.18, share


def test_a_later_line_does_not_repeat_the_agents_that_failed_unless_a_rechallenge(
        large_registry) -> None:
    """After progression the next line changes drugs, except a rechallenge or a higher dose
    (options marked repeat in the parameters), and those once only."""
    treatments = large_registry["treatments"]
    lines = treatments[treatments["modality"] == "systemic"].sort_values(["patient_id", "line"])
    before = lines.groupby("patient_id")[["agents", "regimen"]].shift()
    repeated = lines[lines["agents"] == before["agents"]]
    assert len(lines) > 1000
    assert set(repeated["regimen"]) <= {"Carboplatin-Etoposide rechallenge",
                                        "Lanreotide high dose"}
    assert not (repeated["regimen"] == before.loc[repeated.index, "regimen"]).any()


def test_msi_by_ngs_comes_from_a_panel_that_reports_it(large_registry) -> None:
    tests = large_registry["molecular_tests"]
    by_ngs = tests[tests["msi_status"].notna() & (tests["method"] == "NGS")]
    assert len(by_ngs) > 10
    assert set(by_ngs["assay"]) <= {"FoundationOne CDx", "TruSight Oncology 500"}


def test_nets_are_rarely_msi_high_and_carry_a_lower_tmb() -> None:
    """NETs carry few alterations: MSI-high and a high TMB belong to NEC mostly."""
    reg = registry_frames(5, 10.0)
    tests = reg["molecular_tests"].merge(
        reg["diagnoses"][["patient_id", "who_category"]], on="patient_id")
    net = tests["who_category"].str.startswith("NET", na=False)
    nec = tests["who_category"] == "NEC"
    msi_high = tests["msi_status"] == "MSI-H"
    assert msi_high[nec].sum() > 5 * max(msi_high[net].sum(), 1)
    assert tests.loc[net, "tmb"].median() < 0.6 * tests.loc[nec, "tmb"].median()


def test_net_g3_first_lines_are_mostly_chemotherapy(large_registry) -> None:
    diagnoses, treatments = large_registry["diagnoses"], large_registry["treatments"]
    g3 = diagnoses.loc[diagnoses["who_category"] == "NET G3", "diagnosis_id"]
    first = treatments[(treatments["line"] == 1) & treatments["diagnosis_id"].isin(g3)]
    assert len(first) > 30
    analogues = first["agents"].isin(["lanreotide", "octreotide"]).mean()
    assert analogues < 0.4, analogues


def test_an_atypical_lung_carcinoid_below_two_mitoses_has_necrosis(large_registry) -> None:
    """WHO thoracic criteria: atypical means 2-10 mitoses per 2 mm2 or necrosis."""
    d = large_registry["diagnoses"]
    atypical = d[d["primary_site"].str.startswith("C34") & (d["who_category"] == "NET G2")
                 & (d["mitoses_per_2mm2"] < 2) & d["necrosis"].notna()]
    assert len(atypical) > 10
    assert (atypical["necrosis"] != "absent").all()
