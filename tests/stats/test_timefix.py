"""Near-equal times are merged as R survival's timefix (aeqSurv); values checked in R 3.5.3."""

from __future__ import annotations

import numpy as np

from nenstudy.stats import kaplan_meier, logrank_test, median_follow_up, number_at_risk
from nenstudy.stats._timefix import (
    TIMEFIX_TOLERANCE,
    grid_may_hold_near_ties,
    merge_near_ties,
)

# R: x <- c(0.3, 0.1 + 0.2, 1, 2); survfit(Surv(x, c(1, 1, 1, 0)) ~ 1)
X = np.array([0.3, 0.1 + 0.2, 1.0, 2.0])
E = np.array([1, 1, 1, 0])


def test_kaplan_meier_merges_point_three_and_point_one_plus_point_two():
    fit = kaplan_meier(X, E)
    np.testing.assert_array_equal(fit.time, [0.3, 1.0, 2.0])  # R reports the smaller value
    np.testing.assert_array_equal(fit.n_event, [2, 1, 0])
    np.testing.assert_array_equal(fit.n_risk, [4, 2, 1])


def test_kaplan_meier_without_timefix_keeps_them_apart():
    assert kaplan_meier(X, E, timefix=False).time.shape[0] == 4


def test_logrank_statistic_matches_survdiff_with_near_ties():
    # R: survdiff(Surv(x, c(1, 1, 1, 0)) ~ c(1, 2, 1, 2))$chisq
    assert logrank_test(X, E, [1, 2, 1, 2]).statistic == np.float64(0.4285714285714286)


def test_median_follow_up_uses_the_merged_times():
    t = np.array([0.3, 0.1 + 0.2, 0.7, 1.0, 1.5])
    event = [0, 0, 1, 0, 0]
    exact = median_follow_up(np.array([0.3, 0.3, 0.7, 1.0, 1.5]), event)
    np.testing.assert_array_equal(median_follow_up(t, event), exact)


def test_number_at_risk_after_a_merged_time_matches_r_summary():
    # R: summary(survfit(Surv(x, ...) ~ 1), times = 0.1 + 0.2, extend = TRUE)$n.risk == 2
    np.testing.assert_array_equal(number_at_risk(X, [0.1 + 0.2]), [2])
    np.testing.assert_array_equal(number_at_risk(X, [0.1 + 0.2], timefix=False), [3])


def test_merge_chains_gaps_each_within_tolerance():
    t = 5.0 * (1.0 + np.arange(5) * 1e-8)  # each relative gap 1e-8, the run spans 4e-8
    np.testing.assert_array_equal(merge_near_ties(t), np.full(5, 5.0))


def test_merge_keeps_a_relative_gap_above_tolerance():
    t = np.array([7.0, 7.0 * (1.0 + 1e-7)])
    assert merge_near_ties(t) is t


def test_merge_leaves_non_finite_times_alone():
    out = merge_near_ties(np.array([np.nan, 1.0, 1.0 + 1e-12]))
    assert np.isnan(out[0]) and out[1] == out[2] == 1.0


def test_whole_day_grid_below_the_bound_has_no_near_ties():
    # the closest relative gap on a grid of D days is between days D-1 and D, mean <= D / s
    largest = int(0.5 / TIMEFIX_TOLERANCE) - 1
    assert not grid_may_hold_near_ties(largest)
    for scale in (1.0, 30.4375, 365.25, 7.0):
        days = np.array([0.0, largest - 1.0, largest])
        t = days / scale
        assert merge_near_ties(t) is t


def test_grid_bound_flags_grids_that_could_hold_near_ties():
    assert grid_may_hold_near_ties(1.0 / TIMEFIX_TOLERANCE)
