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
