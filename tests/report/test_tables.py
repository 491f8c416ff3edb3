"""Tests of the tidy report tables (the single source for HTML, DOCX and XLSX)."""

import copy

import pytest

from nenstudy.report.tables import (
    Cell,
    Column,
    Row,
    Table,
    all_tables,
    baseline_table,
    cox_table,
    molecular_table,
    response_table,
    survival_table,
)


def _row(table, first_text):
    return next(r for r in table.rows if r.cells[0].text == first_text)


def test_table1_shows_counts_and_percentages_from_results(results_dict):
    table = baseline_table(results_dict)
    sex = next(v for v in results_dict["baseline"]["variables"] if v["name"] == "sex")
    f = sex["overall"]["counts"]["F"]
    assert _row(table, "F").cells[1].text == f"{f} ({100 * sex['overall']['pct']['F']:.1f}%)"


def test_table1_has_overall_each_group_and_p_columns(results_dict):
    headers = [c.header for c in baseline_table(results_dict).columns]
    assert headers[1].startswith(f"Overall (n = {results_dict['baseline']['n']})")
    assert len(headers) == 2 + len(results_dict["baseline"]["groups"]) + 1
    assert headers[-1] == "p-value"


def test_table1_names_each_test_in_a_footnote(results_dict):
    table = baseline_table(results_dict)
    age = _row(table, "Age at diagnosis, years, median (IQR)")
    assert age.cells[-1].note == "a"
    assert any("a Wilcoxon rank-sum" in n for n in table.footnotes)


def test_table1_counts_missing_values(results_dict):
    table = baseline_table(results_dict)
    rows = [r for r in table.rows if r.cells[0].text == "Missing"]
    assert rows and all(r.kind == "level" for r in rows)


def test_response_table_gives_orr_on_both_denominators(results_dict):
    table = response_table(results_dict)
    orr = table.rows[-1]
    assert orr.cells[2].text == "39.0% (30.7–47.7%)"
    assert orr.cells[3].text == "44.9% (35.7–54.4%)"
    assert "(n = 136)" in table.columns[2].header and "(n = 118)" in table.columns[3].header


def test_not_evaluable_has_no_percentage_of_evaluable(results_dict):
    assert _row(response_table(results_dict), "Not evaluable (NE)").cells[3].text == "—"


def test_suppression_reaches_every_table(results_dict):
    for table in all_tables(results_dict, suppress_below=5).values():
        for row in table.rows:
            # the published column quotes the paper (public numbers), not the registry
            cells = row.cells[::2] if table.key == "comparison" else row.cells
            for cell in cells:
                for value, kind in zip(cell.values, cell.formats):
                    if kind == "int" and isinstance(value, int):
                        assert not 1 <= value < 5, (table.key, cell.text)


def test_comparison_registry_count_is_suppressed(results_dict):
    table = all_tables(results_dict, suppress_below=5)["comparison"]
    assert _row(table, "MSI-high").cells[2].text == "<5"


def test_a_row_with_the_wrong_number_of_cells_is_refused():
    with pytest.raises(ValueError, match="has 1 cells for 2 columns"):
        Table("t", "T", (Column("a"), Column("b")), (Row((Cell("x"),)),))


def test_tables_cover_every_section(results_dict):
    assert set(all_tables(results_dict)) >= {"comparison", "attrition", "table1", "molecular", "lines", "regimens",
                                            "response", "survival", "stratified", "cox_os", "cox_pfs", "provenance"}


def _with_conf_level(results: dict, conf_level: float) -> dict:
    changed = copy.deepcopy(results)
    changed["study"]["conf_level"] = conf_level
    for block in (changed["os"], changed["pfs"], changed["orr_first_line"], *changed["cox"].values()):
        block["conf_level"] = conf_level
    return changed


def test_survival_table_has_one_column_per_reported_rate_time(results_dict):
    changed = copy.deepcopy(results_dict)
    for key in ("os", "pfs"):
        rates = changed[key]["rates"]
        changed[key]["rates"] = {"6": rates["12"], **rates, "36": rates["24"]}
    headers = [c.header for c in survival_table(changed).columns]
    assert [h.split(" months")[0] for h in headers[4:]] == ["6", "12", "24", "36"]
    assert all(len(r.cells) == len(headers) for r in survival_table(changed).rows)


def test_ci_headers_follow_the_study_confidence_level(results_dict):
    changed = _with_conf_level(results_dict, 0.9)
    headers = [c.header for c in survival_table(changed).columns]
    headers += [c.header for c in cox_table(changed, next(iter(changed["cox"]))).columns]
    headers += [c.cells[0].text for c in response_table(changed).rows]
    ci_headers = [h for h in headers if " CI)" in h]
    assert ci_headers and all("(90% CI)" in h for h in ci_headers)


def _with_responses(results_dict, missing=0, **counts):
    """A copy of the results with these best-response counts, and the treated, evaluable and
    responder totals they give."""
    import copy

    results = copy.deepcopy(results_dict)
    resp = results["response_first_line"]
    resp.update(counts, missing=missing)
    resp["evaluable"] = sum(counts[k] for k in ("CR", "PR", "SD", "PD"))
    resp["treated"] = resp["evaluable"] + counts["NE"] + missing
    results["orr_first_line"]["responders"] = counts["CR"] + counts["PR"]
    return results


