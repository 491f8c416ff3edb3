"""Tests of the report's figure list: captions and labels taken from results.json."""

from __future__ import annotations

import copy

from nenstudy.report.document import figure_jobs


def _captions(results):
    return {job.key: caption for job, caption in figure_jobs(results)}


def test_caption_states_where_the_time_axis_ends_when_follow_up_runs_longer(results_dict):
    results = copy.deepcopy(results_dict)
    results["os"]["risk_table"] = {"times": [0, 6, 12, 18, 24], "n_risk": [173, 140, 100, 70, 41]}
    caption = _captions(results)["km_os"]
    longest = max(results["os"]["curve"]["time"])
    assert "ends at 24 months" in caption and "41 patients still at risk" in caption
    assert f"longest follow-up is {longest:.1f} months" in caption


def test_caption_has_no_axis_note_when_the_axis_covers_all_follow_up(results_dict):
    results = copy.deepcopy(results_dict)
    last = max(results["os"]["curve"]["time"])
    results["os"]["risk_table"] = {"times": [0, 12, last + 1], "n_risk": [173, 100, 0]}
    assert "time axis ends" not in _captions(results)["km_os"]


def test_axis_note_gives_no_total_at_risk_under_suppression(results_dict):
    """The total at risk minus a group's shown number would give another group's hidden one."""
    results = copy.deepcopy(results_dict)
    results["os"]["risk_table"] = {"times": [0, 6, 12, 18, 24], "n_risk": [173, 140, 100, 70, 3]}
    caption = {job.key: c for job, c in figure_jobs(results, suppress_below=5)}["km_os"]
    assert "ends at 24 months" in caption and "still at risk" not in caption


def test_stratified_figure_gets_the_grouping_label_from_results(results_dict):
    results = copy.deepcopy(results_dict)
    results["stratified"]["os"]["ecog_group"]["label"] = "ECOG PS"
    job = next(job for job, _ in figure_jobs(results) if job.key == "km_os_ecog_group")
    assert job.kwargs["group_title"] == "ECOG PS"


def test_a_stratified_grouping_without_known_values_gets_no_figure_and_no_crash(results_dict):
    """Cell type is unknown for every NET G3: the block has no group; the report says so."""
    from nenstudy.report.tables import stratified_table

    results = copy.deepcopy(results_dict)
    endpoint, groupings = next(iter(results["stratified"].items()))
    grouping = next(iter(groupings))
    groupings[grouping]["groups"] = {}
    keys = [job.key for job, _ in figure_jobs(results)]
    assert f"km_{endpoint}_{grouping}" not in keys
    texts = [c.text for r in stratified_table(results).rows for c in r.cells]
    assert "no patient with a known value" in texts


def test_data_problems_and_an_empty_endpoint_are_stated_in_the_report(results_dict):
    """Patients left out of an endpoint (origin missing) are said in the summary; an endpoint
    without patients shows NA, not 'not reached'."""
    from nenstudy.report.document import make_sections
    from nenstudy.report.narrative import followup_sentence
    from nenstudy.report.tables import all_tables, survival_table

    results = copy.deepcopy(results_dict)
    results["data_problems"] = [{"problem": "os_time", "n": 12, "ids": [],
                                 "description": "OS: origin date missing; left out of the OS analyses"}]
    sections = make_sections(results, all_tables(results), {})
    text = repr(sections)
    assert "12 patients - OS: origin date missing" in text
    results["os"].update({"n": 0, "events": 0, "median": None, "ci": [None, None]})
    row = survival_table(results).rows[0]
    assert row.cells[3].text == "NA"
    assert "no follow-up" in followup_sentence(results)
