"""Generated prose of the report: the summary sentences, the follow-up sentence and the methods paragraph."""

from __future__ import annotations

import re
from typing import Mapping

from .formatting import fmt_count, fmt_level, fmt_median_ci, fmt_rate_ci, fmt_ratio
from .suppression import is_suppressed
from .tables import grouping_label

__all__ = ["summary_paragraph", "followup_sentence", "methods_paragraph", "ORIGIN_LABELS", "time_axis_label"]

ORIGIN_LABELS = {
    "diagnosis": "diagnosis",
    "mdt": "the MDT discussion",
    "first_line_start": "the start of first-line therapy",
}


def time_axis_label(origin: str | None) -> str:
    """Axis label of a time axis with its origin and unit, e.g. ``'Time since diagnosis (months)'``."""
    return f"Time since {ORIGIN_LABELS.get(origin or '', origin or 'origin')} (months)"


def summary_paragraph(results: Mapping, sup: int | None = None) -> str:
    """The study summary in two or three sentences, every number taken from results.json."""
    os_, pfs, first = results["os"], results["pfs"], results["first_line"]
    orr = results["orr_first_line"]
    orr_text = ("suppressed" if is_suppressed(orr.get("responders"), sup)
                else fmt_rate_ci(orr.get("rate"), *(orr.get("ci") or (None, None))))
    return (
        f"The cohort comprised {fmt_count(results.get('cohort_n'), sup)} patients. "
        f"First-line therapy was given to {fmt_ratio(first.get('treated'), first.get('eligible'), sup)} "
        f"eligible patients; the objective response rate among treated patients was {orr_text}. "
        f"Median overall survival was {fmt_median_ci(os_.get('median'), os_.get('ci'))} months "
        f"({fmt_count(os_.get('events'), sup)} deaths) and median progression-free survival from the start of first "
        f"line was {fmt_median_ci(pfs.get('median'), pfs.get('ci'))} months."
    )


def followup_sentence(results: Mapping) -> str:
    """Median follow-up with its CI and method."""
    fu = results["followup"]
    if results.get("os", {}).get("n") == 0:
        return "No patient is in the overall-survival analysis: there is no follow-up to summarise."
    return (f"Median follow-up was {fmt_median_ci(fu.get('median'), fu.get('ci'))} months "
            f"({fu.get('method', 'reverse Kaplan-Meier')}).")


def methods_paragraph(results: Mapping) -> str:
    """The statistical-methods paragraph, generated from the ``study`` and ``methods`` blocks.

    Every option that changes a number (time origins, CI transform and level, ties, tests, the ORR
    denominators and CI method, software versions) is stated as results.json records it.
    """
    study, methods = results["study"], results.get("methods") or {}
    level = fmt_level(study.get("conf_level"))
    dpm = study.get("days_per_month", 30.4375)
    # test names as results give them ("Wilcoxon rank-sum test"), without the word "test"
    tests = sorted({re.sub(r"\s+test$", "", v["test"]) for v in results["baseline"]["variables"]
                    if v.get("test")})
    by = results["baseline"].get("by")
    cut = study.get("ki67_cutpoints")
    groupings = sorted({g for ep in (results.get("stratified") or {}).values() for g in ep})
    orr = results["orr_first_line"]
    software = methods.get("software") or {}
    sentences = [
        f"Overall survival (OS) was measured from {ORIGIN_LABELS.get(study.get('os_origin'), study.get('os_origin'))} "
        f"to death from any cause and progression-free survival (PFS) from "
        f"{ORIGIN_LABELS.get(study.get('pfs_origin'), study.get('pfs_origin'))} to progression or death; patients "
        f"without the event were censored at their last contact or assessment. Times are in months "
        f"(days / {dpm}).",
        f"Survival was estimated with the Kaplan-Meier method ({methods.get('km', 'Greenwood variance')}); pointwise {level} confidence "
        f"intervals use the {study.get('conf_type', 'log-log')} transform, and CIs of median survival the "
        f"{methods.get('median_ci', 'Brookmeyer-Crowley')} method. Median follow-up was estimated by the "
        f"{results['followup'].get('method', 'reverse Kaplan-Meier')} method.",
    ]
    if groupings:
        sentences.append(
            f"Survival was compared between groups ({', '.join(grouping_label(g, results) for g in groupings)}) "
            f"with the {methods.get('logrank', 'log-rank test')}.")
    if results.get("cox"):
        sentences.append(
            f"Hazard ratios were estimated by Cox proportional-hazards regression ({methods.get('cox', '')}; "
            f"ties: {study.get('ties', 'efron')}), first univariable and then multivariable "
            f"on complete cases; the proportional-hazards assumption was checked by "
            f"{methods.get('ph', 'scaled Schoenfeld residuals')}.")
    if tests:
        sentences.append(
            "Baseline characteristics were compared "
            + (f"across levels of {grouping_label(by, results)} " if by else "")
            + f"with the {_and_join(tests)} test{'s' if len(tests) > 1 else ''} "
            "(each p-value in Table 1 names its test).")
    if cut:
        sentences.append(f"Ki-67 cut-points: {', '.join(f'{c:g}%' for c in cut)}.")
    ev = orr.get("evaluable") or {}
    sentences.append(
        "Best response to first-line therapy was assessed by RECIST 1.1; the objective response rate (CR + PR) is "
        "reported over all treated patients"
        + (" and over response-evaluable patients" if ev else "")
        + f", with {level} confidence intervals by the "
        f"{methods.get('binomial', orr.get('ci_method', 'exact'))} method.")
    if software:
        sentences.append("Software: " + ", ".join(f"{k} {v}" for k, v in software.items()) + ".")
    return " ".join(sentences)


def _and_join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
