"""OS, PFS and treatment derivations on hand-built registries (answers known by construction)."""

from __future__ import annotations

import pytest

from nenstudy.study.endpoints import DAYS_PER_MONTH

from .study_builders import epnec_variant


def _tte(con, paramcd):
    return con.execute(
        "SELECT usubjid, days, aval, cnsr, evntdesc, problem FROM study_tte WHERE paramcd = ? ORDER BY usubjid",
        [paramcd],
    ).fetchall()


def _one_patient(registry, *, lines=(), last_contact="2020-01-10", death=None, stage="metastatic",
                 date="2019-01-10", mdt=None):
    p = registry.patient()
    registry.diagnosis(p, date, mdt, stage=stage)
    for args, kwargs in lines:
        registry.line(p, *args, **kwargs)
    registry.follow_up(p, last_contact, death=death)
    return registry


def test_death_on_the_day_of_last_contact_is_an_event(registry, derive, epnec):
    con, _ = derive(_one_patient(registry, death="2020-01-10"), epnec)
    (_, days, aval, cnsr, desc, problem), = _tte(con, "OS")
    assert (days, cnsr, desc, problem) == (365, 0, "death", None)
    assert aval == pytest.approx(365 / DAYS_PER_MONTH, abs=0)


def test_alive_patient_is_censored_at_last_contact(registry, derive, epnec):
    con, _ = derive(_one_patient(registry, last_contact="2019-07-10"), epnec)
    (_, days, _, cnsr, desc, _), = _tte(con, "OS")
    assert (days, cnsr, desc) == (181, 1, "alive at last contact")


def test_os_origin_mdt_starts_at_the_mdt_date(registry, derive):
    study = epnec_variant({'origin = "diagnosis"': 'origin = "mdt"'})
    con, _ = derive(_one_patient(registry, mdt="2019-01-20", death="2020-01-10"), study)
    assert _tte(con, "OS")[0][1] == 355


def test_os_origin_first_line_start(registry, derive):
    study = epnec_variant({'origin = "diagnosis"': 'origin = "first_line_start"',
                           'population = "cohort"': 'population = "first_line"'})
    con, _ = derive(_one_patient(registry, lines=[((1, "2019-02-09"), {})], death="2020-01-10"), study)
    assert _tte(con, "OS")[0][1] == 335


def test_os_from_first_line_start_of_an_untreated_patient_is_a_reported_problem(registry, derive):
    study = epnec_variant({'origin = "diagnosis"': 'origin = "first_line_start"'})
    con, _ = derive(_one_patient(registry, death="2020-01-10"), study)
    (_, days, aval, _, _, problem), = _tte(con, "OS")
    assert (days, aval, problem) == (None, None, "origin date missing")


def test_pfs_event_is_the_first_progression(registry, derive, epnec):
    lines = [((1, "2019-02-01"), {"progression": "2019-06-01", "assessed": "2019-05-01"}),
             ((2, "2019-06-15"), {"progression": "2019-10-01"})]
    con, _ = derive(_one_patient(registry, lines=lines, death="2020-01-10"), epnec)
    (_, days, _, cnsr, desc, _), = _tte(con, "PFS")
    assert (days, cnsr, desc) == (120, 0, "progression")


def test_progression_after_an_earlier_censoring_date_is_still_an_event(registry, derive, epnec):
    # line 1 stopped without progression (last assessment 2019-05-01); the progression is
    # recorded on line 2: PFS is an event at that date, not censored at the line-1 assessment.
    lines = [((1, "2019-02-01"), {"assessed": "2019-05-01"}),
             ((2, "2019-05-15"), {"progression": "2019-09-01", "assessed": "2019-08-20"})]
    con, _ = derive(_one_patient(registry, lines=lines), epnec)
    (_, days, _, cnsr, desc, _), = _tte(con, "PFS")
    assert (days, cnsr, desc) == (212, 0, "progression")


def test_death_without_progression_is_a_pfs_event(registry, derive, epnec):
    lines = [((1, "2019-02-01"), {"assessed": "2019-05-01"})]
    con, _ = derive(_one_patient(registry, lines=lines, death="2019-08-01"), epnec)
    (_, days, _, cnsr, desc, _), = _tte(con, "PFS")
    assert (days, cnsr, desc) == (181, 0, "death")


