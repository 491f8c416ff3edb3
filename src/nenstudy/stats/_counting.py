"""Shared kernel: input validation and per-distinct-time counts for KM and log-rank.

Registry times are whole days (then converted to months), so ties are heavy and the
estimators only ever need aggregates per distinct time: the number at risk, the number
of events and the number censored.  When the times lie on a whole-unit grid (days, or
days / 30.4375 = months, ...; checked exactly, see :func:`grid_cell_counts`) the counts come
from one chunked ``np.bincount`` over the grid; otherwise from one sort and ``searchsorted``.
There are no Python loops over observations, only over cache-sized chunks of the array
(in :func:`grid_cell_counts`) and (in :func:`grouped_event_counts`) over the few groups.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ._timefix import grid_may_hold_near_ties, near_tie_run_starts

__all__ = [
    "GRID_SCALES",
    "DistinctTimeCounts",
    "GridCells",
    "GroupedCounts",
    "as_survival_arrays",
    "check_times",
    "distinct_time_counts",
    "factorize_labels",
    "grid_cell_counts",
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


def _time_problems(t: np.ndarray) -> list[str]:
    """Problems with float64 times (two reductions: NaN propagates into min and max)."""
    lo, hi = t.min(), t.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return ["time contains NaN or infinite values"]
    if lo < 0:
        return ["time contains negative values"]
    return []


def _raise_if(problems: list[str]) -> None:
    if problems:
        raise ValueError("invalid survival data: " + "; ".join(problems))


def check_times(t: np.ndarray) -> None:
    """Raise ``ValueError`` unless every float64 time is finite and >= 0."""
    _raise_if(_time_problems(t))


def _event_as_bool(e: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    """0/1 events as a bool array, with one pass (a zero-copy view for 1-byte input)."""
    if e.dtype == bool:
        return e, []
    if np.issubdtype(e.dtype, np.integer):
        # viewed as unsigned, negative values are huge: one max() checks 0 <= e <= 1
        unsigned = e.view(np.dtype(f"u{e.dtype.itemsize}"))
        if e.shape[0] and unsigned.max() > 1:
            return None, ["event must contain only 0 (censored) and 1 (event)"]
        return (unsigned.view(bool) if e.dtype.itemsize == 1 else e.astype(bool)), []
    if np.issubdtype(e.dtype, np.floating):
        e_bool = e == 1
        if not (e_bool | (e == 0)).all():
            return None, ["event must contain only 0 (censored) and 1 (event), without missing values"]
        return e_bool, []
    raise ValueError(f"event must be 0/1 or boolean (got dtype {e.dtype})")


def as_survival_arrays(time, event, check_time: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``time`` and ``event`` once and return them as float64 / bool arrays.

    Parameters
    ----------
    time, event : array_like
        Follow-up times and 0/1 (or boolean) event indicators.
    check_time : bool, default True
        Check that the times are finite and >= 0.  Callers that go on to
        :func:`grid_cell_counts` may pass False: a successful grid count proves it
        (and they call :func:`check_times` before any other path).

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
    e_bool, event_problems = _event_as_bool(e)
    if event_problems or check_time:
        _raise_if(_time_problems(t) + event_problems)
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


class GridCells(NamedTuple):
    """Counts on a whole-unit time grid: ``cells[day, offset, event]``; time = day / scale."""

    cells: np.ndarray  # (n_bins, n_offsets, 2) int
    scale: float


def _fails_sample(sample: np.ndarray, scale: float) -> bool:
    return not np.array_equal(np.rint(sample * scale) / scale, sample)


def grid_cell_counts(
    t: np.ndarray,
    e: np.ndarray,
    offsets: np.ndarray | None = None,
    n_offsets: int = 1,
    max_cells: int | None = None,
) -> GridCells | None:
    """Counts per (time bin, offset, event) when the times lie on a whole-unit grid.

    For the first scale in :data:`GRID_SCALES` at which every time satisfies
    ``rint(t * scale) / scale == t`` exactly (bit for bit), returns ``cells`` with
    ``cells[d, o, k]`` the number of observations with ``t == d / scale``, offset
    ``o`` (e.g. a group code) and event ``k``; otherwise (or when a time is negative,
    NaN or infinite, or the grid would exceed ``max_cells``) None.  A successful count
    therefore also proves the times valid.

    One ``np.bincount`` of the key ``2 * (day * n_offsets + offset) + event`` replaces
    a sort (registry times are whole days: heavy ties, few bins).  The array is
    processed in cache-sized chunks so that the scaling, the exactness check and the
    key are computed while the chunk is in cache, with no temporaries of size n.

    Parameters
    ----------
    t : ndarray of float64
        Times (not yet checked).
    e : ndarray of bool
        Validated event indicators.
    offsets : ndarray of int, optional
        Codes ``0 .. n_offsets - 1`` (group, or stratum * k + group).
    n_offsets : int, default 1
        Number of offset codes.
    max_cells : int, optional
        Largest grid allowed; default ``max(8 n, 200_000)``.
    """
    n = t.shape[0]
    limit = max(8 * n, 200_000) if max_cells is None else max_cells
    hi = float(t.max())  # NaN propagates
    if not np.isfinite(hi) or n == 0:
        return None
    sample = t[:256]
    events = e.view(np.uint8)
    for scale in GRID_SCALES:
        n_bins = int(np.rint(max(hi, 0.0) * scale)) + 1
        n_cells = n_bins * n_offsets * 2
        if n_cells > limit or _fails_sample(sample, scale):
            continue
        cells = _chunked_grid_count(t, events, offsets, n_offsets, scale, n_cells)
        if cells is not None:
            return GridCells(cells.reshape(n_bins, n_offsets, 2), scale)
    return None


_CHUNK = 32_768  # elements per chunk: the chunk's float64 buffers stay in L2 cache


def _chunked_grid_count(
    t: np.ndarray,
    events: np.ndarray,
    offsets: np.ndarray | None,
    n_offsets: int,
    scale: float,
    n_cells: int,
) -> np.ndarray | None:
    """Bincount of ``2 * (day * n_offsets + offset) + event``, or None if a time is off the grid."""
    n = t.shape[0]
    # keep the per-chunk bincount (O(n_cells)) small next to the chunk's own work
    chunk = min(n, max(_CHUNK, n_cells))
    scaled = np.empty(chunk)
    back = np.empty(chunk)
    same = np.empty(chunk, dtype=bool)
    key = np.empty(chunk, dtype=np.intp)
    shifted = np.empty(chunk, dtype=np.intp) if offsets is not None else key
    total = np.zeros(n_cells, dtype=np.intp)
    for start in range(0, n, chunk):
        t_c = t[start : start + chunk]
        m = t_c.shape[0]
        x, b, q, k, o = scaled[:m], back[:m], same[:m], key[:m], shifted[:m]
        np.multiply(t_c, scale, out=x)
        np.rint(x, out=x)  # the day, exactly, for times on the grid
        np.divide(x, scale, out=b)
        np.equal(b, t_c, out=q)
        if not q.all():
            return None
        np.multiply(x, 2 * n_offsets, out=k, casting="unsafe")  # exact: x is a whole number
        np.add(k, events[start : start + chunk], out=k)
        if offsets is not None:
            np.left_shift(offsets[start : start + chunk], 1, out=o)
            np.add(k, o, out=k)
        try:
            counted = np.bincount(k, minlength=n_cells)
        except ValueError:  # a negative time (its key is negative)
            return None
        if counted.shape[0] > n_cells:
            return None
        total += counted
    return total


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


def distinct_time_counts(t: np.ndarray, e: np.ndarray, timefix: bool = True) -> DistinctTimeCounts:
    """Per distinct time: number at risk (time >= t), events and censorings at t.

    Parameters
    ----------
    t : ndarray of float64
        Times; checked here (finite, >= 0) unless a grid count proves them valid.
    e : ndarray of bool
        Validated event indicators (see :func:`as_survival_arrays`).
    timefix : bool, default True
        Merge times that differ only by floating-point noise as R's ``aeqSurv`` (see
        :mod:`._timefix`); each run of near-ties is counted at its smallest time.  Only the
        sort path can meet near-ties: a grid count is used only when its size rules them out.
    """
    n = t.shape[0]
    grid = grid_cell_counts(t, e)
    if grid is not None and not (timefix and grid_may_hold_near_ties(grid.cells.shape[0] - 1)):
        cells = grid.cells[:, 0, :]
        at_time = cells.sum(axis=1)
        present = np.flatnonzero(at_time)
        at_time = at_time[present]
        n_event = cells[present, 1]
        n_risk = np.cumsum(at_time[::-1])[::-1]
        return DistinctTimeCounts(present / grid.scale, n_risk, n_event, at_time - n_event)
    check_times(t)
    sorted_time = np.sort(t)
    times, starts = _sorted_distinct(sorted_time)
    keep = near_tie_run_starts(times) if timefix else None
    sorted_event_time = np.sort(t[e])
    if keep is None:
        n_event = _counts_at(sorted_event_time, times)
    else:  # a merged time counts every event in [its time, the next merged time)
        times, starts = times[keep], starts[keep]
        n_event = np.diff(np.searchsorted(sorted_event_time, times, side="left"), append=sorted_event_time.shape[0])
    n_risk = n - starts
    at_time = np.diff(np.append(starts, n))
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
