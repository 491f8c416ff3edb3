"""Property tests (hypothesis) for Kaplan-Meier and log-rank invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nenstudy.stats import kaplan_meier, logrank_test, median_follow_up

days = st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=80)


@st.composite
def survival_data(draw, min_size=1):
    t = draw(st.lists(st.integers(min_value=0, max_value=40), min_size=min_size, max_size=80))
    e = draw(st.lists(st.integers(min_value=0, max_value=1), min_size=len(t), max_size=len(t)))
    return np.asarray(t, dtype=float) / 30.4375, np.asarray(e)


@settings(max_examples=150, deadline=None)
@given(survival_data(), st.sampled_from(["log-log", "log", "plain"]))
def test_km_survival_is_non_increasing_and_in_unit_interval(data, conf_type):
    fit = kaplan_meier(*data, conf_type=conf_type)
    s = fit.table["survival"].to_numpy()
    assert np.all(np.diff(s) <= 0) and np.all((s >= 0) & (s <= 1))


@settings(max_examples=150, deadline=None)
@given(survival_data(), st.sampled_from(["log-log", "log", "plain"]))
def test_km_ci_contains_estimate(data, conf_type):
    table = kaplan_meier(*data, conf_type=conf_type).table
    ok = table["lower"].notna() & table["upper"].notna()
    s = table["survival"][ok]
    assert np.all(table["lower"][ok] <= s + 1e-12) and np.all(s <= table["upper"][ok] + 1e-12)


@settings(max_examples=100, deadline=None)
@given(survival_data(), st.randoms(use_true_random=False))
def test_km_is_invariant_to_row_order(data, rnd):
    t, e = data
    perm = np.arange(t.shape[0])
    rnd.shuffle(perm)
    a, b = kaplan_meier(t, e), kaplan_meier(t[perm], e[perm])
    np.testing.assert_array_equal(a.table.to_numpy(), b.table.to_numpy())
    np.testing.assert_array_equal([a.median, *a.median_ci], [b.median, *b.median_ci])


@settings(max_examples=100, deadline=None)
@given(survival_data())
def test_km_grid_and_sort_kernels_agree(data):
    """Times on the day grid use counting; shifted times (off any grid) use the sort path."""
    t, e = data
    shift = np.pi * 1e-3
    on_grid, off_grid = kaplan_meier(t, e), kaplan_meier(t + shift, e)
    for col in ("n_risk", "n_event", "n_censor", "survival", "std_err", "lower", "upper"):
        np.testing.assert_allclose(on_grid.table[col], off_grid.table[col], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(on_grid.table["time"] + shift, off_grid.table["time"], rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(survival_data())
def test_median_lies_within_its_ci_when_all_defined(data):
    fit = kaplan_meier(*data)
    lo, up = fit.median_ci
    if np.isfinite([fit.median, lo, up]).all():
        assert lo <= fit.median <= up
    fu = median_follow_up(*data)
    assert len(fu) == 3


@st.composite
def grouped_data(draw):
    t, e = draw(survival_data(min_size=4))
    g = np.asarray(draw(st.lists(st.integers(0, 2), min_size=len(t), max_size=len(t))))
    s = np.asarray(draw(st.lists(st.integers(0, 1), min_size=len(t), max_size=len(t))))
    return t, e, g, s


@pytest.mark.filterwarnings("ignore::nenstudy.stats.SingularVarianceWarning")
@settings(max_examples=150, deadline=None)
@given(grouped_data(), st.sampled_from([0.0, 1.0]), st.booleans())
def test_logrank_statistic_invariant_to_group_relabelling(data, rho, stratified):
    t, e, g, s = data
    if np.unique(g).size < 2:
        return
    strata = s if stratified else None
    base = logrank_test(t, e, g, strata=strata, rho=rho)
    relabelled = logrank_test(t, e, np.array(["c", "a", "b"])[g], strata=strata, rho=rho)
    assert base.df == relabelled.df
    np.testing.assert_allclose(relabelled.statistic, base.statistic, rtol=1e-8, atol=1e-10)
    mapping = {0: "c", 1: "a", 2: "b"}
    for level, obs in base.observed.items():
        assert relabelled.observed[mapping[level]] == pytest.approx(obs)
        assert relabelled.expected[mapping[level]] == pytest.approx(base.expected[level])


@settings(max_examples=100, deadline=None)
@given(grouped_data())
def test_logrank_observed_and_expected_totals_agree(data):
    t, e, g, _ = data
    if np.unique(g).size < 2:
        return
    lr = logrank_test(t, e, g)
    assert lr.observed.sum() == pytest.approx(lr.expected.sum())
    assert lr.observed.sum() == e.sum()
    assert lr.statistic >= -1e-12


@pytest.mark.filterwarnings("ignore::nenstudy.stats.SingularVarianceWarning")
@settings(max_examples=60, deadline=None)
@given(grouped_data(), st.booleans())
def test_logrank_grid_and_sort_kernels_agree(data, stratified):
    t, e, g, s = data
    if np.unique(g).size < 2:
        return
    strata = s if stratified else None
    a = logrank_test(t, e, g, strata=strata, rho=1.0)
    b = logrank_test(t + np.pi * 1e-3, e, g, strata=strata, rho=1.0)
    np.testing.assert_allclose(a.observed, b.observed, rtol=1e-10)
    np.testing.assert_allclose(a.expected, b.expected, rtol=1e-10)
    np.testing.assert_allclose(a.variance.to_numpy(), b.variance.to_numpy(), rtol=1e-9, atol=1e-12)


def test_kaplan_meier_rejects_invalid_input_with_one_message():
    with pytest.raises(ValueError, match="same length"):
        kaplan_meier([1, 2], [1])
    with pytest.raises(ValueError, match="negative"):
        kaplan_meier([-1, 2], [1, 0])
    with pytest.raises(ValueError, match="NaN"):
        kaplan_meier([np.nan, 2], [1, 0])
    with pytest.raises(ValueError, match="0 \\(censored\\)"):
        kaplan_meier([1, 2], [2, 0])
    with pytest.raises(ValueError, match="conf_type"):
        kaplan_meier([1, 2], [1, 0], conf_type="logit")


def test_km_result_is_immutable_and_echoes_options():
    fit = kaplan_meier([1, 2, 3], [1, 0, 1], conf_type="log", conf_level=0.9)
    assert (fit.conf_type, fit.conf_level) == ("log", 0.9)
    with pytest.raises(AttributeError):
        fit.n = 5
    with pytest.raises(ValueError):
        fit.survival[0] = 0.1
    assert "log" in fit.summary() and "<table>" in fit._repr_html_()