def test_death_before_a_later_progression_date_takes_the_death(registry, derive, epnec):
    lines = [((1, "2019-02-01"), {"progression": "2019-03-01"})]
    con, _ = derive(_one_patient(registry, lines=lines, last_contact="2019-03-01", death="2019-02-21"), epnec)
    (_, days, _, cnsr, desc, _), = _tte(con, "PFS")
    assert (days, cnsr, desc) == (20, 0, "death")


def test_pfs_without_event_is_censored_at_last_assessment(registry, derive, epnec):
    lines = [((1, "2019-02-01"), {"assessed": "2019-05-01"}), ((2, "2019-06-01"), {"assessed": "2019-07-01"})]
    con, _ = derive(_one_patient(registry, lines=lines), epnec)
    (_, days, _, cnsr, desc, _), = _tte(con, "PFS")
    assert (days, cnsr, desc) == (150, 1, "censored at last assessment")


def test_pfs_without_assessment_is_censored_at_last_contact_by_default(registry, derive, epnec):
    con, _ = derive(_one_patient(registry, lines=[((1, "2019-02-01"), {})]), epnec)
    (_, days, _, cnsr, desc, _), = _tte(con, "PFS")
    assert (days, cnsr, desc) == (343, 1, "censored at last contact (no assessment recorded)")


def test_pfs_without_assessment_can_be_censored_at_the_origin(registry, derive):
    study = epnec_variant({'no_assessment = "last_contact"': 'no_assessment = "origin"'})
    con, _ = derive(_one_patient(registry, lines=[((1, "2019-02-01"), {})]), study)
    (_, days, _, cnsr, _, _), = _tte(con, "PFS")
    assert (days, cnsr) == (0, 1)


def test_pfs_can_censor_everyone_at_last_contact(registry, derive):
    study = epnec_variant({'censor = "last_assessment"': 'censor = "last_contact"'})
    lines = [((1, "2019-02-01"), {"assessed": "2019-05-01"})]
    con, _ = derive(_one_patient(registry, lines=lines), study)
    (_, days, _, cnsr, desc, _), = _tte(con, "PFS")
    assert (days, cnsr, desc) == (343, 1, "censored at last contact")


def test_untreated_patient_has_no_pfs_row(registry, derive, epnec):
    con, _ = derive(_one_patient(registry), epnec)
    assert _tte(con, "PFS") == []


def test_end_before_origin_is_reported_not_used(registry, derive, epnec):
    con, _ = derive(_one_patient(registry, last_contact="2018-12-31"), epnec)
    (_, days, aval, _, _, problem), = _tte(con, "OS")
    assert (days, aval, problem) == (None, None, "end date before origin")


def test_surgery_progression_does_not_enter_pfs(registry, derive, epnec):
    lines = [((None, "2019-01-20"), {"modality": "surgery", "progression": "2019-03-01"}),
             ((1, "2019-02-01"), {"assessed": "2019-05-01"})]
    con, _ = derive(_one_patient(registry, lines=lines), epnec)
    assert _tte(con, "PFS")[0][3] == 1


@pytest.mark.parametrize(
    "agents, expected",
    [
        (["carboplatin", "etoposide"], "platinum_etoposide"),
        (["cisplatin", "irinotecan"], "platinum_irinotecan"),
        (["fluorouracil", "leucovorin", "irinotecan"], "FOLFIRI"),
        (["fluorouracil", "leucovorin", "oxaliplatin"], "FOLFOX"),
        (["fluorouracil", "leucovorin", "oxaliplatin", "irinotecan"], "other"),
        (["capecitabine", "temozolomide"], "CAPTEM"),
        (["carboplatin", "paclitaxel"], "carboplatin_paclitaxel"),
        (["topotecan"], "topotecan"),
        (["nivolumab", "ipilimumab"], "immunotherapy"),
        (["everolimus"], "other"),
        ([], None),
    ],
)
def test_regimen_class_from_agents(registry, derive, epnec, agents, expected):
    con, _ = derive(_one_patient(registry, lines=[((1, "2019-02-01"), {"agents": agents})]), epnec)
    assert con.execute("SELECT first_line_regimen FROM cohort_vars").fetchone()[0] == expected
