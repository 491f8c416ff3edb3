"""Kaplan-Meier summaries, stratified log-rank comparisons and median follow-up for results.

Thin adapters from :mod:`nenstudy.stats` results to the JSON blocks of results.json
(results_spec.md): every number comes from the stats estimators; this module only picks,
orders and converts (NaN becomes ``None``).
"""

from __future__ import annotations

import warnings

from typing import Any, Sequence

import numpy as np
import pandas as pd

from nenstudy.stats import (
    SingularVarianceWarning, kaplan_meier, logrank_test, median_follow_up, number_at_risk,
)

__all__ = ["num", "km_block", "stratified_block", "followup_block"]


def num(value: Any) -> float | None:
    """Return a finite float, or ``None`` for NaN, infinity or ``None``."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _ints(values: Any) -> list[int]:
    return [int(v) for v in np.asarray(values)]


def _floats(values: Any) -> list[float | None]:
    return [num(v) for v in np.asarray(values, dtype=float)]


def km_block(
    time: np.ndarray,
    event: np.ndarray,
    *,
    conf_type: str,
    conf_level: float,
    rates_at: Sequence[float],
    risk_times: Sequence[float],
) -> dict[str, Any]:
    """Summarise one Kaplan-Meier fit: n, events, median with CI, rates, curve, risk table.

    Parameters
    ----------
    time, event : numpy.ndarray
        Times in months and event indicators (1 event, 0 censored).
    conf_type, conf_level
        CI transform and level, passed to :func:`nenstudy.stats.kaplan_meier`.
    rates_at : sequence of float
        Months at which survival is reported (``rates`` keyed by ``f"{t:g}"``); a time after
        the last observation gives ``None`` values (as R ``summary(fit, times=)``).
    risk_times : sequence of float
        Months of the numbers-at-risk table.

    Returns
    -------
    dict
        ``n, events, median, ci, conf_type, conf_level, rates, curve, risk_table``.
    """
    n = int(len(time))
    risk_table = {"times": [float(t) for t in risk_times],
                  "n_risk": _ints(number_at_risk(time, risk_times)) if n else [0] * len(risk_times)}
    if n == 0:
        return {
            "n": 0, "events": 0, "median": None, "ci": [None, None], "conf_type": conf_type,
            "conf_level": conf_level,
            "rates": {f"{t:g}": {"survival": None, "lower": None, "upper": None, "n_risk": 0} for t in rates_at},
            "curve": {k: [] for k in ("time", "survival", "lower", "upper", "n_risk", "n_event", "n_censor")},
            "risk_table": risk_table,
        }
    fit = kaplan_meier(time, event, conf_type=conf_type, conf_level=conf_level)
    lower, upper = fit.median_ci
    at = fit.survival_at(list(rates_at)).set_index("time")
    at_risk = number_at_risk(time, rates_at)
    rates = {}
    for t, n_risk in zip(rates_at, at_risk):
        row = at.loc[float(t)] if float(t) in at.index else None
        rates[f"{t:g}"] = {
            "survival": None if row is None else num(row["survival"]),
            "lower": None if row is None else num(row["lower"]),
            "upper": None if row is None else num(row["upper"]),
            "n_risk": int(n_risk),
        }
    table = fit.table
    return {
        "n": int(fit.n),
        "events": int(fit.events),
        "median": num(fit.median),
        "ci": [num(lower), num(upper)],
        "conf_type": fit.conf_type,
        "conf_level": float(fit.conf_level),
        "rates": rates,
        "curve": {
            "time": _floats(table["time"]),
            "survival": _floats(table["survival"]),
            "lower": _floats(table["lower"]),
            "upper": _floats(table["upper"]),
            "n_risk": _ints(table["n_risk"]),
            "n_event": _ints(table["n_event"]),
            "n_censor": _ints(table["n_censor"]),
        },
        "risk_table": risk_table,
    }


def stratified_block(
    time: np.ndarray,
    event: np.ndarray,
    group: pd.Series,
    levels: Sequence[str],
    *,
    label: str,
    conf_type: str,
    conf_level: float,
    rates_at: Sequence[float],
    risk_times: Sequence[float],
) -> dict[str, Any]:
    """Kaplan-Meier per group and the log-rank test across the groups with patients.

    Parameters
    ----------
    time, event : numpy.ndarray
        Months and event indicators.
    group : pandas.Series
        Group label per row (missing = ``None``/NaN; those rows are left out and counted).
    levels : sequence of str
        Declared level order; levels without patients are left out.
    label : str
        Grouping label.
    conf_type, conf_level, rates_at, risk_times
        As :func:`km_block`.

    Returns
    -------
    dict
        ``label, test, logrank_p, statistic, df, missing, levels, groups`` (``groups`` keyed by
        level, each a :func:`km_block` plus ``observed`` and ``expected`` events).
    """
    labels = group.astype(object).where(group.notna(), None).to_numpy()
    known = np.array([v is not None for v in labels], dtype=bool)
    present = [lvl for lvl in levels if np.any(labels[known] == lvl)]
    out: dict[str, Any] = {
        "label": label, "test": "log-rank", "logrank_p": None, "statistic": None, "df": None,
        "missing": int((~known).sum()), "levels": present, "groups": {},
    }
    for level in present:
        mask = known & (labels == level)
        out["groups"][level] = km_block(
            time[mask], event[mask], conf_type=conf_type, conf_level=conf_level,
            rates_at=rates_at, risk_times=risk_times,
        )
    if len(present) >= 2:
        categories = pd.Categorical(labels[known], categories=present)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SingularVarianceWarning)
            test = logrank_test(time[known], event[known], categories)
        for warning in caught:  # kept with the result (R would stop), not lost on a console
            if issubclass(warning.category, SingularVarianceWarning):
                out["note"] = str(warning.message)
        out["logrank_p"] = num(test.p_value)
        out["statistic"] = num(test.statistic)
        out["df"] = int(test.df)
        for level, observed, expected in zip(present, np.asarray(test.observed), np.asarray(test.expected)):
            out["groups"][level]["observed"] = num(observed)
            out["groups"][level]["expected"] = num(expected)
    else:
        out["note"] = "fewer than two groups with patients: no test"
    return out


def followup_block(time: np.ndarray, event: np.ndarray, *, conf_type: str, conf_level: float) -> dict[str, Any]:
    """Median follow-up by reverse Kaplan-Meier (censoring as the event).

    Parameters
    ----------
    time, event : numpy.ndarray
        Overall-survival months and death indicators.
    conf_type, conf_level
        CI transform and level.

    Returns
    -------
    dict
        ``median, ci, method, conf_type, conf_level``.
    """
    if len(time) == 0:
        median, lower, upper = None, None, None
    else:
        median, lower, upper = median_follow_up(time, event, conf_type=conf_type, conf_level=conf_level)
    return {"median": num(median), "ci": [num(lower), num(upper)], "method": "reverse Kaplan-Meier",
            "conf_type": conf_type, "conf_level": conf_level}
