"""Synthetic survival data shared by the stats benchmarks (registry-like: whole days, heavy ties).

``make_survival_data`` draws event and censoring times in whole days (as a registry
records them), converts them to months (days / 30.4375, as the study does) and returns
a DataFrame; the same seed gives the same data for every tool compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["DAYS_PER_MONTH", "make_survival_data"]

DAYS_PER_MONTH = 30.4375


def make_survival_data(
    n: int,
    seed: int = 20250301,
    n_groups: int = 3,
    n_strata: int = 4,
    n_covariates: int = 5,
) -> pd.DataFrame:
    """Proportional-hazards survival data with integer-day times.

    Parameters
    ----------
    n : int
        Number of subjects.
    seed : int
        Seed of ``numpy.random.default_rng``.
    n_groups : int, default 3
        Number of comparison groups (column ``group``, 0..n_groups-1), each with a
        hazard ratio of 1.25 per step.
    n_strata : int, default 4
        Number of strata (column ``stratum``), each with its own baseline hazard.
    n_covariates : int, default 5
        Standard-normal covariates ``x1..xp`` with log hazard ratios 0.3, -0.2, 0.1, ...

    Returns
    -------
    pandas.DataFrame
        Columns ``days`` (int), ``time`` (months, float), ``event`` (0/1 int8),
        ``group``, ``stratum`` (int16) and ``x1..xp`` (float).  Follow-up is cut at
        10 years with uniform accrual, so roughly 60% of subjects have an event and
        there are at most ~3,650 distinct times whatever ``n``.
    """
    rng = np.random.default_rng(seed)
    group = rng.integers(0, n_groups, n).astype(np.int16)
    stratum = rng.integers(0, n_strata, n).astype(np.int16)
    x = rng.standard_normal((n, n_covariates))
    beta = np.array([0.3, -0.2, 0.1, 0.05, -0.1] * (n_covariates // 5 + 1))[:n_covariates]
    linear = x @ beta + np.log(1.25) * group
    baseline = (1.0 / 500.0) * (1.0 + 0.3 * stratum)  # per day: median ~ 1 year
    event_days = rng.exponential(1.0, n) / (baseline * np.exp(linear))
    censor_days = rng.uniform(30, 3650, n)
    days = np.ceil(np.minimum(event_days, censor_days)).astype(np.int64)
    event = (event_days <= censor_days).astype(np.int8)
    frame = pd.DataFrame(
        {
            "days": days,
            "time": days / DAYS_PER_MONTH,
            "event": event,
            "group": group,
            "stratum": stratum,
        }
    )
    for j in range(n_covariates):
        frame[f"x{j + 1}"] = x[:, j]
    return frame
