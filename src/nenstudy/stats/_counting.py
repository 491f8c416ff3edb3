"""Shared kernel: input validation and per-distinct-time counts for KM and log-rank.

Registry times are whole days (then converted to months), so ties are heavy and the
estimators only ever need aggregates per distinct time: the number at risk, the number
of events and the number censored.  When the times lie on a whole-unit grid (days, or
days / 30.4375 = months, ...; checked exactly, see :func:`grid_codes`) the counts come
from one ``np.bincount`` over the grid; otherwise from one sort and ``searchsorted``.
There are no Python loops over observations, only (in :func:`grouped_event_counts`) over
the few groups and strata.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "GRID_SCALES",
    "DistinctTimeCounts",
    "GroupedCounts",
    "as_survival_arrays",
    "distinct_time_counts",
    "factorize_labels",
    "grid_codes",
    "grouped_event_counts",
    "small_int_codes",
]

# Time units in which registry times are whole numbers: days (times in days), months of
# 30.4375 days (days / 30.4375, as the study reports), years of 365.25 days, weeks.
GRID_SCALES = (1.0, 30.4375, 365.25, 7.0)


class DistinctTimeCounts(NamedTuple):
    """Counts per distinct observed time (events and censorings), sorted by time."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray


class GroupedCounts(NamedTuple):
    """Counts at the distinct event times of one stratum, one column per group."""

    time: np.ndarray  # (m,) distinct event times in the stratum
    n_risk: np.ndarray  # (m, k) number at risk per group
    n_event: np.ndarray  # (m, k) number of events per group


def as_survival_arrays(time, event) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``time`` and ``event`` once and return them as float64 / bool arrays.

    Raises
    ------
    ValueError
        One message naming every problem found: unequal lengths, non-numeric or
        missing/infinite times, negative times, events other than 0/1.
    """
    t = np.asarray(time)
    e = np.asarray(event)
    if t.ndim != 1 or e.ndim != 1:
        raise ValueError("time and event must be one-dimensional arrays")
    if t.shape[0] != e.shape[0]:
        raise ValueError(f"time and event must have the same length (got {t.shape[0]} and {e.shape[0]})")
    if t.shape[0] == 0:
        raise ValueError("time and event are empty: at least one observation is needed")
    if not (np.issubdtype(t.dtype, np.number) or t.dtype == bool):
        raise ValueError(f"time must be numeric (got dtype {t.dtype})")
    t = t.astype(np.float64, copy=False)
    problems = []
    lo, hi = t.min(), t.max()  # NaN propagates into both
    if not (np.isfinite(lo) and np.isfinite(hi)):
        problems.append("time contains NaN or infinite values")
    elif lo < 0:
        problems.append("time contains negative values")
    if e.dtype == bool:
        e_bool = e
    elif np.issubdtype(e.dtype, np.integer):
        if e.min() < 0 or e.max() > 1:
            problems.append("event must contain only 0 (censored) and 1 (event)")
        e_bool = e.astype(bool)
    elif np.issubdtype(e.dtype, np.floating):
        e_bool = e == 1
        if not (e_bool | (e == 0)).all():
            problems.append("event must contain only 0 (censored) and 1 (event), without missing values")
    else:
        raise ValueError(f"event must be 0/1 or boolean (got dtype {e.dtype})")
    if problems:
        raise ValueError("invalid survival data: " + "; ".join(problems))
    return t, e_bool


def _sorted_distinct(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and the index where each run starts."""
    n = sorted_values.shape[0]
    if n == 0:
        return sorted_values[:0], np.zeros(0, dtype=np.intp)
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    return sorted_values[starts], starts


