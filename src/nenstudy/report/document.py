"""The report as an ordered list of sections (paragraphs, tables, figures) that HTML and DOCX both render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .figures import FigureFile, KMSeries, figure_style, flow_figure, forest_figure, km_figure, oncoprint_figure
from .figures import save_figure, swimmer_figure
from .formatting import fmt_p
from .narrative import followup_sentence, methods_paragraph, summary_paragraph, time_axis_label
from .tables import ENDPOINT_LABELS, Table, grouping_label

__all__ = ["ReportFigure", "Block", "Section", "make_figures", "make_sections"]


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


def make_figures(results: Mapping, figures_dir: Path, suppress_below: int | None = None) -> dict[str, ReportFigure]:
    """Draw and save every figure (PNG 300 dpi + SVG) into ``figures_dir``; return them by key."""
    sup = suppress_below
    made: dict[str, ReportFigure] = {}

    def keep(key: str, fig, caption: str) -> None:
        made[key] = ReportFigure(key, caption, save_figure(fig, figures_dir, key))

    with figure_style():
        keep("flow", flow_figure(results["attrition"], suppress_below=sup),
             "Flow diagram of patient selection (STROBE): patients remaining after each step and those excluded.")
        mol = results.get("molecular") or {}
        if (mol.get("matrix") or {}).get("ids"):
            keep("oncoprint", oncoprint_figure(mol, suppress_below=sup),
                 "Molecular landscape of the profiled patients: alterations by gene (rows) and patient (columns); "
                 "TMB (mut/Mb) above, MSI status below; white = not tested.")
        if results.get("swimmer") and (sup is None or sup <= 1):
            keep("swimmer", swimmer_figure(results["swimmer"], xlabel=time_axis_label(_origin(results, "os"))),
                 "Lines of systemic therapy over time, one lane per treated patient, sorted by follow-up.")
        for endpoint in ("os", "pfs"):
            keep(f"km_{endpoint}", km_figure([KMSeries("All patients" if endpoint == "os" else "Treated",
                                                       results[endpoint])],
                                            xlabel=time_axis_label(_origin(results, endpoint)),
                                            ylabel=_Y_LABELS[endpoint], suppress_below=sup),
                 f"Kaplan-Meier estimate of {ENDPOINT_LABELS[endpoint].lower()} with its "
                 f"{int(round(100 * results[endpoint].get('conf_level', 0.95)))}% confidence band "
                 f"({results[endpoint].get('conf_type', '')} transform); tick marks are censored patients; the dashed "
                 "line marks the median; numbers at risk below.")
        for endpoint, groupings in (results.get("stratified") or {}).items():
            for grouping, block in groupings.items():
                label = grouping_label(grouping, results)
                p_text = f"{block.get('test', 'Log-rank').capitalize()} p = {fmt_p(block.get('logrank_p'))}"
                p_text = p_text.replace("= <", "< ")
                fig = km_figure([KMSeries(level, g) for level, g in block["groups"].items()],
                                xlabel=time_axis_label(_origin(results, endpoint)), ylabel=_Y_LABELS[endpoint],
                                annotation=p_text, suppress_below=sup)
                keep(f"km_{endpoint}_{grouping}", fig,
                     f"{ENDPOINT_LABELS[endpoint]} by {label}; {p_text}.")
        for endpoint, block in (results.get("cox") or {}).items():
            if block.get("univariable") or block.get("multivariable"):
                keep(f"forest_{endpoint}", forest_figure(block),
                     f"Hazard ratios for {ENDPOINT_LABELS.get(endpoint, endpoint).lower()} (Cox regression, 95% CI, "
                     "log scale): univariable (circles) and multivariable (squares).")
    return made


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
    if sup:
        summary.append(_p(f"Small-number suppression is on: counts from 1 to {sup - 1} are shown as <{sup} in every "
                          "table and figure label, and percentages derived from them are not shown."))
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
