"""Tests of build_report: outputs written, HTML self-contained, numbers equal results.json, DOCX and XLSX read back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from nenstudy.report import ResultsError, build_report
from nenstudy.report.formatting import fmt_hr_ci, fmt_median_ci, fmt_p, fmt_rate_ci
from nenstudy.report.xlsx import FIRST_DATA_ROW, HEADER_ROW

from .conftest import write_results
from .htmltext import read_report


@pytest.fixture(scope="module")
def html(built_report) -> str:
    return (built_report[0] / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def parsed(html):
    return read_report(html)


def _row(table: list[list[str]], first: str) -> list[str]:
    return next(r for r in table if r and r[0] == first)


def test_build_writes_html_docx_xlsx_and_figures(built_report):
    out, written = built_report
    names = {p.name for p in written}
    assert {"report.html", "report.docx", "tables.xlsx", "km_os.png", "km_os.svg", "flow.png", "forest_os.svg",
            "oncoprint.png", "swimmer.png"} <= names
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    assert {p.parent for p in written if p.suffix in (".png", ".svg")} == {out / "figures"}


def test_html_fetches_nothing(html):
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert not re.search(r"@import|url\((?!#)", html)
    assert not re.search(r'(src|href)="(?!#)', html)


def test_html_inlines_every_figure_as_svg(built_report, html):
    figures = {p.stem for p in built_report[1] if p.suffix == ".svg"}
    inlined = set(re.findall(r'<figure id="fig-([^"]+)"', html))
    assert inlined == figures
    assert html.count("<svg") == len(figures)


def test_html_contents_link_to_every_section(html):
    sections = re.findall(r'<section id="([^"]+)"', html)
    links = re.findall(r'<li><a href="#([^"]+)"', html)
    assert links == sections and len(sections) >= 10


def test_html_has_a4_print_rules_with_page_breaks(html):
    assert "@page { size: A4" in html
    assert "break-before: page" in html


def test_numbers_in_html_equal_results(parsed, results_dict):
    r = results_dict
    survival = parsed.tables["survival"]
    assert _row(survival, "Overall survival")[1:4] == [str(r["os"]["n"]), str(r["os"]["events"]),
                                                      fmt_median_ci(r["os"]["median"], r["os"]["ci"])]
    assert _row(survival, "Progression-free survival (first line)")[3] == fmt_median_ci(r["pfs"]["median"],
                                                                                        r["pfs"]["ci"])
    orr = r["orr_first_line"]
    assert parsed.tables["response"][-1][2] == fmt_rate_ci(orr["rate"], *orr["ci"])
    for gene, g in r["molecular"]["genes"].items():
        assert _row(parsed.tables["molecular"], gene)[1:3] == [str(g["altered"]), str(g["tested"])]
    for step in r["attrition"]:
        assert _row(parsed.tables["attrition"], step["label"])[1] == str(step["n"])
    for row in r["cox"]["os"]["univariable"]:
        assert _row(parsed.tables["cox_os"], row["label"])[2] == fmt_hr_ci(row["hr"], row["lower"], row["upper"])
    strat = parsed.tables["stratified"]
    ecog = next(i for i, row in enumerate(strat) if row[1] == "ECOG performance status")
    assert strat[ecog][6] == fmt_p(r["stratified"]["os"]["ecog_group"]["logrank_p"])


def test_literal_numbers_are_formatted_as_journals_print_them(parsed):
    assert parsed.tables["response"][-1][2] == "39.0% (30.7–47.7%)"
    assert _row(parsed.tables["lines"], "First-line chemotherapy (among advanced disease)")[1:] == ["136", "153",
                                                                                                   "88.9%"]


def test_html_text_states_follow_up_and_methods(parsed, results_dict):
    fu = results_dict["followup"]
    assert f"Median follow-up was {fmt_median_ci(fu['median'], fu['ci'])} months" in parsed.text
    assert "log-log transform" in parsed.text and "Clopper-Pearson" in parsed.text
    assert "numpy 2.1.0" in parsed.text


def test_html_shows_no_patient_identifiers(html, results_dict):
    ids = [p["id"] for p in results_dict["swimmer"]] + results_dict["molecular"]["matrix"]["ids"]
    assert not any(i in html for i in ids)


def test_docx_has_real_tables_with_the_same_numbers(built_report, parsed):
    doc = Document(str(built_report[0] / "report.docx"))
    assert len(doc.tables) == len(parsed.tables)
    word = {tuple(c.text for c in t.rows[0].cells): t for t in doc.tables}
    html_survival = parsed.tables["survival"]
    table = word[tuple(html_survival[0])]
    assert [[c.text for c in row.cells] for row in table.rows] == html_survival


def test_docx_embeds_every_figure(built_report):
    doc = Document(str(built_report[0] / "report.docx"))
    n_figures = sum(1 for p in built_report[1] if p.suffix == ".png")
    assert len(doc.inline_shapes) == n_figures


def test_docx_page_is_a4(built_report):
    section = Document(str(built_report[0] / "report.docx")).sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)


def test_xlsx_has_one_sheet_per_table(built_report, parsed):
    wb = load_workbook(built_report[0] / "tables.xlsx")
    assert wb.sheetnames[0] == "Contents"
    assert set(wb.sheetnames[1:]) == set(parsed.tables)


def test_xlsx_stores_numbers_as_numbers(built_report, results_dict):
    ws = load_workbook(built_report[0] / "tables.xlsx")["survival"]
    headers = [c.value for c in ws[HEADER_ROW]]
    row = next(r for r in ws.iter_rows(min_row=FIRST_DATA_ROW) if r[0].value == "Overall survival")
    values = dict(zip(headers, (c for c in row)))
    assert values["n"].value == results_dict["os"]["n"] and isinstance(values["n"].value, int)
    median = values[next(h for h in headers if h.startswith("Median") and h.endswith("estimate"))]
    assert median.value == pytest.approx(results_dict["os"]["median"]) and median.number_format == "0.0"
    rate = values[next(h for h in headers if h.startswith("12 months") and h.endswith("estimate"))]
    assert rate.value == pytest.approx(results_dict["os"]["rates"]["12"]["survival"])
    assert rate.number_format == "0.0%"


def test_xlsx_header_is_styled(built_report):
    ws = load_workbook(built_report[0] / "tables.xlsx")["table1"]
    header = ws.cell(row=HEADER_ROW, column=1)
    assert header.font.bold and header.fill.fgColor.rgb.endswith("DCE6F0")


def test_suppressed_report_hides_small_counts_in_every_table(built_suppressed):
    parsed = read_report((built_suppressed[0] / "report.html").read_text(encoding="utf-8"))
    for key, table in parsed.tables.items():
        if key in ("provenance", "comparison"):
            continue
        for row in table[1:]:
            for text in row[1:]:
                count = re.fullmatch(r"(\d+)(?: \((?:\d+|<5|—|[\d.]+%)\))?", text)  # "12", "12 (40.0%)", "170 (118)"
                if count:
                    assert not 1 <= int(count.group(1)) < 5, (key, row)
    assert "<5" in parsed.text


def test_suppressed_xlsx_writes_less_than_k_as_text(built_suppressed):
    ws = load_workbook(built_suppressed[0] / "tables.xlsx")["molecular"]
    msi = next(r for r in ws.iter_rows(min_row=FIRST_DATA_ROW) if r[0].value == "MSI-high")
    assert msi[1].value == "<5" and msi[3].value is None


def test_missing_results_file_is_a_clear_error(tmp_path):
    with pytest.raises(ResultsError, match=r"results\.json: not found"):
        build_report(tmp_path)


def test_missing_key_is_named(tmp_path, results_dict):
    broken = {k: v for k, v in results_dict.items() if k != "followup"}
    write_results(tmp_path, broken)
    with pytest.raises(ResultsError, match="followup"):
        build_report(tmp_path)


def test_nan_in_results_is_refused(tmp_path, results_dict):
    text = json.dumps(results_dict).replace('"median": 30.1', '"median": NaN')
    (tmp_path / "results.json").write_text(text)
    with pytest.raises(ResultsError, match="NaN"):
        build_report(tmp_path)


def test_threshold_below_two_is_refused(tmp_path, results_dict):
    write_results(tmp_path, results_dict)
    with pytest.raises(ValueError, match=">= 2"):
        build_report(tmp_path, suppress_below=1)


def test_report_layer_never_imports_stats():
    root = Path(__import__("nenstudy.report", fromlist=["x"]).__file__).parent
    pattern = re.compile(r"^\s*(from|import)\s+(nenstudy\.stats|\.\.stats|\.\.\.stats)", re.M)
    for source in root.rglob("*.py"):
        assert not pattern.search(source.read_text()), source


def test_building_loads_no_stats_module(tmp_path, results_dict):
    import subprocess
    import sys

    write_results(tmp_path, results_dict)
    code = ("import sys; from pathlib import Path; from nenstudy.report import build_report; "
            f"build_report(Path({str(tmp_path)!r})); "
            "print([m for m in sys.modules if m.startswith('nenstudy.stats') or m.startswith('nenstudy.study')])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_rebuild_removes_its_earlier_figures_and_nothing_else(tmp_path, results_dict):
    """Built with suppression after a build without it, the swimmer plot (omitted then) is gone;
    an image of the user's in the figures folder stays."""
    write_results(tmp_path, results_dict)
    build_report(tmp_path, parallel=False)
    figures = tmp_path / "figures"
    assert (figures / "swimmer.png").is_file()
    (figures / "my_own_plot.png").write_bytes(b"mine")
    build_report(tmp_path, suppress_below=5, parallel=False)
    assert not (figures / "swimmer.png").exists()
    assert (figures / "my_own_plot.png").read_bytes() == b"mine"
    assert (figures / "km_os.png").is_file()
