"""Score test of proportional hazards per term and globally, as R's current ``cox.zph``."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _sps

from ._cox_kernel import SortedCovariates, build_layout, cox_derivatives

__all__ = ["proportional_hazards_test", "km_time_transform"]


def km_time_transform(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """``1 - S(t-)``: one minus the left-continuous pooled Kaplan-Meier at each time.

    Parameters
    ----------
    time, event : ndarray
        Follow-up times and event indicators of all subjects (strata pooled).

    Returns
    -------
    ndarray
        The transformed time of each subject (R ``cox.zph(transform = "km")``).
    """
    distinct, inverse = np.unique(time, return_inverse=True)
    at_time = np.bincount(inverse)
    deaths = np.bincount(inverse, weights=event.astype(np.float64))
    at_risk = np.cumsum(at_time[::-1])[::-1]
    survival = np.cumprod(1.0 - deaths / at_risk)
    before = np.concatenate(([1.0], survival))[inverse]  # S just before each distinct time
    return 1.0 - before


def proportional_hazards_test(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    linear_predictor: np.ndarray,
    strata: np.ndarray,
    efron: bool,
    term_columns: Mapping[str, Sequence[int]],
) -> pd.DataFrame:
    """Grambsch-Therneau score test of :math:`\\beta(t) = \\beta + \\gamma g(t)`.

    With ``g`` the Kaplan-Meier transform of time centred on the events, the test is the
    score test of :math:`\\gamma = 0` at the fitted :math:`\\hat\\beta`, using the full
    2p x 2p information matrix (R survival >= 3.0; not the older approximation).

    Parameters
    ----------
    time, event : ndarray
        Follow-up times (after R's near-tie merging) and event indicators.
    x : ndarray
        Design matrix of the estimable coefficients, shape (n, p).
    linear_predictor : ndarray
        Fitted linear predictor.
    strata : ndarray
        Stratum codes.
    efron : bool
        Tie method of the fit.
    term_columns : mapping
        Term name -> indices of its columns in ``x``; one test per term.

    Returns
    -------
    DataFrame
        Indexed by term plus ``"GLOBAL"``; columns ``chisq``, ``df``, ``p_value``.

    References
    ----------
    Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on weighted
    residuals. Biometrika 1994;81:515-26.
    Therneau T. survival, ``R/cox.zph.R`` and ``src/zph1.c`` (version 3).
    """
    event = np.asarray(event).astype(bool)
    transformed = km_time_transform(time, event)
    g = transformed - transformed[event].mean()
    p = x.shape[1]
    x_centred = x - x.mean(axis=0)

    layout = build_layout(time, event.astype(np.int8), strata)
    data = SortedCovariates(layout, np.take(x_centred.T, layout.order, axis=1))
    eta = np.asarray(linear_predictor, dtype=np.float64)[layout.order]
    g_sorted = g[layout.order]
    group_weight = g_sorted[layout.event_rows[layout.event_slot_start]]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _, _, info, tie_means, extra = cox_derivatives(data, eta, efron, time_weights=group_weight)
    g_event = group_weight[layout.event_slot]
    u_gamma = data.rows[:, layout.event_rows] @ g_event - tie_means @ group_weight

    full = np.block([[info, extra[0]], [extra[0].T, extra[1]]])

    def quadratic_form(matrix: np.ndarray, u: np.ndarray) -> float:
        # as R's solve(): a matrix whose reciprocal condition number (1-norm) is below the
        # machine epsilon is singular for computing, not only an exactly singular one
        with np.errstate(divide="ignore", invalid="ignore"):
            rcond = 1.0 / np.linalg.cond(matrix, 1)
        if not rcond >= np.finfo(np.float64).eps:
            raise ValueError(
                "proportional-hazards test not computable: the information matrix is singular "
                f"(reciprocal condition number {rcond:.3g}; e.g. all events at one time, so the "
                "time transform is constant, or few distinct event times for the covariates)")
        return float(u @ np.linalg.solve(matrix, u))

    rows: dict[str, tuple[float, int]] = {}
    for term, columns in term_columns.items():
        columns = list(columns)
        if not columns:
            continue
        keep = list(range(p)) + [p + j for j in columns]
        u = np.concatenate([np.zeros(p), u_gamma[columns]])
        rows[term] = (quadratic_form(full[np.ix_(keep, keep)], u), len(columns))
    u_all = np.concatenate([np.zeros(p), u_gamma])
    rows["GLOBAL"] = (quadratic_form(full, u_all), p)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["chisq", "df"])
    table["df"] = table["df"].astype(int)
    table["p_value"] = _sps.chi2.sf(table["chisq"].to_numpy(), table["df"].to_numpy())
    table.index.name = "term"
    return table