def _counts_at(sorted_values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Number of ``sorted_values`` equal to each of the sorted, distinct ``points``."""
    below = np.searchsorted(sorted_values, points, side="left")
    upto = np.searchsorted(sorted_values, points, side="right")
    return upto - below


def grid_codes(
    t: np.ndarray, max_bins: int | None = None, event: np.ndarray | None = None
) -> tuple[np.ndarray, float, int] | None:
    """Integer codes of ``t`` on a whole-unit grid, when the times allow it.

    Returns ``(codes, scale, n_bins)`` with ``codes / scale == t`` exactly (bit for
    bit) for every element, for the first scale in :data:`GRID_SCALES` that satisfies
    this, or None.  Codes are order-preserving, so counting with ``np.bincount`` over
    the grid replaces a sort (registry times are whole days: heavy ties, few bins).
    With ``event`` the codes returned are ``2 * code + event`` (one pass saved).
    """
    n = t.shape[0]
    hi = float(t.max())
    limit = max(4 * n, 100_000) if max_bins is None else max_bins
    sample = t[:256]
    for scale in GRID_SCALES:
        if hi * scale + 1 > limit:
            continue
        if not np.array_equal(np.rint(sample * scale) / scale, sample):
            continue
        if event is None:
            scaled = t * scale
            np.rint(scaled, out=scaled)
            codes = scaled.astype(np.intp)
            day = codes
        else:
            scaled = t * (2 * scale)  # exact doubling of t * scale
            np.add(scaled, event.view(np.uint8) + np.float32(0.5), out=scaled)
            codes = scaled.astype(np.intp)  # floor: 2 * rint(t * scale) + event on the grid
            day = codes >> 1
        np.divide(day, scale, out=scaled)
        if not np.array_equal(scaled, t):
            continue
        return codes, scale, int(day.max()) + 1
    return None


def small_int_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes 0..k-1 (sorted levels) for an integer array with a small range, by counting."""
    if not np.issubdtype(values.dtype, np.integer) or values.shape[0] == 0:
        return None
    lo, hi = int(values.min()), int(values.max())
    if hi - lo >= 65536:
        return None
    shifted = values.astype(np.intp) - lo
    present = np.flatnonzero(np.bincount(shifted, minlength=hi - lo + 1))
    if present.shape[0] == hi - lo + 1:
        return shifted, (present + lo).astype(values.dtype)
    lookup = np.full(hi - lo + 1, -1, dtype=np.intp)
    lookup[present] = np.arange(present.shape[0])
    return lookup[shifted], (present + lo).astype(values.dtype)


def distinct_time_counts(t: np.ndarray, e: np.ndarray) -> DistinctTimeCounts:
    """Per distinct time: number at risk (time >= t), events and censorings at t.

    Parameters
    ----------
    t, e : ndarray
        Validated float64 times and boolean event indicators (see
        :func:`as_survival_arrays`).
    """
    n = t.shape[0]
    grid = grid_codes(t, event=e)
    if grid is not None:
        codes, scale, n_bins = grid
        cells = np.bincount(codes, minlength=2 * n_bins).reshape(n_bins, 2)
        at_time = cells.sum(axis=1)
        present = np.flatnonzero(at_time)
        at_time = at_time[present]
        n_event = cells[present, 1]
        n_risk = np.cumsum(at_time[::-1])[::-1]
        return DistinctTimeCounts(present / scale, n_risk, n_event, at_time - n_event)
    sorted_time = np.sort(t)
    times, starts = _sorted_distinct(sorted_time)
    n_risk = n - starts
    at_time = np.diff(np.append(starts, n))
    sorted_event_time = np.sort(t[e])
    n_event = _counts_at(sorted_event_time, times)
    return DistinctTimeCounts(times, n_risk, n_event, at_time - n_event)


def factorize_labels(labels, name: str, n: int) -> tuple[np.ndarray, list]:
    """Integer codes 0..k-1 for ``labels`` (sorted level order) and the levels.

    Missing labels are rejected with a clear message.
    """
    values = labels.to_numpy() if isinstance(labels, (pd.Series, pd.Index)) else np.asarray(labels)
    if values.ndim != 1 or values.shape[0] != n:
        raise ValueError(f"{name} must be one-dimensional with the same length as time ({n})")
    if isinstance(labels, pd.Series) and isinstance(labels.dtype, pd.CategoricalDtype):
        codes = labels.cat.remove_unused_categories().cat.codes.to_numpy()
        levels = list(labels.cat.remove_unused_categories().cat.categories)
    else:
        counted = small_int_codes(values)
        if counted is not None:
            return counted[0], list(counted[1])
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
        levels = list(uniques)
    if (codes < 0).any():
        raise ValueError(f"{name} contains missing values")
    return codes.astype(np.intp, copy=False), levels


def grouped_event_counts(
    t: np.ndarray, e: np.ndarray, group_codes: np.ndarray, n_groups: int
) -> GroupedCounts:
    """Numbers at risk and events per group at the distinct event times (one stratum).

    Loops only over the ``n_groups`` groups; within a group the times are sorted once
    and counted with ``searchsorted``.
    """
    per_group_sorted = []
    per_group_event_sorted = []
    distinct_event_times = []
    for g in range(n_groups):
        in_group = group_codes == g
        tg = t[in_group]
        eg = e[in_group]
        sorted_all = np.sort(tg)
        sorted_events = np.sort(tg[eg])
        per_group_sorted.append(sorted_all)
        per_group_event_sorted.append(sorted_events)
        distinct_event_times.append(_sorted_distinct(sorted_events)[0])
    times = np.unique(np.concatenate(distinct_event_times)) if distinct_event_times else np.zeros(0)
    m = times.shape[0]
    n_risk = np.zeros((m, n_groups), dtype=np.float64)
    n_event = np.zeros((m, n_groups), dtype=np.float64)
    for g in range(n_groups):
        sorted_all = per_group_sorted[g]
        n_risk[:, g] = sorted_all.shape[0] - np.searchsorted(sorted_all, times, side="left")
        n_event[:, g] = _counts_at(per_group_event_sorted[g], times)
    return GroupedCounts(times, n_risk, n_event)
