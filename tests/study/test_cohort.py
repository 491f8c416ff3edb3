"""Cohort steps, attrition and subsets on hand-built registries."""

from __future__ import annotations

import pytest

from nenstudy.study.definition import StudyDefinitionError

from .study_builders import epnec_variant


def _steps(selection):
    return {a["step"]: a for a in selection.attrition}


def _mixed_registry(registry):
    keep = registry.patient()
    registry.diagnosis(keep, "2019-01-10")
    registry.follow_up(keep, "2020-01-10")
    early = registry.patient()
    registry.diagnosis(early, "2018-09-30")  # one day before the window
    registry.follow_up(early, "2020-01-10")
    net = registry.patient()
    registry.diagnosis(net, "2020-01-01", who="NET G2", ki67=10)
    registry.follow_up(net, "2021-01-01")
    minen = registry.patient()
    registry.diagnosis(minen, "2020-01-01", who="MiNEN", non_ne=40)
    registry.follow_up(minen, "2021-01-01")
    impure = registry.patient()
    registry.diagnosis(impure, "2020-01-01", non_ne=10)
    registry.follow_up(impure, "2021-01-01")
    lung = registry.patient()
    registry.diagnosis(lung, "2020-01-01", site="C34.1", site_group="lung")
    registry.follow_up(lung, "2021-01-01")
    localized = registry.patient()
    registry.diagnosis(localized, "2020-03-01", stage="localized")
    registry.follow_up(localized, "2021-01-01")
    return registry


def test_attrition_counts_each_step(registry, derive, epnec):
    _, selection = derive(_mixed_registry(registry), epnec)
    steps = _steps(selection)
    assert [steps[s]["n"] for s in ("nen_mdt", "nec", "pure_histology", "extrapulmonary")] == [6, 4, 3, 2]
    assert steps["nen_mdt"]["from"] == 7 and steps["nen_mdt"]["excluded"] == 1
    assert selection.cohort_n == 2


def test_excluded_rows_are_broken_down_by_reason(registry, derive, epnec):
    _, selection = derive(_mixed_registry(registry), epnec)
    steps = _steps(selection)
    assert steps["nec"]["excluded_by"] == {"MiNEN": 1, "NET G2": 1}
    assert steps["extrapulmonary"]["excluded_by"] == {"lung": 1}
    assert steps["advanced"]["excluded_by"] == {"localized": 1}


def test_step_without_exclusions_has_no_reason(registry, derive, epnec):
    p = registry.patient()
    registry.diagnosis(p, "2019-01-10")
    registry.follow_up(p, "2020-01-10")
    _, selection = derive(registry, epnec)
    assert _steps(selection)["pure_histology"]["reason"] is None


def test_null_criterion_is_an_exclusion_counted_as_not_evaluable(registry, derive):
    study = epnec_variant({"where = \"pure_histology\"": "where = \"ki67_pct > 20\""})
    p = registry.patient()
    registry.diagnosis(p, "2019-01-10", ki67=None)
    registry.follow_up(p, "2020-01-10")
    q = registry.patient()
    registry.diagnosis(q, "2019-01-10", ki67=80)
    registry.follow_up(q, "2020-01-10")
    _, selection = derive(registry, study)
    step = _steps(selection)["pure_histology"]
    assert (step["n"], step["excluded"], step["excluded_missing"]) == (1, 1, 1)


def test_patient_with_two_qualifying_diagnoses_keeps_the_earliest(registry, derive, epnec):
    p = registry.patient()
    registry.diagnosis(p, "2020-05-01", ki67=90)
    registry.diagnosis(p, "2019-05-01", ki67=30)
    registry.follow_up(p, "2021-01-01")
    con, selection = derive(registry, epnec)
    assert selection.cohort_n == 1
    assert _steps(selection)["one_per_patient"]["excluded"] == 1
    assert con.execute("SELECT ki67_pct FROM cohort JOIN study_base USING (diagnosis_id)").fetchone()[0] == 30


def test_pseudonymous_ids_follow_diagnosis_order(registry, derive, epnec):
    late = registry.patient()
    registry.diagnosis(late, "2021-01-01", ki67=90)
    registry.follow_up(late, "2022-01-01")
    early = registry.patient()
    registry.diagnosis(early, "2019-01-01", ki67=30)
    registry.follow_up(early, "2022-01-01")
    con, _ = derive(registry, epnec)
    rows = con.execute('SELECT usubjid, ki67_pct FROM cohort_vars ORDER BY usubjid').fetchall()
    assert rows == [("P0001", 30.0), ("P0002", 90.0)]


