"""Log-rank and G-rho tests for k groups, optionally stratified, as R ``survdiff``; test for trend.

The arithmetic is that of R survival 3.5 ``survdiff`` (C routine ``survdiff2``): at each
distinct event time within a stratum, with weight ``w = S(t-)^rho`` where ``S`` is the
pooled Kaplan-Meier estimate of the stratum taken just before t (left-continuous),

* observed ``O_g += w d_g`` (so for rho != 0 R reports *weighted* observed counts),
* expected ``E_g += w d n_g / n``,
* variance ``V_gh += w^2 d (n - d) / (n (n - 1)) * n_g (delta_gh - n_h / n)`` (times with
  ``n = 1`` add nothing),

summed over times and strata.  The statistic is ``(O - E)' V^- (O - E)`` over the groups
with ``E > 0`` less the first, on (number of such groups - 1) degrees of freedom.
Only per-time aggregates are used (see :mod:`._counting`).
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import chi2

from ._counting import (
    as_survival_arrays,
    check_times,
    factorize_labels,
    grid_cell_counts,
    grouped_event_counts,
)
from ._timefix import grid_may_hold_near_ties, merge_near_ties

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["LogRankResult", "TrendTestResult", "logrank_test", "logrank_trend_test"]


@dataclass(frozen=True, eq=False)
class LogRankResult:
    """Immutable result of :func:`logrank_test`.

    Attributes
    ----------
    statistic, df, p_value : float, int, float
        Chi-square statistic, its degrees of freedom and upper-tail p-value.  When fewer
        than two groups have a positive expected count the statistic is 0, ``df`` is 0
        and ``p_value`` nan (R reports df = -1 or 0 and NaN or 0 there).  When the variance
        matrix is singular (all deaths at one time, a group alone in its stratum), where R's
        ``survdiff`` stops with an error, a :class:`SingularVarianceWarning` is issued and the
        statistic uses a generalized inverse on as many df as the matrix's rank (nan p at 0).
    observed, expected : pandas.Series
        Per group (sorted group order, or category order for a pandas Categorical),
        summed over strata; weighted by ``S(t-)^rho`` when ``rho != 0``, as R.
    variance : pandas.DataFrame
        The k x k variance matrix of ``observed - expected``.
    n : pandas.Series
        Number of observations per group.
    rho : float
        The G-rho parameter used (0: log-rank, 1: Peto-Peto).
    strata : tuple or None
        Levels of the stratification variable, or None when not stratified.
    test : str
        Name of the test performed.
    """

    statistic: float
    df: int
    p_value: float
    observed: pd.Series = field(repr=False)
    expected: pd.Series = field(repr=False)
    variance: pd.DataFrame = field(repr=False)
    n: pd.Series = field(repr=False)
    rho: float = 0.0
    strata: tuple | None = None
    test: str = "log-rank"

    def summary(self) -> str:
        """Readable text summary: per-group N, O, E and the chi-square test."""
        frame = pd.DataFrame({"N": self.n, "Observed": self.observed, "Expected": self.expected})
        frame["(O-E)^2/E"] = (frame["Observed"] - frame["Expected"]) ** 2 / frame["Expected"]
        head = self.test + (f", stratified ({len(self.strata)} strata)" if self.strata is not None else "")
        return (
            f"{head}\n{frame.to_string(float_format=lambda v: f'{v:.3f}')}\n"
            f"Chisq = {self.statistic:.4g} on {self.df} degrees of freedom, p = {self.p_value:.4g}"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        frame = pd.DataFrame({"N": self.n, "Observed": self.observed, "Expected": self.expected})
        caption = html.escape(
            f"{self.test}: chi-square {self.statistic:.4g}, df {self.df}, p = {self.p_value:.4g}"
        )
        return frame.to_html(float_format=lambda v: f"{v:.3f}").replace(
            "<thead>", f"<caption>{caption}</caption><thead>", 1
        )


@dataclass(frozen=True, eq=False)
class TrendTestResult:
    """Immutable result of :func:`logrank_trend_test`.

    Attributes
    ----------
    statistic, df, p_value : float, int, float
        ``U^2 / V`` on 1 degree of freedom and its p-value.
    u, variance : float
        ``U = sum_g s_g (O_g - E_g)`` and ``V = s' Var(O - E) s``.
    scores : pandas.Series
        The distinct scores (the groups), with observed and expected in
        ``observed``/``expected``.
    """

    statistic: float
    df: int
    p_value: float
    u: float
    variance: float
    observed: pd.Series = field(repr=False)
    expected: pd.Series = field(repr=False)
    rho: float = 0.0
    strata: tuple | None = None
    test: str = "log-rank test for trend"

    def summary(self) -> str:
        """Readable one-paragraph summary."""
        return (
            f"{self.test} over scores {list(self.observed.index)}: "
            f"Chisq = {self.statistic:.4g} on 1 degree of freedom, p = {self.p_value:.4g}"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.summary())}</p>"


def _test_name(rho: float) -> str:
    if rho == 0:
        return "log-rank"
    if rho == 1:
        return "Peto-Peto (G-rho, rho=1)"
    return f"G-rho (rho={rho:g})"


def _observed_expected_variance(
    t: np.ndarray,
    e: np.ndarray,
    group_codes: np.ndarray,
    n_groups: int,
    strata_codes: np.ndarray | None,
    n_strata: int,
    rho: float,
    timefix: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum over strata of R survdiff's O, E and V (loops over strata and groups only).

    With ``timefix`` the near-equal times are merged over the whole sample before the
    strata are split, as R's ``aeqSurv`` in ``survdiff``; a grid count needs no merge.
    """
    n = t.shape[0]
    if strata_codes is None:
        offsets = group_codes
    else:
        offsets = strata_codes * n_groups
        offsets += group_codes
    grid = grid_cell_counts(t, e, offsets, n_strata * n_groups, max_cells=max(8 * n, 4_000_000))
    if grid is not None and not (timefix and grid_may_hold_near_ties(grid.cells.shape[0] - 1)):
        cells = grid.cells.reshape(grid.cells.shape[0], n_strata, n_groups, 2)
        return _grid_observed_expected_variance(cells, rho)
    check_times(t)
    if timefix:
        t = merge_near_ties(t)
    observed = np.zeros(n_groups)
    expected = np.zeros(n_groups)
    variance = np.zeros((n_groups, n_groups))
    for s in range(n_strata):
        if strata_codes is None:
            ts, es, gs = t, e, group_codes
        else:
            in_stratum = strata_codes == s
            ts, es, gs = t[in_stratum], e[in_stratum], group_codes[in_stratum]
        counts = grouped_event_counts(ts, es, gs, n_groups)
        at_risk = counts.n_risk
        events = counts.n_event
        n_total = at_risk.sum(axis=1)
        d_total = events.sum(axis=1)
        if rho != 0:
            km_after = np.cumprod(1.0 - d_total / n_total)
            km_before = np.concatenate(([1.0], km_after))[:-1]
            # a stratum everyone has left (its estimate at 0) adds nothing: no 0**rho for rho < 0
            weight = np.where(n_total > 0, km_before**rho, 0.0)
        else:
            weight = np.ones_like(n_total)
        observed += weight @ events
        expected += (weight * d_total / n_total) @ at_risk
        with np.errstate(divide="ignore", invalid="ignore"):
            kt = np.where(
                n_total > 1, weight**2 * d_total * (n_total - d_total) / (n_total * (n_total - 1)), 0.0
            )
        variance += np.diag(kt @ at_risk) - at_risk.T @ (at_risk * (kt / n_total)[:, None])
    return observed, expected, variance


