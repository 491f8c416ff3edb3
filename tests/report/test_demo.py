"""The report built from a real study run (synthetic registry -> EP-NEC study)."""

from __future__ import annotations

import json

import pytest
from docx import Document
from openpyxl import load_workbook

from nenstudy import synth
from nenstudy.paths import default_study
from nenstudy.report import build_report
from nenstudy.report.formatting import fmt_median_ci, fmt_rate_ci
from nenstudy.study.runner import run_study

from .htmltext import read_report


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    synth.write_registry(root / "registry", seed=2022)
    run_study(root / "registry", default_study(), root / "out", seed=2022)
    written = build_report(root / "out")
    results = json.loads((root / "out" / "results.json").read_text())
    html = (root / "out" / "report.html").read_text(encoding="utf-8")
    return root / "out", written, results, read_report(html), html


def test_demo_report_shows_the_run_survival_numbers(demo):
    _, _, results, parsed, _ = demo
    os_row = next(r for r in parsed.tables["survival"] if r[0] == "Overall survival")
    assert os_row[1:4] == [str(results["os"]["n"]), str(results["os"]["events"]),
                           fmt_median_ci(results["os"]["median"], results["os"]["ci"])]
    orr = results["orr_first_line"]
    assert parsed.tables["response"][-1][2] == fmt_rate_ci(orr["rate"], *orr["ci"])


def test_demo_report_has_every_figure_inline(demo):
    _, written, _, _, html = demo
    svgs = {p.stem for p in written if p.suffix == ".svg"}
    assert {"flow", "km_os", "km_pfs", "oncoprint", "swimmer"} <= svgs
    assert html.count("<svg") == len(svgs)


def test_demo_docx_and_xlsx_hold_every_table(demo):
    out, _, _, parsed, _ = demo
    assert len(Document(str(out / "report.docx")).tables) == len(parsed.tables)
    assert set(load_workbook(out / "tables.xlsx").sheetnames[1:]) == set(parsed.tables)


def test_demo_outputs_show_no_registry_patient_ids(demo):
    import csv

    out, _, _, _, html = demo
    with open(out.parent / "registry" / "patients.csv", newline="") as f:
        ids = [row["patient_id"] for row in csv.DictReader(f)]
    assert ids
    docx_text = "\n".join(c.text for t in Document(str(out / "report.docx")).tables for r in t.rows for c in r.cells)
    for text in (html, docx_text):
        assert not any(i in text for i in ids)
