"""Behaviour of cox_ph beyond the R fixtures: derivatives, invariances, naming, warnings, errors."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nenstudy.stats import (
    CoxConvergenceWarning,
    MonotoneLikelihoodWarning,
    cox_ph,
)
from nenstudy.stats import cox as cox_module
from nenstudy.stats._cox_kernel import (
    SortedCovariates,
    build_layout,
    cox_derivatives,
    newton_raphson,
)


def _tied_data(n: int = 120, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "time": rng.integers(1, 15, n).astype(float),  # heavy ties
            "event": rng.integers(0, 2, n),
            "age": rng.normal(60, 10, n).round(1),
            "ki67": rng.uniform(1, 90, n).round(),
            "stratum": rng.integers(0, 3, n),
        }
    )
    frame.loc[0, "event"] = 1
    return frame


# -- derivatives -------------------------------------------------------------------------
@pytest.mark.parametrize("efron", [True, False])
@pytest.mark.parametrize("stratified", [False, True])
def test_score_and_information_match_finite_differences(efron, stratified):
    frame = _tied_data()
    x = np.column_stack([(frame["age"] - 60) / 10, (frame["ki67"] - 45) / 30])
    strata = frame["stratum"].to_numpy() if stratified else np.zeros(len(frame), dtype=np.int64)
    layout = build_layout(frame["time"].to_numpy(), frame["event"].to_numpy(), strata)
    data = SortedCovariates(layout, x[layout.order].T)
    beta = np.array([0.3, -0.4])

    def loglik(b):
        return cox_derivatives(data, b @ data.rows, efron)[0]

    _, score, info, _, _ = cox_derivatives(data, beta @ data.rows, efron)
    h = 1e-5
    numeric_score = np.array(
        [(loglik(beta + h * e) - loglik(beta - h * e)) / (2 * h) for e in np.eye(2)]
    )
    np.testing.assert_allclose(score, numeric_score, rtol=1e-6, atol=1e-7)
    numeric_info = -np.array(
        [
            [
                (loglik(beta + h * ei + h * ej) - loglik(beta + h * ei - h * ej)
                 - loglik(beta - h * ei + h * ej) + loglik(beta - h * ei - h * ej)) / (4 * h * h)
                for ej in np.eye(2)
            ]
            for ei in np.eye(2)
        ]
    )
    np.testing.assert_allclose(info, numeric_info, rtol=1e-4, atol=1e-4)


def test_efron_equals_breslow_without_ties():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"time": rng.permutation(200) + 1.0, "event": rng.integers(0, 2, 200), "z": rng.normal(size=200)}
    )
    efron = cox_ph(frame, covariates=["z"], ties="efron")
    breslow = cox_ph(frame, covariates=["z"], ties="breslow")
    np.testing.assert_allclose(efron.params["coef"], breslow.params["coef"], rtol=1e-12)
    assert efron.loglik == pytest.approx(breslow.loglik, rel=1e-12)


# -- invariances (hypothesis) --------------------------------------------------------------
_frames = st.integers(min_value=0, max_value=10_000).map(lambda seed: _tied_data(60, seed))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_frames, seed=st.integers(0, 2**31 - 1))
def test_coefficients_invariant_to_row_order(frame, seed):
    shuffled = frame.sample(frac=1.0, random_state=seed % (2**31 - 1)).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = cox_ph(frame, covariates=["age", "ki67"], strata="stratum")
        b = cox_ph(shuffled, covariates=["age", "ki67"], strata="stratum")
    np.testing.assert_allclose(a.params["coef"], b.params["coef"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.params["se"], b.params["se"], rtol=1e-9)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)
    assert a.concordance.c == pytest.approx(b.concordance.c, rel=1e-12)
    assert a.concordance.std_err == pytest.approx(b.concordance.std_err, rel=1e-9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_frames, shift=st.floats(-1000, 1000), factor=st.floats(0.1, 10))
def test_hazard_ratio_unchanged_by_shift_and_rescaled_by_scale(frame, shift, factor):
    moved = frame.assign(age=frame["age"] + shift)
    scaled = frame.assign(age=frame["age"] * factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = cox_ph(frame, covariates=["age", "ki67"])
        shifted = cox_ph(moved, covariates=["age", "ki67"])
        rescaled = cox_ph(scaled, covariates=["age", "ki67"])
    np.testing.assert_allclose(shifted.params["hazard_ratio"], base.params["hazard_ratio"], rtol=1e-7)
    np.testing.assert_allclose(
        rescaled.params.loc["age", "coef"] * factor, base.params.loc["age", "coef"], rtol=1e-7
    )
    assert rescaled.params.loc["age", "z"] == pytest.approx(base.params.loc["age", "z"], rel=1e-7)


# -- term naming and missing values ---------------------------------------------------------
def test_term_names_follow_r():
    frame = _tied_data()
    rng = np.random.default_rng(0)
    frame["grade"] = rng.choice(["G3", "G1", "G2"], len(frame))
    frame["site"] = pd.Categorical(
        rng.choice(["lung", "colon", "pancreas"], len(frame)), categories=["pancreas", "lung", "colon"]
    )
    frame["metastatic"] = rng.integers(0, 2, len(frame)).astype(bool)
    result = cox_ph(frame, covariates=["age", "grade", "site", "metastatic"])
    assert list(result.params.index) == ["age", "gradeG2", "gradeG3", "sitelung", "sitecolon", "metastaticTRUE"]


def test_rows_with_missing_values_are_dropped_and_counted():
    frame = _tied_data()
    frame.loc[[3, 5, 8], "age"] = np.nan
    frame.loc[10, "time"] = np.nan
    result = cox_ph(frame, covariates=["age", "ki67"])
    complete = cox_ph(frame.dropna(), covariates=["age", "ki67"])
    assert result.n_dropped == 4
    assert result.n == len(frame) - 4
    pd.testing.assert_frame_equal(result.params, complete.params)


def test_event_coded_one_two_is_read_as_r_surv():
    frame = _tied_data()
    recoded = frame.assign(event=frame["event"] + 1)
    a = cox_ph(frame, covariates=["age"])
    b = cox_ph(recoded, covariates=["age"])
    assert a.events == b.events
    np.testing.assert_allclose(a.params["coef"], b.params["coef"], rtol=1e-12)


# -- options, warnings, errors --------------------------------------------------------------
def test_conf_level_changes_interval_and_is_echoed():
    frame = _tied_data()
    result = cox_ph(frame, covariates=["age"], conf_level=0.9)
    row = result.params.loc["age"]
    assert result.conf_level == 0.9
    assert row["lower"] == pytest.approx(np.exp(row["coef"] - 1.6448536269514722 * row["se"]), rel=1e-12)
    assert "ties = efron" in result.summary()
    assert "age" in result._repr_html_()


def test_monotone_likelihood_warns():
    frame = _tied_data()
    frame["group"] = np.where(frame.index % 3 == 0, "none", "some")
    frame.loc[frame["group"] == "none", "event"] = 0
    with pytest.warns(MonotoneLikelihoodWarning, match="groupsome"):
        result = cox_ph(frame, covariates=["age", "group"])
    assert abs(result.params.loc["groupsome", "coef"]) > 10


def test_non_convergence_warns(monkeypatch):
    monkeypatch.setattr(cox_module, "_ITER_MAX", 1)
    with pytest.warns(CoxConvergenceWarning, match="did not converge"):
        result = cox_ph(_tied_data(), covariates=["age", "ki67"])
    assert not result.converged


def test_newton_raphson_reports_out_of_iterations():
    frame = _tied_data()
    layout = build_layout(frame["time"].to_numpy(), frame["event"].to_numpy(), np.zeros(len(frame), np.int64))
    fit = newton_raphson(layout, frame[["age", "ki67"]].to_numpy(), True, iter_max=1)
    assert not fit.converged and fit.iterations == 2


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"ties": "exact"}, ValueError),
        ({"conf_level": 1.5}, ValueError),
        ({"covariates": []}, ValueError),
        ({"covariates": ["nope"]}, KeyError),
    ],
)
def test_invalid_arguments_raise(kwargs, error):
    arguments = {"covariates": ["age"], **kwargs}
    with pytest.raises(error):
        cox_ph(_tied_data(), **arguments)


def test_no_events_raises():
    with pytest.raises(ValueError, match="no events"):
        cox_ph(_tied_data().assign(event=0), covariates=["age"])


def test_result_is_immutable():
    result = cox_ph(_tied_data(), covariates=["age"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.loglik = 0.0
    params = result.params
    params.loc["age", "coef"] = 99.0
    assert result.params.loc["age", "coef"] != 99.0


def test_input_frame_is_left_untouched_and_writable():
    frame = _tied_data()
    before = frame.copy()
    cox_ph(frame, covariates=["age", "ki67"])
    pd.testing.assert_frame_equal(frame, before)
    frame.loc[0, "time"] = 123.0  # still writable: nothing was frozen in place
    assert frame.loc[0, "time"] == 123.0


def test_nullable_dtypes_with_missing_values_are_dropped():
    frame = _tied_data()
    frame["grade"] = pd.array(np.arange(len(frame)) % 3, dtype="Int64")
    frame["metastatic"] = pd.array(np.arange(len(frame)) % 2 == 0, dtype="boolean")
    frame.loc[2, "grade"] = pd.NA
    frame.loc[4, "metastatic"] = pd.NA
    result = cox_ph(frame, covariates=["grade", "metastatic"])
    assert list(result.params.index) == ["grade", "metastaticTRUE"]
    assert result.n_dropped == 2


def test_many_strata_vectorised_path_matches_loop(monkeypatch):
    from nenstudy.stats import _cox_kernel

    rng = np.random.default_rng(8)
    n = 3000
    frame = pd.DataFrame(
        {
            "time": rng.integers(1, 40, n).astype(float),
            "event": rng.integers(0, 2, n),
            "age": rng.normal(60, 10, n),
            "centre": rng.integers(0, 150, n),
        }
    )
    vectorised = cox_ph(frame, covariates=["age"], strata="centre")
    monkeypatch.setattr(_cox_kernel, "_STRATA_LOOP_LIMIT", 10_000)
    looped = cox_ph(frame, covariates=["age"], strata="centre")
    np.testing.assert_allclose(vectorised.params["coef"], looped.params["coef"], rtol=1e-10)
    np.testing.assert_allclose(vectorised.params["se"], looped.params["se"], rtol=1e-10)
    assert vectorised.loglik == pytest.approx(looped.loglik, rel=1e-12)
    pd.testing.assert_frame_equal(vectorised.ph_test(), looped.ph_test(), rtol=1e-8)


@pytest.mark.parametrize("data", [
    {"time": [3.0], "event": [1], "x": [1.0]},                  # one subject
    {"time": [1.0, 2.0], "event": [0, 1], "x": [1.0, 0.0]},    # the event alone at risk
])
def test_a_partial_likelihood_of_exactly_zero_gives_no_estimate_and_no_crash(data):
    """Every event alone in its risk set: log-likelihood 0, no information. The coefficient is
    NaN with a warning (it was a ZeroDivisionError in the convergence test)."""
    import warnings

    from nenstudy.stats import SingularDesignWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = cox_ph(pd.DataFrame(data), event="event", covariates=["x"])
    assert np.isnan(fit.params["coef"].iloc[0])
    assert any(issubclass(w.category, SingularDesignWarning) for w in caught)