def _grid_observed_expected_variance(cells: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """O, E and V from counts per (time bin, stratum, group, event) on a whole-unit grid.

    ``cells`` comes from one ``np.bincount`` (see ``_counting.grid_cell_counts``); all
    strata are handled at once.  Bins without events contribute nothing, exactly as in
    R's loop over distinct times.
    """
    n_strata = cells.shape[1]
    cells = cells.transpose(1, 2, 0, 3)  # (S, K, B, 2)
    events = cells[..., 1].astype(np.float64)  # (S, K, B)
    at_risk = np.cumsum(cells.sum(axis=3)[..., ::-1], axis=2)[..., ::-1].astype(np.float64)
    n_total = at_risk.sum(axis=1)  # (S, B)
    d_total = events.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n_total > 0, d_total / n_total, 0.0)
        if rho != 0:
            km_after = np.cumprod(1.0 - hazard, axis=1)
            km_before = np.concatenate((np.ones((n_strata, 1)), km_after[:, :-1]), axis=1)
            # a stratum everyone has left (its estimate at 0) adds nothing: no 0**rho for rho < 0
            weight = np.where(n_total > 0, km_before**rho, 0.0)
        else:
            weight = np.ones_like(n_total)
        kt = np.where(n_total > 1, weight**2 * d_total * (n_total - d_total) / (n_total * (n_total - 1)), 0.0)
        kt_over_n = np.where(n_total > 0, kt / n_total, 0.0)
    observed = np.einsum("sb,skb->k", weight, events)
    expected = np.einsum("sb,skb->k", weight * hazard, at_risk)
    variance = np.diag(np.einsum("sb,skb->k", kt, at_risk)) - np.einsum(
        "sjb,skb,sb->jk", at_risk, at_risk, kt_over_n
    )
    return observed, expected, variance


