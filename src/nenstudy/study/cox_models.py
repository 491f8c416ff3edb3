"""Univariable and multivariable Cox models of an endpoint, as results.json blocks.

Categorical covariates enter with the first declared level present in the data as the
reference (terms named as R: variable + level); continuous covariates per unit. Univariable
models use the patients with that covariate known; the multivariable model the complete cases
of all its covariates. Warnings of the fit (monotone likelihood, non-convergence, collinearity)
are kept in the output instead of being hidden.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nenstudy.stats import cox_ph
from nenstudy.study.definition import StudyDefinition
from nenstudy.study.survival import num

__all__ = ["cox_block"]


def _design(frame: pd.DataFrame, names: Sequence[str], study: StudyDefinition) -> tuple[pd.DataFrame, dict]:
    """Complete cases with categorical columns as Categoricals of the levels present."""
    data = frame[["time", "event", *names]].dropna(subset=list(names)).copy()
    info: dict[str, dict[str, Any]] = {}
    for name in names:
        if study.variable_kind(name) == "categorical":
            levels = study.groupings[name].levels if name in study.groupings else study.variables[name].levels
            present = [lvl for lvl in levels if (data[name] == lvl).any()]
            data[name] = pd.Categorical(data[name], categories=present)
            info[name] = {"kind": "categorical", "levels": present}
        else:
            data[name] = data[name].astype(float)
            info[name] = {"kind": "continuous"}
    return data, info


def _rows(fit, names: Sequence[str], info: dict, study: StudyDefinition) -> list[dict[str, Any]]:
    params = fit.params
    rows = []
    for name in names:
        label = study.label_of(name)
        if info[name]["kind"] == "categorical":
            levels = info[name]["levels"]
            terms = [(f"{name}{lvl}", lvl, f"{label} {lvl} vs {levels[0]}") for lvl in levels[1:]]
            reference = levels[0]
        else:
            terms = [(name, None, f"{label} (per unit)")]
            reference = None
        for term, level, term_label in terms:
            if term not in params.index:
                continue
            row = params.loc[term]
            rows.append({
                "variable": name, "term": term, "label": term_label, "level": level,
                "reference": reference, "hr": num(row["hazard_ratio"]), "lower": num(row["lower"]),
                "upper": num(row["upper"]), "p_value": num(row["p_value"]), "coef": num(row["coef"]),
                "se": num(row["se"]), "n": int(fit.n), "events": int(fit.events),
            })
    return rows


def _fit(data: pd.DataFrame, names: Sequence[str], ties: str, conf_level: float):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = cox_ph(data, duration="time", event="event", covariates=list(names), ties=ties,
                     conf_level=conf_level)
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return fit, messages


def _usable(data: pd.DataFrame, names: Sequence[str], info: dict) -> str | None:
    if data.empty or int(data["event"].sum()) == 0:
        return "no events among the patients with the covariate(s) known"
    for name in names:
        if info[name]["kind"] == "categorical" and len(info[name]["levels"]) < 2:
            return f"{name}: fewer than two levels with patients"
        if info[name]["kind"] == "continuous" and np.nanstd(data[name].to_numpy()) == 0:
            return f"{name}: no variation"
    return None


def cox_block(
    frame: pd.DataFrame,
    univariable: Sequence[str],
    multivariable: Sequence[str],
    study: StudyDefinition,
) -> dict[str, Any]:
    """Fit the univariable models and the multivariable model of one endpoint.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient: ``time`` (months), ``event`` (0/1) and a column per covariate.
    univariable, multivariable : sequence of str
        Covariate names (groupings or variables of the study).
    study : StudyDefinition
        Levels, labels, ties and confidence level.

    Returns
    -------
    dict
        ``univariable`` (rows of every univariable model, each with the model's
        likelihood-ratio p as ``lr_p_value``), ``multivariable`` (rows), ``multivariable_n``,
        ``multivariable_events``, ``ph_test``, ``concordance``, ``lr_test``, ``ties``,
        ``conf_level``, ``notes``.
    """
    ties, conf_level = study.analysis.ties, study.analysis.conf_level
    out: dict[str, Any] = {
        "univariable": [], "multivariable": [], "multivariable_n": None, "multivariable_events": None,
        "ph_test": [], "concordance": [None, None], "lr_test": None, "ties": ties,
        "conf_level": conf_level, "covariates": list(multivariable), "notes": [],
    }
    for name in univariable:
        data, info = _design(frame, [name], study)
        problem = _usable(data, [name], info)
        if problem:
            out["notes"].append(f"univariable {name}: not fitted ({problem})")
            continue
        fit, messages = _fit(data, [name], ties, conf_level)
        rows = _rows(fit, [name], info, study)
        for row in rows:
            row["lr_p_value"] = num(fit.lr_test[2])
        out["univariable"].extend(rows)
        out["notes"].extend(f"univariable {name}: {m}" for m in messages)
    if multivariable:
        data, info = _design(frame, multivariable, study)
        problem = _usable(data, multivariable, info)
        if problem:
            out["notes"].append(f"multivariable: not fitted ({problem})")
            return out
        fit, messages = _fit(data, multivariable, ties, conf_level)
        out["multivariable"] = _rows(fit, multivariable, info, study)
        out["multivariable_n"] = int(fit.n)
        out["multivariable_events"] = int(fit.events)
        out["lr_test"] = {"statistic": num(fit.lr_test[0]), "df": num(fit.lr_test[1]), "p_value": num(fit.lr_test[2])}
        concordance = fit.concordance
        out["concordance"] = [num(concordance[0]), num(concordance[1])]
        try:
            ph = fit.ph_test()
            out["ph_test"] = [
                {"term": str(term), "chisq": num(row["chisq"]), "df": num(row["df"]), "p_value": num(row["p_value"])}
                for term, row in ph.iterrows()
            ]
        except (ValueError, np.linalg.LinAlgError) as err:
            out["notes"].append(f"multivariable: PH test not computed ({err})")
        out["notes"].extend(f"multivariable: {m}" for m in messages)
    return out
