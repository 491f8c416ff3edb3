"""Merge follow-up times that differ only by floating-point noise, as R survival's ``timefix``.

R survival 3.5 passes the response of ``coxph``, ``survfit`` and ``survdiff`` through
``aeqSurv`` by default (``timefix = TRUE``): the sorted distinct finite times are scanned and
a gap ``dy`` between neighbours with ``dy <= tol`` or ``dy / mean(|y|) <= tol`` (``y`` the
distinct times, ``tol = sqrt(.Machine$double.eps)`` ~ 1.49e-8) is a tie; every run of tied
neighbours becomes its first (smallest) value.  Runs are chained: each gap is judged on its own,
so a run can span more than ``tol``.  So ``0.1 + 0.2`` and ``0.3`` are one time, as are
``d / 30.4375`` and the same month computed by other arithmetic.

Whole-unit grids (:data:`nenstudy.stats._counting.GRID_SCALES`) cannot hold such near-ties
unless they are enormous: distinct grid times ``d / s`` differ by at least ``1 / s`` and none
exceeds ``D / s`` (``D`` the largest day), so every relative gap is at least ``1 / D``; see
:func:`grid_may_hold_near_ties`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TIMEFIX_TOLERANCE", "grid_may_hold_near_ties", "merge_near_ties", "near_tie_run_starts"]

TIMEFIX_TOLERANCE = float(np.sqrt(np.finfo(float).eps))
"""R's ``aeqSurv`` default tolerance, ``sqrt(.Machine$double.eps)`` (about 1.49e-8)."""


def near_tie_run_starts(distinct: np.ndarray, tolerance: float = TIMEFIX_TOLERANCE) -> np.ndarray | None:
    """Which of the sorted distinct finite times start a run of near-ties (R's ``aeqSurv`` cuts).

    Parameters
    ----------
    distinct : ndarray of float64
        Sorted, distinct, finite times.
    tolerance : float
        Tie tolerance, absolute and relative to the mean absolute distinct time.

    Returns
    -------
    ndarray of bool or None
        ``keep[i]`` is True where ``distinct[i]`` starts a new time (it is kept; the others are
        mapped onto the preceding kept value); None when no two times are near-tied.
    """
    if distinct.shape[0] < 2:
        return None
    gaps = np.diff(distinct)
    tied = (gaps <= tolerance) | (gaps / np.mean(np.abs(distinct)) <= tolerance)
    if not tied.any():
        return None
    keep = np.empty(distinct.shape[0], dtype=bool)
    keep[0] = True
    np.logical_not(tied, out=keep[1:])
    return keep


def merge_near_ties(
    time: np.ndarray,
    tolerance: float = TIMEFIX_TOLERANCE,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """Replace times that differ only by floating-point noise by one value (R's ``aeqSurv``).

    Parameters
    ----------
    time : ndarray
        Follow-up times; non-finite values are left as they are.
    tolerance : float
        Tie tolerance; R's default is ``sqrt(.Machine$double.eps)``.
    order : ndarray, optional
        A permutation sorting ``time`` (saves a sort); the result keeps the input order.

    Returns
    -------
    ndarray
        Times with every run of near-ties replaced by its smallest value (the input itself,
        not a copy, when there are none).

    References
    ----------
    Therneau T. survival: ``aeqSurv`` and ``timefix`` of ``coxph``, ``survfit`` and
    ``survdiff``, R package 3.5.
    """
    if order is None:
        distinct = np.unique(time[np.isfinite(time)])
    else:
        ordered = time[order]
        ordered = ordered[np.isfinite(ordered)]
        distinct = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if ordered.size else ordered
    keep = near_tie_run_starts(distinct, tolerance)
    if keep is None:
        return time
    cuts = distinct[keep]
    merged = cuts[np.searchsorted(cuts, time, side="right") - 1]
    return np.where(np.isfinite(time), merged, time)


def grid_may_hold_near_ties(largest_day: float, tolerance: float = TIMEFIX_TOLERANCE) -> bool:
    """Whether times on a whole-unit grid up to day ``largest_day`` could contain near-ties.

    Distinct grid times ``d / s`` (``d`` whole, ``0 <= d <= D``) differ by at least ``1 / s``
    and their mean absolute value is at most ``D / s``, so every relative gap is at least
    ``1 / D`` and every absolute gap at least ``1 / s`` (far above ``tolerance`` for the grid
    scales used).  No gap can be a tie when ``D * tolerance < 1``; a factor 2 is kept for the
    rounding of R's ``diff`` and ``mean``.  In practice ``D`` would have to exceed 3.3e7 days.
    """
    return largest_day * tolerance >= 0.5