class SingularVarianceWarning(UserWarning):
    """The log-rank variance matrix is singular: a generalized inverse is used on its rank."""


def _prepare(time, event, group, strata, group_name: str):
    t, e = as_survival_arrays(time, event, check_time=False)  # checked while counting
    group_codes, group_levels = factorize_labels(group, group_name, t.shape[0])
    if strata is None:
        return t, e, group_codes, group_levels, None, None
    strata_codes, strata_levels = factorize_labels(strata, "strata", t.shape[0])
    return t, e, group_codes, group_levels, strata_codes, strata_levels


def logrank_test(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    strata: ArrayLike | None = None,
    rho: float = 0.0,
    timefix: bool = True,
) -> LogRankResult:
    """Compare survival between k groups with the log-rank / G-rho test, as R ``survdiff``.

    Parameters
    ----------
    time, event : array_like
        Follow-up times (finite, >= 0) and event indicators (1 event, 0 censored).
    group : array_like
        Group labels (any hashable values; order is sorted, or the category order of a
        pandas Categorical).  At least two groups are needed.
    strata : array_like, optional
        Stratification labels: the test compares groups within strata and sums
        O, E and V over strata (R ``survdiff(... + strata(s))``).
    rho : float, default 0.0
        G-rho weight ``S(t-)^rho`` with S the pooled left-continuous Kaplan-Meier
        estimate within the stratum: 0 is the log-rank test, 1 the Peto-Peto
        (Peto & Peto modification of the Gehan-Wilcoxon) test.
    timefix : bool, default True
        As R's ``survdiff(timefix = TRUE)``: times whose gap to the next distinct time is at
        most ``sqrt(machine eps)`` (~1.49e-8) absolute or relative to the mean distinct time
        (R's ``aeqSurv``, over the whole sample) are one time.  False keeps every distinct
        float apart.

    Returns
    -------
    LogRankResult
        ``statistic, df, p_value, observed, expected, variance, n`` with ``rho``,
        ``strata`` and the test name echoed.

    Notes
    -----
    Agrees with R survival 3.5 ``survdiff``, including its default ``timefix`` merge of
    nearly equal times (only the sort path merges: times on a whole-unit grid cannot be
    near-equal).  For rho != 0 the reported observed and expected counts are
    weighted, as R's.

    References
    ----------
    Mantel N. Evaluation of survival data and two new rank order statistics arising in
    its consideration. Cancer Chemother Rep 1966;50:163-170.
    Harrington DP, Fleming TR. A class of rank test procedures for censored survival
    data. Biometrika 1982;69:553-566.
    Therneau TM. A Package for Survival Analysis in R (``survdiff``).
    """
    if not (isinstance(rho, (int, float, np.floating)) and np.isfinite(rho)):
        raise ValueError(f"rho must be a finite number (got {rho!r})")
    t, e, gcodes, glevels, scodes, slevels = _prepare(time, event, group, strata, "group")
    k = len(glevels)
    if k < 2:
        raise ValueError("group has only one level: at least two groups are needed for a log-rank test")
    n_strata = 1 if slevels is None else len(slevels)
    observed, expected, variance = _observed_expected_variance(
        t, e, gcodes, k, scodes, n_strata, float(rho), timefix
    )
    usable = expected > 0
    if usable.sum() < 2:
        statistic, df, p_value = 0.0, 0, float("nan")
    else:
        full_diff = (observed - expected)[usable]
        full = variance[np.ix_(usable, usable)]
        # the rank of the whole matrix (its rows sum to 0: at most k - 1), the same whichever
        # group comes first; the reduced matrix of R's survdiff is singular when it is below k - 1
        singular_values = np.linalg.svd(full, compute_uv=False)
        # relative to the largest, and to the events (a matrix of rounding alone, about 1e-17,
        # is no variance): rounding leaves about 1e-16 of them in the null directions
        scale = max(float(singular_values.max()), float(np.abs(observed).sum()), 1.0)
        rank = int(np.sum(singular_values > scale * 1e-10))
        diff, v = full_diff[1:], full[1:, 1:]
        solved = None
        if rank == v.shape[0]:
            try:
                solved = np.linalg.solve(v, diff)
            except np.linalg.LinAlgError:  # singular all the same: the branch below
                rank = int(np.linalg.matrix_rank(v))
        if solved is not None:
            statistic, df = float(diff @ solved), v.shape[0]
        else:
            # R's survdiff stops here (the matrix is singular: all deaths at one time, a group
            # alone in its stratum); the generalized inverse on as many df as the rank, as SAS
            # LIFETEST, and a warning, never a silent p-value on too many df
            warnings.warn(SingularVarianceWarning(
                f"the variance matrix of the log-rank statistic is singular (rank {rank}, not "
                f"{v.shape[0]}; R's survdiff stops with an error here): the test uses a "
                f"generalized inverse on {rank} degree{'s' if rank != 1 else ''} of freedom"),
                stacklevel=2)
            statistic = float(full_diff @ np.linalg.pinv(full) @ full_diff) if rank else 0.0
            df = rank
        p_value = float(chi2.sf(statistic, df)) if df else float("nan")
    index = pd.Index(glevels, name="group")
    return LogRankResult(
        statistic=statistic,
        df=df,
        p_value=p_value,
        observed=pd.Series(observed, index=index, name="observed"),
        expected=pd.Series(expected, index=index, name="expected"),
        variance=pd.DataFrame(variance, index=index, columns=index),
        n=pd.Series(np.bincount(gcodes, minlength=k), index=index, name="n"),
        rho=float(rho),
        strata=None if slevels is None else tuple(slevels),
        test=_test_name(float(rho)),
    )


