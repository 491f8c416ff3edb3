"""Vectorised Cox partial-likelihood kernel (Efron/Breslow) and R-style Newton-Raphson.

The data are sorted once by (stratum, time). Observations sharing a stratum and a time form a
*group*; risk-set sums are reverse cumulative sums of per-group sums (``np.add.reduceat``),
Efron's within-tie correction is done with one row per event (its rank ``k`` inside the tie),
and the second-derivative term :math:`\\sum_k S_2/\\text{den}_k` is folded into a single
weighted cross-product ``X' diag(v) X``. No Python loop runs over observations or times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "RiskSetLayout",
    "NewtonResult",
    "build_layout",
    "sort_order",
    "SortedCovariates",
    "cox_derivatives",
    "newton_raphson",
    "generalized_cholesky",
    "cholesky_solve",
    "cholesky_inverse",
]

#: Number of strata above which segment sums use one vectorised pass instead of a loop.
_STRATA_LOOP_LIMIT = 64


@dataclass(frozen=True)
class RiskSetLayout:
    """Sort order and tie structure of survival data, computed once per fit.

    Attributes
    ----------
    order : ndarray
        Permutation sorting the rows by (stratum, time), events first within a time.
    group_start : ndarray
        Index (in sorted order) of the first row of each (stratum, time) group.
    segment_start : ndarray
        Start of each segment: a group splits into its events and its censored rows.
    segment_size : ndarray
        Rows per segment.
    segment_group : ndarray
        Group index of each segment.
    segment_is_event : ndarray
        Whether each segment holds the events of its group.
    group_first_segment : ndarray
        Index of the first segment of each group.
    event_segment : ndarray
        Segment index of the events of each event group.
    stratum_bounds : ndarray
        Group-index boundaries of the strata, length (number of strata + 1).
    event_sorted : ndarray
        Event indicator (bool) of each sorted row.
    event_rows : ndarray
        Sorted-row positions of the events.
    event_slot : ndarray
        For each event, the index of its group among the groups that have events.
    event_groups : ndarray
        Group index of each group that has events (ascending).
    event_slot_start : ndarray
        Index in ``event_rows`` of the first event of each event group.
    event_rank : ndarray
        Rank ``k`` (0..d-1) of each event within its tie.
    tie_size : ndarray
        Number of events ``d`` in the tie of each event.
    """

    order: np.ndarray
    group_start: np.ndarray
    segment_start: np.ndarray
    segment_size: np.ndarray
    segment_group: np.ndarray
    segment_is_event: np.ndarray
    group_first_segment: np.ndarray
    event_segment: np.ndarray
    stratum_bounds: np.ndarray
    event_sorted: np.ndarray
    event_rows: np.ndarray
    event_slot: np.ndarray
    event_groups: np.ndarray
    event_slot_start: np.ndarray
    event_rank: np.ndarray
    tie_size: np.ndarray

    @property
    def n_groups(self) -> int:
        """Number of distinct (stratum, time) groups."""
        return int(self.group_start.size)


class NewtonResult(NamedTuple):
    """Outcome of the Newton-Raphson iterations (on the original covariate scale)."""

    coef: np.ndarray
    var: np.ndarray
    score: np.ndarray
    loglik_init: float
    loglik: float
    score_test: float
    iterations: int
    rank: int
    converged: bool
    halving_at_end: bool
    means: np.ndarray


def sort_order(values: np.ndarray, stable: bool = False) -> np.ndarray:
    """Argsort; integer-valued keys with a range below 2**16 use numpy's (stable) radix sort,
    other keys introsort unless ``stable`` is asked for."""
    if values.size:
        low = values.min()
        span = values.max() - low
        if span < 2**16 and np.all(values == np.floor(values)):
            return np.argsort((values - low).astype(np.uint16), kind="stable")
    return np.argsort(values, kind="stable" if stable else "quicksort")


def build_layout(
    time: np.ndarray, event: np.ndarray, strata: np.ndarray, time_order: np.ndarray | None = None
) -> RiskSetLayout:
    """Sort the rows once and describe their risk-set and tie structure.

    Parameters
    ----------
    time : ndarray
        Follow-up times.
    event : ndarray
        Event indicators (0/1).
    strata : ndarray
        Integer stratum codes.
    time_order : ndarray, optional
        A permutation that already sorts ``time`` (saves the sort).

    Returns
    -------
    RiskSetLayout
    """
    n = time.size
    order = sort_order(time) if time_order is None else time_order
    stratified = bool(n) and not np.all(strata == strata[0])
    if stratified:
        order = order[sort_order(strata[order], stable=True)]
    sorted_time = time[order]
    sorted_strata = strata[order] if stratified else np.zeros(n, dtype=np.int64)
    is_start = np.empty(n, dtype=bool)
    if n:
        is_start[0] = True
        np.not_equal(sorted_time[1:], sorted_time[:-1], out=is_start[1:])
        if stratified:
            is_start[1:] |= sorted_strata[1:] != sorted_strata[:-1]
    group_start = np.flatnonzero(is_start)
    group_id = np.cumsum(is_start) - 1
    group_size = np.diff(np.append(group_start, n))

    # events first inside each group (a stable partition, no second sort)
    is_event = event[order].astype(bool)
    events_in_group = np.add.reduceat(is_event.astype(np.int64), group_start) if n else np.zeros(0, np.int64)
    events_before = np.cumsum(is_event) - is_event
    events_before -= events_before[group_start][group_id]
    position = np.arange(n) - group_start[group_id]
    destination = group_start[group_id] + np.where(
        is_event, events_before, events_in_group[group_id] + position - events_before
    )
    partitioned = np.empty_like(order)
    partitioned[destination] = order
    order = partitioned

    # segments: the events of a group, then its censored rows (empty parts dropped)
    has_events = events_in_group > 0
    has_censored = events_in_group < group_size
    n_groups = group_start.size
    seg_group = np.concatenate([np.flatnonzero(has_events), np.flatnonzero(has_censored)])
    seg_is_event = np.concatenate([np.ones(has_events.sum(), bool), np.zeros(has_censored.sum(), bool)])
    seg_begin = group_start[seg_group] + np.where(seg_is_event, 0, events_in_group[seg_group])
    seg_sort = np.argsort(seg_begin, kind="stable")
    segment_start = seg_begin[seg_sort]
    segment_group = seg_group[seg_sort]
    segment_is_event = seg_is_event[seg_sort]
    segment_size = np.diff(np.append(segment_start, n))
    group_first_segment = np.searchsorted(segment_group, np.arange(n_groups))
    event_groups = np.flatnonzero(has_events)
    event_segment = group_first_segment[event_groups]  # events come first in a group

    group_strata = sorted_strata[group_start]
    new_stratum = np.empty(n_groups, dtype=bool)
    if n_groups:
        new_stratum[0] = True
        new_stratum[1:] = group_strata[1:] != group_strata[:-1]
    stratum_bounds = np.append(np.flatnonzero(new_stratum), n_groups)

    event_sorted = event[order].astype(bool)
    event_rows = np.flatnonzero(event_sorted)
    sizes = events_in_group[event_groups]
    event_slot_start = np.append(0, np.cumsum(sizes)[:-1]) if sizes.size else np.zeros(0, np.int64)
    event_slot = np.repeat(np.arange(event_groups.size), sizes)
    event_rank = np.arange(event_rows.size) - event_slot_start[event_slot]
    tie_size = sizes[event_slot]
    return RiskSetLayout(
        order=order,
        group_start=group_start,
        segment_start=segment_start,
        segment_size=segment_size,
        segment_group=segment_group,
        segment_is_event=segment_is_event,
        group_first_segment=group_first_segment,
        event_segment=event_segment,
        stratum_bounds=stratum_bounds,
        event_sorted=event_sorted,
        event_rows=event_rows,
        event_slot=event_slot,
        event_groups=event_groups,
        event_slot_start=event_slot_start,
        event_rank=event_rank,
        tie_size=tie_size,
    )


def _reverse_cumsum_by_stratum(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sum of ``values`` from each group to the end of its stratum (last axis)."""
    n_strata = bounds.size - 1
    if n_strata == 1:
        return np.cumsum(values[..., ::-1], axis=-1)[..., ::-1]
    if n_strata <= _STRATA_LOOP_LIMIT:
        out = np.empty_like(values)
        for a, b in zip(bounds[:-1], bounds[1:]):
            out[..., a:b] = np.cumsum(values[..., a:b][..., ::-1], axis=-1)[..., ::-1]
        return out
    total = np.cumsum(values[..., ::-1], axis=-1)[..., ::-1]
    total = np.concatenate([total, np.zeros(values.shape[:-1] + (1,))], axis=-1)
    stratum_end = np.repeat(bounds[1:], np.diff(bounds))
    return total[..., :-1] - total[..., stratum_end]


