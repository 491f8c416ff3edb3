"""Tests of the report figures: risk table geometry, suppression in labels, saving."""

import re

import numpy as np
import pytest
from PIL import Image

from nenstudy.report.figures import (
    KMSeries,
    figure_style,
    flow_figure,
    forest_figure,
    km_figure,
    oncoprint_figure,
    save_figure,
)
from nenstudy.report.figures.km import RISK_TABLE_GID


def _risk_axes(fig):
    return next(ax for ax in fig.axes if ax.get_gid() == RISK_TABLE_GID)


def _all_texts(fig):
    texts = []
    for ax in fig.axes:
        texts += [t.get_text() for t in ax.texts]
        texts += [t.get_text() for t in ax.get_yticklabels()]
        legend = ax.get_legend()
        if legend:
            texts += [t.get_text() for t in legend.get_texts()]
    return texts


@pytest.fixture()
def os_figure(results_dict):
    with figure_style():
        return km_figure([KMSeries("All patients", results_dict["os"])], xlabel="Time (months)", ylabel="OS")


@pytest.fixture()
def stratified_figure(results_dict):
    groups = results_dict["stratified"]["os"]["ecog_group"]["groups"]
    with figure_style():
        return km_figure([KMSeries(k, v) for k, v in groups.items()], xlabel="Time (months)", ylabel="OS",
                         annotation="Log-rank p < 0.001", suppress_below=11)


def test_numbers_at_risk_sit_exactly_under_the_ticks(os_figure):
    fig = os_figure
    fig.canvas.draw()
    ax = fig.axes[0]
    risk = _risk_axes(fig)
    tick_x = [ax.transData.transform((t, 0))[0] for t in ax.get_xticks()]
    text_x = [risk.transData.transform(t.get_position())[0] for t in risk.texts]
    assert len(text_x) == len(tick_x)
    assert np.allclose(sorted(text_x), sorted(tick_x), atol=1e-6)


def test_risk_table_shares_the_x_axis_of_the_curves(os_figure):
    ax, risk = os_figure.axes[0], _risk_axes(os_figure)
    assert ax.get_shared_x_axes().joined(ax, risk)
    ax.set_xlim(0, 100)  # moving the curves moves the table too
    assert risk.get_xlim() == (0, 100)


def test_numbers_at_risk_are_the_results_values(os_figure, results_dict):
    shown = [t.get_text() for t in _risk_axes(os_figure).texts]
    assert shown == [str(n) for n in results_dict["os"]["risk_table"]["n_risk"]]


def test_numbers_at_risk_are_suppressed(stratified_figure):
    shown = [t.get_text() for t in _risk_axes(stratified_figure).texts]
    assert "<11" in shown
    assert not any(s.isdigit() and 1 <= int(s) < 11 for s in shown)


def test_legend_n_is_suppressed(results_dict):
    block = dict(results_dict["stratified"]["os"]["ecog_group"]["groups"]["2-4"], n=3)
    with figure_style():
        fig = km_figure([KMSeries("2-4", block)], xlabel="t", ylabel="s", suppress_below=5)
    assert any("n = <5" in t for t in _all_texts(fig))


def test_groups_with_different_risk_times_are_refused(results_dict):
    a = results_dict["os"]
    b = dict(a, risk_table={"times": [0, 12], "n_risk": [10, 5]})
    with pytest.raises(ValueError, match="risk-table times differ"):
        km_figure([KMSeries("a", a), KMSeries("b", b)], xlabel="t", ylabel="s")


def test_flow_diagram_shows_every_step_count_and_exclusion(results_dict):
    with figure_style():
        texts = " ".join(_all_texts(flow_figure(results_dict["attrition"])))
    for step in results_dict["attrition"]:
        assert f"n = {step['n']}" in texts
        if step["excluded"]:
            assert f"Excluded (n = {step['excluded']})" in texts


def test_flow_diagram_suppresses_small_exclusions(results_dict):
    with figure_style():
        texts = " ".join(_all_texts(flow_figure(results_dict["attrition"], suppress_below=5)))
    assert "Excluded (n = <5)" in texts  # 3 outside the study window


def test_oncoprint_counts_are_suppressed(results_dict):
    with figure_style():
        texts = _all_texts(oncoprint_figure(results_dict["molecular"], suppress_below=5))
    small = [t for t in texts if t.startswith("<5/")]
    assert small, texts


def test_oncoprint_orders_genes_by_alteration_frequency(results_dict):
    with figure_style():
        fig = oncoprint_figure(results_dict["molecular"])
    genes = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    altered = [results_dict["molecular"]["genes"][g]["altered"] for g in genes]
    assert altered == sorted(altered, reverse=True)


def test_forest_plot_is_on_a_log_scale(results_dict):
    with figure_style():
        fig = forest_figure(results_dict["cox"]["os"])
    assert fig.axes[0].get_xscale() == "log"


def test_saved_png_is_300_dpi_and_svg_is_written(tmp_path, os_figure):
    saved = save_figure(os_figure, tmp_path, "km_os")
    with Image.open(saved.png) as im:
        assert round(im.info["dpi"][0]) == 300
        assert im.size[0] == pytest.approx(300 * saved.width_in, abs=2)
    assert saved.svg.read_text().lstrip().startswith("<?xml")
    assert saved.svg_inline.startswith("<svg")


def test_inline_svgs_of_two_figures_share_no_element_id(tmp_path, os_figure, stratified_figure):
    a = save_figure(os_figure, tmp_path, "km_os").svg_inline
    b = save_figure(stratified_figure, tmp_path, "km_os_ecog").svg_inline
    ids_a, ids_b = set(re.findall(r'id="([^"]+)"', a)), set(re.findall(r'id="([^"]+)"', b))
    assert ids_a and ids_b and not ids_a & ids_b


def test_inline_svg_references_point_to_its_own_ids(tmp_path, os_figure):
    svg = save_figure(os_figure, tmp_path, "km_os").svg_inline
    ids = set(re.findall(r'id="([^"]+)"', svg))
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', svg))
    assert refs and refs <= ids


def test_saving_is_reproducible(tmp_path, results_dict):
    outputs = []
    for _ in range(2):
        with figure_style():
            fig = km_figure([KMSeries("All", results_dict["os"])], xlabel="t", ylabel="s")
        outputs.append(save_figure(fig, tmp_path, "km").svg.read_text())
    assert outputs[0] == outputs[1]


def test_stratified_legend_is_titled_with_the_grouping_label(results_dict):
    groups = results_dict["stratified"]["os"]["ecog_group"]["groups"]
    with figure_style():
        fig = km_figure([KMSeries(k, v) for k, v in groups.items()], xlabel="t", ylabel="s", group_title="ECOG PS")
    assert fig.axes[0].get_legend().get_title().get_text() == "ECOG PS"


def test_stratified_risk_table_heading_names_the_grouping(results_dict):
    groups = results_dict["stratified"]["os"]["ecog_group"]["groups"]
    with figure_style():
        fig = km_figure([KMSeries(k, v) for k, v in groups.items()], xlabel="t", ylabel="s", group_title="ECOG PS")
    assert _risk_axes(fig).get_title(loc="left") == "Number at risk by ECOG PS"