def test_cohort_vars_hold_no_registry_identifier(registry, derive, epnec):
    p = registry.patient()
    registry.diagnosis(p, "2019-01-10")
    registry.follow_up(p, "2020-01-10")
    con, _ = derive(registry, epnec)
    columns = [r[0] for r in con.execute("DESCRIBE cohort_vars").fetchall()]
    assert "patient_id" not in columns and "diagnosis_id" not in columns
    values = con.execute("SELECT * FROM cohort_vars").fetchall()[0]
    assert p not in values


def test_subsets_are_nested_in_their_population(registry, derive, epnec):
    treated = registry.patient()
    registry.diagnosis(treated, "2019-01-10")
    registry.line(treated, 1, "2019-02-01")
    registry.follow_up(treated, "2020-01-10")
    untreated = registry.patient()
    registry.diagnosis(untreated, "2019-02-10")
    registry.follow_up(untreated, "2020-01-10")
    localized_treated = registry.patient()
    registry.diagnosis(localized_treated, "2019-03-10", stage="localized")
    registry.line(localized_treated, 1, "2019-04-01")
    registry.follow_up(localized_treated, "2020-01-10")
    _, selection = derive(registry, epnec)
    assert selection.population_n == {"cohort": 3, "advanced": 2, "first_line": 1}


def test_second_line_without_a_first_is_reported_not_used(registry, derive, epnec):
    p = registry.patient()
    registry.diagnosis(p, "2019-01-10")
    registry.line(p, 2, "2019-02-01", progression="2019-05-01")
    registry.follow_up(p, "2020-01-10")
    con, selection = derive(registry, epnec)
    step = _steps(selection)["first_line"]
    assert step["n"] == 0
    assert step["excluded_by"] == {"data problem: systemic lines without a single line 1": 1}
    problem, lines = con.execute("SELECT line_data_problem, lines_received FROM cohort_vars").fetchone()
    assert problem is True and lines == 0


def test_line_gap_counts_only_consecutive_lines(registry, derive, epnec):
    p = registry.patient()
    registry.diagnosis(p, "2019-01-10")
    registry.line(p, 1, "2019-02-01")
    registry.line(p, 3, "2019-06-01")
    registry.follow_up(p, "2020-01-10")
    con, _ = derive(registry, epnec)
    assert con.execute("SELECT line_data_problem, lines_received FROM cohort_vars").fetchone() == (True, 1)


def test_grouping_value_outside_levels_is_a_definition_error(registry, derive):
    study = epnec_variant({'levels = ["F", "M"]': 'levels = ["female", "male"]'})
    p = registry.patient()
    registry.diagnosis(p, "2019-01-10")
    registry.follow_up(p, "2020-01-10")
    with pytest.raises(StudyDefinitionError, match=r"groupings\.sex: .*outside levels.*\('F'\)"):
        derive(registry, study)


def test_ki67_groups_use_left_closed_cutpoints(registry, derive, epnec):
    for ki67 in (19.9, 20.0, 54.9, 55.0, None):
        p = registry.patient()
        registry.diagnosis(p, "2019-01-10", ki67=ki67)
        registry.follow_up(p, "2020-01-10")
    con, _ = derive(registry, epnec)
    groups = [r[0] for r in con.execute("SELECT ki67_group FROM cohort_vars ORDER BY usubjid").fetchall()]
    assert groups == ["<20", "20-<55", "20-<55", ">=55", None]


@pytest.mark.parametrize("version, advice", [("2", "import the registry folder again"),
                                             ("99", "written by a newer nenstudy")])
def test_a_store_of_another_schema_is_named_as_such(tmp_path, registry, version: str,
                                                    advice: str) -> None:
    """A store imported before a column the study reads was added says to import again; one
    of a newer schema, to upgrade."""
    import duckdb

    from nenstudy.registry.schema import SCHEMA_VERSION
    from nenstudy.study.sources import StoreLayoutError, open_store

    path = registry.write(tmp_path / "old.duckdb")
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE diagnoses DROP COLUMN necrosis")
    con.execute("CREATE TABLE _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO _meta VALUES ('schema_version', ?)", [version])
    con.close()
    with pytest.raises(StoreLayoutError, match=f"schema version {version}, ") as raised:
        open_store(path)
    assert "necrosis" in str(raised.value) and advice in str(raised.value)
    assert f"schema version {SCHEMA_VERSION}" in str(raised.value)