def test_response_table_hides_a_count_a_total_would_give_away(results_dict):
    """CR below K with PR and the ORR shown gives CR = ORR - PR: PR is hidden too. The other
    groups (evaluable, treated) then hold two hidden counts each: nothing more is hidden."""
    results = _with_responses(results_dict, CR=3, PR=40, SD=30, PD=20, NE=10)
    table = response_table(results, sup=5)
    # an ORR below K as well: CR alone in the evaluable total, so the smallest other is hidden
    few = _with_responses(results_dict, CR=3, PR=0, SD=30, PD=20, NE=10)
    second = {r.cells[0].text.split(" (")[0]: r.cells[1].text for r in response_table(few, sup=5).rows}
    assert second["Progressive disease"] == "—" and second["Stable disease"] == "30"
    shown = {r.cells[0].text.split(" (")[0]: r.cells[1].text for r in table.rows}
    assert shown["Complete response"] == "<5"
    assert shown["Partial response"] == "—"
    assert [shown[k] for k in ("Stable disease", "Progressive disease", "Not evaluable")] == [
        "30", "20", "10"]
    assert any("cannot be worked out" in n for n in table.footnotes)
    # no suppression: every count shown
    plain = {r.cells[0].text.split(" (")[0]: r.cells[1].text for r in response_table(results).rows}
    assert plain["Partial response"] == "40"


def test_complementary_suppression_leaves_groups_without_a_single_hidden_count():
    from nenstudy.report.tables import _complementary
    from nenstudy.report.suppression import is_suppressed

    counts = {"a": 2, "b": 7, "c": 30, "d": 12}
    groups = [(("a", "b"), 9), (("a", "b", "c", "d"), 51)]
    extra = _complementary(counts, groups, 5)
    hidden = {k for k, n in counts.items() if is_suppressed(n, 5)} | extra
    for keys, _ in groups:
        assert len([k for k in keys if k in hidden]) != 1
    assert _complementary(counts, groups, None) == set()
    assert _complementary({"a": 6, "b": 7}, [(("a", "b"), 13)], 5) == set()


def test_response_table_hides_the_evaluable_denominator_when_it_gives_ne_away(results_dict):
    """treated - evaluable = NE + not recorded: with NE 2 and nothing unrecorded, showing both
    denominators would give NE = 2."""
    table = response_table(_with_responses(results_dict, CR=10, PR=20, SD=30, PD=40, NE=2), sup=5)
    header = table.columns[3].header
    assert "100" not in header and "—" in header
    rows = {r.cells[0].text.split(" (")[0]: r for r in table.rows}
    assert rows["Not evaluable"].cells[1].text == "<5"
    assert all(r.cells[3].text in ("—", "") for r in table.rows)  # no % of evaluable
    # NE + not recorded of 7 and above: both denominators shown, NE hidden with its partner
    table = response_table(_with_responses(results_dict, CR=10, PR=20, SD=30, PD=40, NE=2,
                                           missing=20), sup=5)
    rows = {r.cells[0].text.split(" (")[0]: r for r in table.rows}
    assert "(n = 100)" in table.columns[3].header
    assert rows["Not recorded"].cells[1].text == "—"


def test_table1_hides_a_count_a_column_or_row_total_would_give_away(results_dict):
    """With suppression, no column (levels + missing = n) and no row (overall = sum of the
    groups) of a categorical variable keeps exactly one hidden count."""
    import re

    from nenstudy.report.tables import baseline_table

    table = baseline_table(results_dict, sup=10)
    n_columns = len(table.columns) - 2  # overall and groups, not the label nor the p-value
    blocks: list[list[list[str]]] = []
    for row in table.rows:
        if row.kind == "group":
            blocks.append([])
        elif row.kind == "level" and blocks:
            blocks[-1].append([c.text for c in row.cells[1:1 + n_columns]])
    hidden = lambda text: text.startswith("<") or text.startswith("—")  # noqa: E731
    checked = 0
    for block in blocks:
        if not block:
            continue
        for column in range(n_columns):
            cells = [r[column] for r in block if not re.fullmatch(r"0( \(.*\))?", r[column])]
            assert sum(map(hidden, cells)) != 1, (block, column)
        for r in block:
            cells = [c for c in r if not re.fullmatch(r"0( \(.*\))?", c)]
            assert sum(map(hidden, cells)) != 1, r
        checked += 1
    assert checked >= 3
    assert any(c.text.startswith("—") for r in table.rows for c in r.cells[1:])


def test_molecular_table_names_the_tmb_assays_with_the_pooled_ones_last(results_dict):
    results = copy.deepcopy(results_dict)
    results["molecular"]["tmb"]["assays"] = {"FoundationOne CDx": 12, "(other)": 3}
    notes = molecular_table(results).footnotes
    assert "TMB assays (patients): FoundationOne CDx 12, other 3." in notes
    hidden = molecular_table(results, sup=5).footnotes
    assert not any("other 3" in n for n in hidden)
    del results["molecular"]["tmb"]["assays"]
    assert not any(n.startswith("TMB assays") for n in molecular_table(results).footnotes)
