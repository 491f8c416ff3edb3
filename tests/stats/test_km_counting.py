"""The chunked whole-unit grid count is exact and validates the times it accepts."""

from __future__ import annotations

import numpy as np
import pytest

from nenstudy.stats import kaplan_meier, logrank_test
from nenstudy.stats._counting import _CHUNK, grid_cell_counts


def _days_in_months(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 400, n) / 30.4375, rng.integers(0, 2, n).astype(np.int8)


def test_grid_count_matches_unique_counts_across_chunks():
    t, e = _days_in_months(3 * _CHUNK + 17)
    grid = grid_cell_counts(t, e.astype(bool))
    assert grid is not None and grid.scale == 30.4375
    present = np.flatnonzero(grid.cells[:, 0, :].sum(axis=1))
    times, counts = np.unique(t, return_counts=True)
    np.testing.assert_array_equal(present / grid.scale, times)
    np.testing.assert_array_equal(grid.cells[present, 0, :].sum(axis=1), counts)
    np.testing.assert_array_equal(grid.cells[present, 0, 1], np.bincount(np.unique(t, return_inverse=True)[1], weights=e))


def test_time_one_ulp_off_the_grid_is_kept_distinct_without_timefix():
    t, e = _days_in_months(2 * _CHUNK)
    t[-1] = np.nextafter(t[-1], np.inf)  # in the last chunk
    assert grid_cell_counts(t, e.astype(bool)) is None
    fit = kaplan_meier(t, e, timefix=False)
    assert fit.time.shape[0] == np.unique(t).shape[0]


def test_time_one_ulp_off_the_grid_is_merged_back_by_timefix():
    t, e = _days_in_months(2 * _CHUNK)
    on_grid = kaplan_meier(t, e)
    t[-1] = np.nextafter(t[-1], np.inf)  # sort path now; R's aeqSurv merges it back
    merged = kaplan_meier(t, e)
    np.testing.assert_array_equal(merged.time, on_grid.time)
    np.testing.assert_array_equal(merged.n_event, on_grid.n_event)
    np.testing.assert_array_equal(merged.survival, on_grid.survival)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_logrank_rejects_bad_time_in_a_later_group(bad):
    t, e = _days_in_months(2 * _CHUNK)
    group = np.arange(t.shape[0]) % 3
    t[-2] = bad  # group 1 or 2: a negative day must not alias into another group's cells
    with pytest.raises(ValueError, match="invalid survival data"):
        logrank_test(t, e, group)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_km_rejects_bad_time_on_the_grid(bad):
    t, e = _days_in_months(100)
    t[50] = bad
    with pytest.raises(ValueError, match="invalid survival data"):
        kaplan_meier(t, e)


def test_km_rejects_event_two_in_one_byte_input():
    t, e = _days_in_months(100)
    e[3] = 2
    with pytest.raises(ValueError, match="0 \\(censored\\)"):
        kaplan_meier(t, e)


def test_km_rejects_negative_event_in_wide_integer_input():
    t, e = _days_in_months(100)
    e = e.astype(np.int64)
    e[3] = -1
    with pytest.raises(ValueError, match="0 \\(censored\\)"):
        kaplan_meier(t, e)
