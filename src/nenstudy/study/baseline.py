"""Baseline characteristics (Table 1): overall and by a grouping, with the test named.

Continuous variables: n, median, quartiles (R's default type-7 quantiles), range and missing;
compared with the Wilcoxon rank-sum test (two groups) or Kruskal-Wallis (more). Categorical
variables: counts and fractions of the non-missing, and missing; compared with Pearson's
chi-square or Fisher's exact test by the study's ``categorical_test`` rule (``auto``: Fisher
when an expected count is below 5). The test used is named for every row.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from nenstudy.stats import chi_square_test, fisher_exact_test, kruskal_wallis_test, wilcoxon_rank_sum_test
from nenstudy.study.definition import StudyDefinition
from nenstudy.study.survival import num

__all__ = ["baseline_block"]


def _continuous_summary(values: np.ndarray) -> dict[str, Any]:
    known = values[~np.isnan(values)]
    if known.size == 0:
        return {"n": 0, "median": None, "q1": None, "q3": None, "min": None, "max": None,
                "missing": int(values.size)}
    q1, median, q3 = np.percentile(known, [25, 50, 75])
    return {"n": int(known.size), "median": num(median), "q1": num(q1), "q3": num(q3),
            "min": num(known.min()), "max": num(known.max()), "missing": int(values.size - known.size)}


def _categorical_summary(values: pd.Series, levels: Sequence[str]) -> dict[str, Any]:
    known = values.dropna()
    counts = {lvl: int((known == lvl).sum()) for lvl in levels}
    total = int(known.size)
    return {"counts": counts, "pct": {k: (v / total if total else None) for k, v in counts.items()},
            "missing": int(values.size - total)}


def _categorical_test(table: np.ndarray, rule: str) -> tuple[str | None, float | None, str | None]:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return None, None, "fewer than two non-empty rows or columns: no test"
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    use_fisher = rule == "fisher" or (rule == "auto" and bool((expected < 5).any()))
    if use_fisher:
        try:
            result = fisher_exact_test(table)
            return result.test, num(result.p_value), result.method
        except ValueError as err:
            result = chi_square_test(table)
            return result.test, num(result.p_value), f"Fisher's exact test not computable ({err}); {result.method}"
    result = chi_square_test(table)
    return result.test, num(result.p_value), result.method


def baseline_block(frame: pd.DataFrame, study: StudyDefinition) -> dict[str, Any]:
    """Build Table 1 from one row per cohort patient.

    Parameters
    ----------
    frame : pandas.DataFrame
        Cohort variables (``cohort_vars``), a column per grouping and variable.
    study : StudyDefinition
        Baseline variables, the ``table1_by`` grouping and the categorical test rule.

    Returns
    -------
    dict
        ``n, by, by_label, groups, by_missing, group_n, variables`` (results_spec.md).
    """
    by = study.analysis.table1_by
    groups: list[str] = []
    by_values = None
    if by is not None:
        by_values = frame[by]
        groups = [lvl for lvl in study.groupings[by].levels if (by_values == lvl).any()]
    out: dict[str, Any] = {
        "n": int(len(frame)), "by": by, "by_label": study.label_of(by) if by else None,
        "groups": groups,
        "group_n": {g: int((by_values == g).sum()) for g in groups} if by_values is not None else {},
        "by_missing": int(by_values.isna().sum()) if by_values is not None else 0,
        "variables": [],
    }
    for name in study.analysis.baseline:
        kind = study.variable_kind(name)
        entry: dict[str, Any] = {"name": name, "label": study.label_of(name), "type": kind}
        if kind == "continuous":
            values = frame[name].astype(float).to_numpy()
            entry["overall"] = _continuous_summary(values)
            entry["by_group"] = {g: _continuous_summary(values[(by_values == g).to_numpy()]) for g in groups}
            samples = [values[(by_values == g).to_numpy()] for g in groups]
            samples = [s[~np.isnan(s)] for s in samples]
            test = p_value = note = None
            if len(samples) >= 2 and all(s.size > 0 for s in samples):
                result = wilcoxon_rank_sum_test(*samples) if len(samples) == 2 else kruskal_wallis_test(*samples)
                test, p_value, note = result.test, num(result.p_value), result.method
            elif by is not None:
                note = "fewer than two groups with values: no test"
        else:
            declared = study.groupings[name].levels if name in study.groupings else study.variables[name].levels
            column = frame[name]
            levels = [lvl for lvl in declared if (column == lvl).any()]
            entry["levels"] = levels
            entry["overall"] = _categorical_summary(column, levels)
            entry["by_group"] = {g: _categorical_summary(column[(by_values == g).to_numpy()], levels) for g in groups}
            test = p_value = note = None
            if name == by:
                note = "the grouping variable itself: no test"
            elif groups:
                table = np.array([[entry["by_group"][g]["counts"][lvl] for g in groups] for lvl in levels], dtype=int)
                if table.size:
                    test, p_value, note = _categorical_test(table, study.analysis.categorical_test)
        entry["test"] = test
        entry["p_value"] = p_value
        entry["test_note"] = note
        out["variables"].append(entry)
    return out
