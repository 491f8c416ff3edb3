"""The report as an ordered list of sections (paragraphs, tables, figures) that HTML and DOCX both render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .figures import FigureFile, FigureJob, KMSeries, flow_figure, forest_figure, km_figure, oncoprint_figure
from .figures import render_figures, swimmer_figure
from .formatting import fmt_count, fmt_level, fmt_p
from .narrative import followup_sentence, methods_paragraph, summary_paragraph, time_axis_label
from .tables import ENDPOINT_LABELS, Table, grouping_label
from .suppression import SUPPRESSED_DERIVED

__all__ = ["ReportFigure", "Block", "Section", "figure_jobs", "make_figures", "make_sections"]


@dataclass(frozen=True)
class ReportFigure:
    """A saved figure with its caption."""

    key: str
    caption: str
    file: FigureFile


@dataclass(frozen=True)
class Block:
    """One block of a section: a paragraph (``text``), a table or a figure."""

    kind: str
    text: str = ""
    table: Table | None = None
    figure: ReportFigure | None = None


@dataclass(frozen=True)
class Section:
    """A numbered report section (a page of its own in print)."""

    id: str
    title: str
    blocks: tuple[Block, ...]


_Y_LABELS = {"os": "Overall survival probability", "pfs": "Progression-free survival probability"}


def _origin(results: Mapping, endpoint: str) -> str | None:
    return results[endpoint].get("origin") or results["study"].get(f"{endpoint}_origin")


def _axis_note(series: list[KMSeries], suppress_below: int | None) -> str:
    """Say where the time axis ends and why, when follow-up runs beyond the numbers-at-risk table."""
    if not series or not series[0].block.get("risk_table", {}).get("times"):
        return ""
    last = float(series[0].block["risk_table"]["times"][-1])
    longest = max((max(s.block["curve"]["time"], default=0.0) for s in series), default=0.0)
    if longest <= last * 1.03:  # the axis (to 103% of the last risk time) already shows all follow-up
        return ""
    at_risk = fmt_count(sum(int(s.block["risk_table"]["n_risk"][-1]) for s in series), suppress_below)
    # under suppression the total at risk would give away a group's hidden number at risk
    still = "" if suppress_below else f", with {at_risk} patient{'' if at_risk == '1' else 's'} still at risk"
    return (f" The time axis ends at {last:g} months, the last time of the numbers-at-risk table set in the study "
            f"file (risk_table_times){still}; the longest follow-up is {longest:.1f} months.")


def figure_jobs(results: Mapping, suppress_below: int | None = None) -> list[tuple[FigureJob, str]]:
    """Every figure of the report as a drawing job with its caption, in report order."""
    sup = suppress_below
    jobs: list[tuple[FigureJob, str]] = []

    def add(key: str, draw, caption: str, **kwargs) -> None:
        jobs.append((FigureJob(key, draw, kwargs), caption))

    add("flow", flow_figure,
        "Flow diagram of patient selection (STROBE): patients remaining after each step and those excluded.",
        attrition=results["attrition"], suppress_below=sup)
    mol = results.get("molecular") or {}
    if (mol.get("matrix") or {}).get("ids"):
        add("oncoprint", oncoprint_figure,
            "Molecular landscape of the profiled patients: alterations by gene (rows) and patient (columns); "
            "TMB (mut/Mb) above, MSI status below; white = not tested.", molecular=mol, suppress_below=sup)
    if results.get("swimmer") and (sup is None or sup <= 1):
        add("swimmer", swimmer_figure,
            "Lines of systemic therapy over time, one lane per treated patient, sorted by follow-up.",
            swimmer=results["swimmer"], xlabel=time_axis_label(_origin(results, "os")))
    for endpoint in ("os", "pfs"):
        series = [KMSeries("All patients" if endpoint == "os" else "Treated", results[endpoint])]
        add(f"km_{endpoint}", km_figure,
            f"Kaplan-Meier estimate of {ENDPOINT_LABELS[endpoint].lower()} with its "
            f"{fmt_level(results[endpoint].get('conf_level'))} confidence band "
            f"({results[endpoint].get('conf_type', '')} transform); tick marks are censored patients; the dashed "
            "line marks the median; numbers at risk below." + _axis_note(series, sup),
            series=series, xlabel=time_axis_label(_origin(results, endpoint)), ylabel=_Y_LABELS[endpoint],
            suppress_below=sup)
    for endpoint, groupings in (results.get("stratified") or {}).items():
        for grouping, block in groupings.items():
            label = block.get("label") or grouping_label(grouping, results)
            p_text = f"{block.get('test', 'Log-rank').capitalize()} p = {fmt_p(block.get('logrank_p'))}"
            p_text = p_text.replace("= <", "< ")
            series = [KMSeries(level, g) for level, g in block["groups"].items()]
            if not series:  # no patient of the population has a known value: no curve to draw
                continue
            add(f"km_{endpoint}_{grouping}", km_figure,
                f"{ENDPOINT_LABELS[endpoint]} by {label}; {p_text}." + _axis_note(series, sup),
                series=series, xlabel=time_axis_label(_origin(results, endpoint)), ylabel=_Y_LABELS[endpoint],
                annotation=p_text, group_title=label, suppress_below=sup)
    for endpoint, block in (results.get("cox") or {}).items():
        if block.get("univariable") or block.get("multivariable"):
            add(f"forest_{endpoint}", forest_figure,
                f"Hazard ratios for {ENDPOINT_LABELS.get(endpoint, endpoint).lower()} (Cox regression, "
                f"{fmt_level(block.get('conf_level') or results['study'].get('conf_level'))} CI, "
                "log scale): univariable (circles) and multivariable (squares).", models=block)
    return jobs


def make_figures(results: Mapping, figures_dir: Path, suppress_below: int | None = None, *,
                 parallel: bool | None = None) -> dict[str, ReportFigure]:
    """Draw and save every figure (PNG 300 dpi + SVG) into ``figures_dir``; return them by key.

    Parameters
    ----------
    results : Mapping
        The parsed results.json.
    figures_dir : Path
        Output folder of the figure files.
    suppress_below : int, optional
        Small-number suppression threshold for figure labels.
    parallel : bool, optional
        Passed to :func:`nenstudy.report.figures.render.render_figures` (``None``: use a helper
        process when there is a spare core).
    """
    jobs = figure_jobs(results, suppress_below)
    files = render_figures([job for job, _ in jobs], figures_dir, parallel=parallel)
    return {job.key: ReportFigure(job.key, caption, files[job.key]) for job, caption in jobs}


def _p(text: str) -> Block:
    return Block("paragraph", text=text)


def _t(tables: Mapping[str, Table], key: str) -> list[Block]:
    return [Block("table", table=tables[key])] if key in tables else []


def _f(figures: Mapping[str, ReportFigure], key: str) -> list[Block]:
    return [Block("figure", figure=figures[key])] if key in figures else []


def make_sections(results: Mapping, tables: Mapping[str, Table], figures: Mapping[str, ReportFigure],
                  suppress_below: int | None = None) -> list[Section]:
    """Assemble the report's sections in order, from the tables, figures and generated text."""
    sup = suppress_below
    study = results["study"]
    summary = [_p(study.get("description", "")), _p(summary_paragraph(results, sup)), _p(followup_sentence(results))]
    for problem in results.get("data_problems") or []:
        n = problem.get("n")
        summary.append(_p(f"Data problem: {fmt_count(n, sup)} patient{'' if n == 1 else 's'} - "
                          f"{problem.get('description', problem.get('problem', ''))}."))
    if sup:
        summary.append(_p(f"Small-number suppression is on: counts from 1 to {sup - 1} are shown as <{sup} in every "
                          "table and figure label, and percentages derived from them are not shown. In Table 1 and the "
                          f"response table, counts that would let a hidden one be worked out from a total are hidden "
                          f"too ({SUPPRESSED_DERIVED}). Elsewhere each small count is hidden on its own: a total and "
                          "the other counts of its group (the flow diagram's steps, the lines and regimens, the "
                          "groups of a survival table) may still give it away; check the report before sharing it."))
    strat_blocks: list[Block] = []
    for endpoint, groupings in (results.get("stratified") or {}).items():
        for grouping in groupings:
            strat_blocks += _f(figures, f"km_{endpoint}_{grouping}")
    cox_blocks: list[Block] = []
    for endpoint in results.get("cox") or {}:
        cox_blocks += _f(figures, f"forest_{endpoint}") + _t(tables, f"cox_{endpoint}")
    swimmer_note = [] if "swimmer" in figures or not results.get("swimmer") else [
        _p("The swimmer plot (one lane per patient) is omitted when small-number suppression is on.")]
    sections = [
        Section("summary", "Study summary", tuple(summary + _t(tables, "comparison"))),
        Section("selection", "Patient selection", tuple(_f(figures, "flow") + _t(tables, "attrition"))),
        Section("table1", "Patient characteristics", tuple(_t(tables, "table1"))),
        Section("molecular", "Molecular profile", tuple(_f(figures, "oncoprint") + _t(tables, "molecular"))),
        Section("treatment", "Treatment patterns",
                tuple(_t(tables, "lines") + _t(tables, "regimens") + _f(figures, "swimmer") + swimmer_note)),
        Section("response", "Response to first-line therapy", tuple(_t(tables, "response"))),
        Section("survival", "Survival", tuple([_p(followup_sentence(results))] + _t(tables, "survival")
                                            + _f(figures, "km_os") + _f(figures, "km_pfs"))),
        Section("stratified", "Survival by group", tuple(strat_blocks + _t(tables, "stratified"))),
        Section("cox", "Prognostic factors (Cox regression)", tuple(cox_blocks)),
        Section("methods", "Statistical methods", (_p(methods_paragraph(results)),)),
        Section("provenance", "Provenance", tuple(_t(tables, "provenance"))),
    ]
    return [s for s in sections if s.blocks]