def logrank_trend_test(
    time: ArrayLike,
    event: ArrayLike,
    group_scores: ArrayLike,
    strata: ArrayLike | None = None,
    rho: float = 0.0,
    timefix: bool = True,
) -> TrendTestResult:
    """Log-rank test for trend across ordered groups (chi-square on 1 df).

    Each distinct value of ``group_scores`` is a group and also its score ``s_g``
    (e.g. 1, 2, 3 for ordered Ki-67 classes).  With O, E and Var(O - E) from
    :func:`logrank_test` (same strata and rho)::

        U = sum_g s_g (O_g - E_g),   V = s' Var(O - E) s,   chi2 = U^2 / V  (1 df)

    Parameters
    ----------
    time, event : array_like
        Follow-up times and event indicators.
    group_scores : array_like of float
        Numeric score of each observation's group (at least two distinct values).
    strata : array_like, optional
        Stratification labels, as for :func:`logrank_test`.
    rho : float, default 0.0
        G-rho weight, as for :func:`logrank_test`.
    timefix : bool, default True
        Merge near-equal times, as for :func:`logrank_test`.

    Returns
    -------
    TrendTestResult

    References
    ----------
    Collett D. Modelling Survival Data in Medical Research, 3rd ed., section 2.6.
    Peto R, Pike MC, et al. Design and analysis of randomized clinical trials requiring
    prolonged observation of each patient. II. Br J Cancer 1977;35:1-39.
    """
    scores = np.asarray(group_scores)
    if not np.issubdtype(scores.dtype, np.number):
        raise ValueError("group_scores must be numeric")
    if not np.isfinite(scores.astype(float)).all():
        raise ValueError("group_scores contains NaN or infinite values")
    lr = logrank_test(time, event, scores, strata=strata, rho=rho, timefix=timefix)
    s = lr.observed.index.to_numpy(dtype=float)
    u = float(s @ (lr.observed.to_numpy() - lr.expected.to_numpy()))
    v = float(s @ lr.variance.to_numpy() @ s)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = u * u / v if v > 0 else float("nan")
    return TrendTestResult(
        statistic=float(statistic),
        df=1,
        p_value=float(chi2.sf(statistic, 1)) if np.isfinite(statistic) else float("nan"),
        u=u,
        variance=v,
        observed=lr.observed.rename_axis("score"),
        expected=lr.expected.rename_axis("score"),
        rho=lr.rho,
        strata=lr.strata,
        test="log-rank test for trend" if rho == 0 else f"{_test_name(float(rho))} test for trend",
    )
