"""Molecular, treatment and baseline analyses on hand-built registries."""

from __future__ import annotations

import pytest

from nenstudy.registry.schema import ALTERATIONS
from nenstudy.study.baseline import baseline_block
from nenstudy.study.molecular import OTHER_ASSAYS, molecular_block
from nenstudy.study.treatment import swimmer_block, treatment_blocks


def _patient(registry, *, lines=(), death=None, last="2021-01-10", **diagnosis):
    p = registry.patient()
    registry.diagnosis(p, diagnosis.pop("date", "2019-01-10"), **diagnosis)
    for args, kwargs in lines:
        registry.line(p, *args, **kwargs)
    registry.follow_up(p, last, death=death)
    return p


def test_molecular_counts_patients_not_rows(registry, derive, epnec):
    a = _patient(registry)
    registry.molecular(a, gene="TP53", alteration="mutation")
    registry.molecular(a, gene="RB1", alteration="mutation")
    registry.molecular(a, gene="RB1", alteration="cn_loss")
    registry.molecular(a, msi="MSS")
    registry.molecular(a, tmb=19.0)
    b = _patient(registry)
    registry.molecular(b, gene="TP53", alteration="wild_type")
    registry.molecular(b, msi="MSI-H")
    registry.molecular(b, tmb=4.0)
    registry.molecular(b, tmb=10.0, assay="PanelY")
    _patient(registry)  # not profiled
    con, _ = derive(registry, epnec)
    block = molecular_block(con, epnec)
    assert (block["profiled"], block["cohort"]) == (2, 3)
    assert block["genes"]["TP53"] == {"altered": 1, "tested": 2}
    assert block["genes"]["RB1"] == {"altered": 1, "tested": 1}
    assert block["msi"] == {"tested": 2, "high": 1}
    assert (block["tmb"]["tested"], block["tmb"]["high"], block["tmb"]["high_values"]) == (2, 2, [10.0, 19.0])


def test_tmb_assay_names_shown_only_when_they_identify_no_one(registry, derive, epnec):
    """Assay is free text: a name of one patient (a person's name typed in), or one holding a
    registry identifier in any case, is pooled; names of two patients or more are shown."""
    patients = [_patient(registry) for _ in range(8)]
    for p in patients[:3]:
        registry.molecular(p, tmb=5.0, assay="FoundationOne CDx")
    for p in patients[3:5]:
        registry.molecular(p, tmb=7.0, assay="TruSight Oncology 500")
    registry.molecular(patients[5], tmb=8.0, assay="DUPONT Marie")        # one patient
    registry.molecular(patients[6], tmb=9.0, assay=f"panel {patients[6].upper()}")
    registry.molecular(patients[7], tmb=9.5, assay=f"panel {patients[6].upper()}")  # an ID, twice
    registry.molecular(patients[7], tmb=3.0, assay="FoundationOne CDx")   # two assays: both counted
    con, _ = derive(registry, epnec)
    tmb = molecular_block(con, epnec)["tmb"]
    assert tmb["assays"] == {"FoundationOne CDx": 4, "TruSight Oncology 500": 2, OTHER_ASSAYS: 3}
    assert list(tmb["assays"])[-1] == OTHER_ASSAYS
    assert tmb["tested"] == 8
    text = repr(tmb)
    assert "DUPONT" not in text and patients[6].upper() not in text


def test_molecular_matrix_cells(registry, derive, epnec):
    a = _patient(registry)
    registry.molecular(a, gene="RB1", alteration="mutation")
    registry.molecular(a, gene="RB1", alteration="cn_loss")
    registry.molecular(a, gene="TP53", alteration="wild_type")
    con, _ = derive(registry, epnec)
    matrix = molecular_block(con, epnec)["matrix"]
    genes = matrix["genes"]
    row = matrix["alterations"][0]
    assert matrix["ids"] == ["P0001"]
    # the alterations in the schema's order of codes (the store's ENUM order)
    assert row[genes.index("RB1")] == ";".join(
        a for a in ALTERATIONS if a in ("cn_loss", "mutation"))
    assert row[genes.index("TP53")] == "wild_type"
    assert row[genes.index("KRAS")] is None


def _treatment_registry(registry):
    line1 = ((1, "2019-02-01"), {"response": "PR", "progression": "2019-06-01"})
    _patient(registry, lines=[line1, ((2, "2019-06-10"), {"agents": ["fluorouracil", "irinotecan"]}),
                              ((3, "2019-10-01"), {"agents": ["topotecan"]})])
    _patient(registry, lines=[((1, "2019-02-01"), {"response": "NE"}),
                              ((2, "2019-05-01"), {"agents": ["fluorouracil", "irinotecan"]})])
    _patient(registry, lines=[((1, "2019-02-01"), {"response": "SD", "agents": ["capecitabine", "temozolomide"]})])
    _patient(registry, lines=[((1, "2019-02-01"), {})])                       # response missing
    _patient(registry)                                                        # advanced, untreated
    _patient(registry, stage="localized", lines=[((1, "2019-02-01"), {"response": "CR"})])  # not eligible
    return registry