def _cumsum_by_stratum(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sum of ``values`` from the start of each stratum up to each group (last axis)."""
    n_strata = bounds.size - 1
    if n_strata == 1:
        return np.cumsum(values, axis=-1)
    if n_strata <= _STRATA_LOOP_LIMIT:
        out = np.empty_like(values)
        for a, b in zip(bounds[:-1], bounds[1:]):
            out[..., a:b] = np.cumsum(values[..., a:b], axis=-1)
        return out
    total = np.concatenate([np.zeros(values.shape[:-1] + (1,)), np.cumsum(values, axis=-1)], axis=-1)
    stratum_start = np.repeat(bounds[:-1], np.diff(bounds))
    return total[..., 1:] - total[..., stratum_start]


class SortedCovariates:
    """Covariates in sorted order, stored as (p, n) rows, plus the pieces reused each iteration.

    Parameters
    ----------
    layout : RiskSetLayout
    rows : ndarray
        Covariates already in ``layout.order``, one row per covariate, shape (p, n).
    """

    def __init__(self, layout: RiskSetLayout, rows: np.ndarray) -> None:
        self.layout = layout
        self.rows = np.ascontiguousarray(rows)
        self.event_sum = np.add.reduceat(self.rows, layout.segment_start, axis=1)[
            :, layout.event_segment
        ].sum(axis=1) if layout.event_segment.size else np.zeros(self.rows.shape[0])
        self.event_frac = layout.event_rank / layout.tie_size
        self.chunks = _segment_chunks(layout.segment_start, self.rows.shape[1], self.rows.shape[0])


def _segment_chunks(segment_start: np.ndarray, n: int, p: int) -> list[tuple[int, int, int, int]]:
    """Split the rows into cache-sized blocks whose edges fall on segment starts.

    Returns ``(row_begin, row_end, first_segment, end_segment)`` per block, so that per-block
    work (weighted sums, cross-products) stays in cache; a segment is never split.
    """
    step = max(4096, 2**18 // max(p, 1))
    wanted = np.arange(0, n, step)
    seg_cuts = np.unique(np.searchsorted(segment_start, wanted, side="left"))
    seg_cuts = seg_cuts[seg_cuts < segment_start.size]
    if seg_cuts.size == 0 or seg_cuts[0] != 0:
        seg_cuts = np.concatenate(([0], seg_cuts))
    seg_bounds = np.append(seg_cuts, segment_start.size)
    row_bounds = np.append(segment_start[seg_cuts], n)
    return [
        (int(row_bounds[i]), int(row_bounds[i + 1]), int(seg_bounds[i]), int(seg_bounds[i + 1]))
        for i in range(seg_cuts.size)
    ]


def cox_derivatives(
    data: SortedCovariates,
    eta_sorted: np.ndarray,
    efron: bool,
    time_weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Log partial likelihood, score and information at a given linear predictor.

    Each event contributes one term: with ``f = k/d`` for the k-th of ``d`` tied events
    (``f = 0`` for Breslow), the denominator is ``S0 - f D0`` and the weighted mean
    ``m_k = (S1 - f D1) / (S0 - f D0)``, where ``S`` are risk-set sums and ``D`` sums over the
    tied events. Sums over k of ``m_k`` and ``m_k m_k'`` are expanded into per-tie scalar
    sums times ``S1``/``D1``, so all p-dimensional work is per distinct time, and the
    ``S2`` term is one weighted cross-product over the rows.

    Parameters
    ----------
    data : SortedCovariates
        Sorted covariates and tie structure.
    eta_sorted : ndarray
        Linear predictor in sorted order.
    efron : bool
        Efron's tie correction if true, else Breslow's.
    time_weights : ndarray, optional
        One weight per tie (event group); when given, also returns the information weighted
        by the time function once and twice (for the cox.zph score test).

    Returns
    -------
    loglik : float
    score : ndarray, shape (p,)
    information : ndarray, shape (p, p)
    tie_mean_sums : ndarray, shape (p, number of ties)
        Sum over the event terms of each tie of the weighted covariate means.
    weighted_information : ndarray
        Empty unless ``time_weights`` is given: ``I_g`` and ``I_gg`` stacked, shape (2, p, p).

    References
    ----------
    Efron B. The efficiency of Cox's likelihood function for censored data. JASA 1977.
    Therneau T. survival, ``src/coxfit6.c`` (the arithmetic reproduced here).
    """
    layout = data.layout
    x = data.rows
    risk = np.exp(eta_sorted)
    bounds = layout.stratum_bounds
    eg = layout.event_groups
    slot = layout.event_slot
    starts = layout.event_slot_start
    seg_start = layout.segment_start
    segment_risk = np.add.reduceat(risk, seg_start)
    segment_x = np.empty((x.shape[0], seg_start.size))
    for row_begin, row_end, seg_lo, seg_hi in data.chunks:
        local = seg_start[seg_lo:seg_hi] - row_begin
        block_x = x[:, row_begin:row_end] * risk[row_begin:row_end]
        segment_x[:, seg_lo:seg_hi] = np.add.reduceat(block_x, local, axis=1)
    first_segment = layout.group_first_segment
    s0 = _reverse_cumsum_by_stratum(np.add.reduceat(segment_risk, first_segment), bounds)[eg]
    s1 = _reverse_cumsum_by_stratum(np.add.reduceat(segment_x, first_segment, axis=1), bounds)[:, eg]

    if efron:
        d0 = segment_risk[layout.event_segment]
        d1 = segment_x[:, layout.event_segment]
        frac = data.event_frac
        # one term per event, computed in two reused buffers (no per-step allocations)
        denom = np.take(s0, slot)
        work = np.take(d0, slot)
        work *= frac
        denom -= work
        np.log(denom, out=work)
        log_denominators = float(work.sum())
        inv = np.divide(1.0, denom, out=denom)
        # per tie: sum 1/den, f/den, 1/den^2, f/den^2, f^2/den^2
        a1 = np.add.reduceat(inv, starts)
        np.multiply(inv, frac, out=work)
        b1 = np.add.reduceat(work, starts)
        np.multiply(inv, inv, out=work)
        c0 = np.add.reduceat(work, starts)
        work *= frac
        c1 = np.add.reduceat(work, starts)
        work *= frac
        c2 = np.add.reduceat(work, starts)
        tie_mean_sums = s1 * a1 - d1 * b1
    else:
        denom = s0
        counts = np.diff(np.append(starts, slot.size)).astype(np.float64)
        a1 = counts / s0
        b1 = np.zeros_like(a1)
        c0 = counts / (s0 * s0)
        tie_mean_sums = s1 * a1

    if not efron:
        log_denominators = float((counts * np.log(denom)).sum())
    loglik = float(eta_sorted[layout.event_rows].sum() - log_denominators)
    score = data.event_sum - tie_mean_sums.sum(axis=1)

    def _information(tie_weight: np.ndarray | None) -> np.ndarray:
        w = 1.0 if tie_weight is None else tie_weight
        a_group = np.zeros(layout.n_groups)
        a_group[eg] = a1 * w
        segment_weight = _cumsum_by_stratum(a_group, bounds)[layout.segment_group]
        if efron:
            segment_weight[layout.event_segment] -= b1 * w
        second = np.zeros((x.shape[0], x.shape[0]))
        for row_begin, row_end, seg_lo, seg_hi in data.chunks:
            block = x[:, row_begin:row_end]
            weight = np.repeat(segment_weight[seg_lo:seg_hi], layout.segment_size[seg_lo:seg_hi])
            weight *= risk[row_begin:row_end]
            second += (block * weight) @ block.T
        outer = (s1 * (c0 * w)) @ s1.T
        if efron:
            cross = (s1 * (c1 * w)) @ d1.T
            outer += (d1 * (c2 * w)) @ d1.T - cross - cross.T
        info = second - outer
        return (info + info.T) / 2.0

    information = _information(None)
    extra = np.empty(0)
    if time_weights is not None:
        extra = np.stack([_information(time_weights), _information(time_weights * time_weights)])
    return loglik, score, information, tie_mean_sums, extra


def generalized_cholesky(matrix: np.ndarray, toler: float) -> tuple[np.ndarray, np.ndarray, int]:
    """LDL' decomposition that treats near-zero pivots as exact zeros.

    A pivot below ``toler`` times the largest diagonal element marks a redundant column
    (its row and column are dropped from the elimination), as in R survival's ``cholesky2``.

    Parameters
    ----------
    matrix : ndarray
        Symmetric non-negative definite matrix.
    toler : float
        Relative singularity tolerance (R: ``.Machine$double.eps^0.75``).

    Returns
    -------
    lower : ndarray
        Unit lower-triangular factor (columns of redundant pivots are zero).
    pivots : ndarray
        Diagonal ``D``; zero for redundant columns.
    rank : int
        Number of non-zero pivots, negated if the matrix is not non-negative definite.

    References
    ----------
    Therneau T. survival, ``src/cholesky2.c``.
    """
    p = matrix.shape[0]
    work = np.array(matrix, dtype=np.float64, copy=True)
    lower = np.eye(p)
    pivots = np.zeros(p)
    diag = np.diag(work)
    largest = np.max(diag[diag > 0], initial=0.0) if p else 0.0
    if largest == 0.0:
        return lower, pivots, 0
    eps = largest * toler
    rank = 0
    nonneg = 1
    for i in range(p):
        pivot = work[i, i]
        if not np.isfinite(pivot) or pivot < eps:
            if pivot < -8 * eps:
                nonneg = -1
            continue
        rank += 1
        pivots[i] = pivot
        column = work[i + 1 :, i] / pivot
        lower[i + 1 :, i] = column
        work[i + 1 :, i + 1 :] -= np.outer(column, column) * pivot
    return lower, pivots, rank * nonneg


def cholesky_solve(lower: np.ndarray, pivots: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``L D L' b = rhs``, setting the components of redundant columns to zero."""
    keep = pivots != 0
    out = np.zeros_like(rhs, dtype=np.float64)
    if not np.any(keep):
        return out
    sub_lower = lower[np.ix_(keep, keep)]
    y = _unit_lower_solve(sub_lower, rhs[keep])
    y = y / pivots[keep]
    out[keep] = _unit_lower_solve(sub_lower, y, transpose=True)
    return out


def cholesky_inverse(lower: np.ndarray, pivots: np.ndarray) -> np.ndarray:
    """Inverse of ``L D L'`` on the non-redundant columns, zero rows/columns elsewhere."""
    p = pivots.size
    keep = pivots != 0
    out = np.zeros((p, p))
    if not np.any(keep):
        return out
    sub_lower = lower[np.ix_(keep, keep)]
    inv_lower = _unit_lower_solve(sub_lower, np.eye(int(keep.sum())))
    sub = inv_lower.T @ (inv_lower / pivots[keep][:, None])
    out[np.ix_(keep, keep)] = (sub + sub.T) / 2.0
    return out


def _unit_lower_solve(lower: np.ndarray, rhs: np.ndarray, transpose: bool = False) -> np.ndarray:
    """Triangular solve with a unit-diagonal lower factor (or its transpose)."""
    return np.linalg.solve(lower.T if transpose else lower, rhs)


def newton_raphson(
    layout: RiskSetLayout,
    x: np.ndarray,
    efron: bool,
    eps: float = 1e-9,
    toler_chol: float = float(np.finfo(float).eps ** 0.75),
    iter_max: int = 20,
    nocenter: tuple[float, ...] = (-1.0, 0.0, 1.0),
) -> NewtonResult:
    """Maximise the partial likelihood as R's ``coxph.fit``/``coxfit6`` does.

    Columns whose values are not all in ``nocenter`` are centred and scaled (by the mean
    absolute deviation) before fitting; iteration stops when the relative change in the
    log-likelihood is at most ``eps``; a step that lowers the likelihood (or is not finite)
    is repeatedly shrunk towards the previous estimate.

    Parameters
    ----------
    layout : RiskSetLayout
    x : ndarray
        Design matrix in original row order, shape (n, p); a column-major array (or the
        transpose of a C-ordered (p, n) array) avoids a copy.
    efron : bool
        Efron ties if true, else Breslow.
    eps, toler_chol, iter_max : float, float, int
        R's ``coxph.control`` settings.
    nocenter : tuple of float
        Columns whose values all lie in this set are neither centred nor scaled.

    Returns
    -------
    NewtonResult

    References
    ----------
    Therneau T, Grambsch P. Modeling Survival Data: Extending the Cox Model. Springer 2000.
    Therneau T. survival, ``R/coxph.fit.R`` and ``src/coxfit6.c``.
    """
    p = x.shape[1]
    rows = np.take(x.T, layout.order, axis=1)  # (p, n), sorted
    means = np.zeros(p)
    scale = np.ones(p)
    for j in range(p):
        column = rows[j]
        if column.min() >= min(nocenter) and column.max() <= max(nocenter):
            in_set = np.zeros(column.size, dtype=bool)
            for value in nocenter:
                in_set |= column == value
            if np.all(in_set):
                continue
        means[j] = column.mean()
        column -= means[j]
        spread = np.abs(column).sum()
        scale[j] = column.size / spread if spread > 0 else 1.0
        column *= scale[j]

    data = SortedCovariates(layout, rows)
    del rows

    def evaluate(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            eta = beta @ data.rows
            loglik, score, info, _, _ = cox_derivatives(data, eta, efron)
        return loglik, score, info

    def unscale(beta: np.ndarray, score: np.ndarray, inverse: np.ndarray):
        return beta * scale, score / scale, inverse * np.outer(scale, scale)

    beta = np.zeros(p)
    loglik0, score, info = evaluate(beta)
    lower, pivots, rank = generalized_cholesky(info, toler_chol)
    step = cholesky_solve(lower, pivots, score)
    score_test = float(score @ step)

    if iter_max == 0 or not np.isfinite(loglik0):
        coef, u, var = unscale(beta, score, cholesky_inverse(lower, pivots))
        return NewtonResult(coef, var, u, loglik0, loglik0, score_test, 0, rank, True, False, means)

    best = loglik0
    new_beta = beta + step
    halving = 0
    for iteration in range(1, iter_max + 1):
        new_loglik, score, info = evaluate(new_beta)
        lower, pivots, rank = generalized_cholesky(info, toler_chol)
        finite = bool(np.isfinite(new_loglik) and np.all(np.isfinite(score)) and np.all(np.isfinite(info)))
        # a log-likelihood of exactly 0 (every event alone in its risk set: no information)
        # has no relative change to measure; it is converged when it stays 0
        change = abs(1.0 - best / new_loglik) if new_loglik != 0 else (0.0 if best == 0 else np.inf)
        if finite and change <= eps:
            coef, u, var = unscale(new_beta, score, cholesky_inverse(lower, pivots))
            return NewtonResult(
                coef, var, u, loglik0, new_loglik, score_test, iteration, rank, True, halving > 0, means
            )
        if not finite or new_loglik < best:
            halving += 1
            new_beta = (new_beta + halving * beta) / (halving + 1.0)
        else:
            halving = 0
            best = new_loglik
            step = cholesky_solve(lower, pivots, score)
            beta = new_beta
            new_beta = new_beta + step

    # Out of iterations: report the best estimate found, with its own derivatives.
    best_loglik, score, info = evaluate(beta)
    lower, pivots, rank = generalized_cholesky(info, toler_chol)
    coef, u, var = unscale(beta, score, cholesky_inverse(lower, pivots))
    return NewtonResult(coef, var, u, loglik0, best_loglik, score_test, iter_max + 1, rank, False, False, means)