def test_first_line_counts_eligible_treated_and_regimens(registry, derive, epnec):
    con, selection = derive(_treatment_registry(registry), epnec)
    blocks = treatment_blocks(con, epnec, selection.population_n)
    first = blocks["first_line"]
    assert (first["eligible"], first["treated"]) == (5, 4)
    assert {k: v for k, v in first["regimens"].items() if v} == {"platinum_etoposide": 3, "CAPTEM": 1}
    assert first["regimens"]["FOLFOX"] == 0  # every declared class is listed


def test_orr_uses_both_denominators(registry, derive, epnec):
    con, selection = derive(_treatment_registry(registry), epnec)
    blocks = treatment_blocks(con, epnec, selection.population_n)
    response, orr = blocks["response_first_line"], blocks["orr_first_line"]
    assert (response["PR"], response["SD"], response["NE"], response["missing"]) == (1, 1, 1, 1)
    assert (orr["responders"], orr["denominator"], orr["evaluable"]["denominator"]) == (1, 4, 2)
    assert orr["rate"] == pytest.approx(0.25) and orr["evaluable"]["rate"] == pytest.approx(0.5)
    assert orr["ci"][0] == pytest.approx(0.006309463, abs=1e-8)  # binom.test(1, 4)
    assert orr["ci"][1] == pytest.approx(0.805879550, abs=1e-8)


def test_later_lines_are_over_first_line_treated(registry, derive, epnec):
    con, selection = derive(_treatment_registry(registry), epnec)
    later = treatment_blocks(con, epnec, selection.population_n)["later_lines"]
    assert later["second"] == {"n": 2, "of": 4, "rate": 0.5}
    assert later["third"] == {"n": 1, "of": 4, "rate": 0.25}
    assert later["regimens_by_line"]["2"] == {"FOLFIRI": 2}
    assert {"from": "L1:platinum_etoposide", "to": "L2:FOLFIRI", "n": 2} in later["transitions"]


def test_swimmer_lanes_are_in_months_from_the_os_origin(registry, derive, epnec):
    _patient(registry, lines=[((1, "2019-02-09"), {"progression": "2019-03-11"})],
             death="2020-01-10", last="2020-01-10")
    con, _ = derive(registry, epnec)
    (lane,) = swimmer_block(con, epnec)
    assert lane["id"] == "P0001" and lane["dead"] is True
    assert lane["end"] == pytest.approx(365 / 30.4375)
    assert lane["lines"][0]["start"] == pytest.approx(30 / 30.4375)
    assert lane["lines"][0]["progression"] == pytest.approx(60 / 30.4375)


def test_baseline_continuous_and_categorical_rows(registry, derive, epnec):
    for ki67, sex in ((30, "F"), (40, "M"), (60, "F"), (80, "F"), (None, "M")):
        p = registry.patient(sex=sex)
        registry.diagnosis(p, "2019-01-10", ki67=ki67)
        registry.follow_up(p, "2020-01-10")
    con, _ = derive(registry, epnec)
    frame = con.execute("SELECT * FROM cohort_vars").df()
    table = baseline_block(frame, epnec)
    assert table["groups"] == ["20-<55", ">=55"] and table["by_missing"] == 1
    ki67 = next(v for v in table["variables"] if v["name"] == "ki67_pct")
    assert ki67["overall"]["median"] == 50.0 and ki67["overall"]["missing"] == 1
    assert ki67["test"].startswith("Wilcoxon")
    sex = next(v for v in table["variables"] if v["name"] == "sex")
    assert sex["overall"]["counts"] == {"F": 3, "M": 2}
    assert sex["by_group"][">=55"]["pct"] == {"F": 1.0, "M": 0.0}
    assert sex["test"] == "Fisher's exact test"


def test_baseline_categorical_rule_can_force_chi_square(registry, derive):
    from .study_builders import epnec_variant

    study = epnec_variant({'categorical_test = "auto"': 'categorical_test = "chi-square"'})
    for ki67, sex in ((30, "F"), (40, "M"), (60, "F"), (80, "M")):
        p = registry.patient(sex=sex)
        registry.diagnosis(p, "2019-01-10", ki67=ki67)
        registry.follow_up(p, "2020-01-10")
    con, _ = derive(registry, study)
    table = baseline_block(con.execute("SELECT * FROM cohort_vars").df(), study)
    sex = next(v for v in table["variables"] if v["name"] == "sex")
    assert sex["test"] == "Pearson's chi-squared test"
