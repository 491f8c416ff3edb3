"""Proportional-hazards test: time transform and invariances (R values are in test_cox_golden)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nenstudy.stats import cox_ph
from nenstudy.stats.zph import km_time_transform


def test_km_transform_is_one_minus_left_continuous_km():
    time = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0])
    event = np.array([1, 1, 0, 1, 0, 1, 0])
    # S(t-) by hand: 1 before 1; 6/7 before 2; 6/7*5/6 before 3; *3/4 before 4; *2/3 before 5
    s_before = {1.0: 1.0, 2.0: 6 / 7, 3.0: 5 / 7, 4.0: 5 / 7 * 3 / 4, 5.0: 5 / 7 * 3 / 4 * 2 / 3}
    expected = np.array([1.0 - s_before[t] for t in time])
    np.testing.assert_allclose(km_time_transform(time, event), expected, rtol=1e-14)


def _frame(seed: int = 5, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    grade = rng.choice(["G1", "G2", "G3"], n)
    # hazard of z grows with time: a PH violation the test should see
    t = np.ceil(rng.exponential(50, n) * np.exp(-0.5 * z * (rng.uniform(size=n) > 0.5)))
    return pd.DataFrame({"time": t, "event": rng.integers(0, 2, n) | (t < 20), "z": z, "grade": grade})


def test_ph_test_has_one_row_per_term_plus_global():
    table = cox_ph(_frame(), covariates=["z", "grade"]).ph_test()
    assert list(table.index) == ["z", "grade", "GLOBAL"]
    assert table["df"].tolist() == [1, 2, 3]
    assert ((table["p_value"] >= 0) & (table["p_value"] <= 1)).all()


def test_ph_test_invariant_to_row_order():
    frame = _frame()
    shuffled = frame.sample(frac=1.0, random_state=3)
    a = cox_ph(frame, covariates=["z", "grade"]).ph_test()
    b = cox_ph(shuffled, covariates=["z", "grade"]).ph_test()
    pd.testing.assert_frame_equal(a, b, rtol=1e-9)


def test_ph_test_returns_a_copy():
    result = cox_ph(_frame(), covariates=["z"])
    table = result.ph_test()
    table.loc["z", "chisq"] = -1.0
    assert result.ph_test().loc["z", "chisq"] >= 0


def test_all_events_at_one_time_raises_clearly():
    frame = pd.DataFrame({"time": [5.0] * 10 + [9.0] * 5, "event": [1] * 10 + [0] * 5,
                          "z": np.linspace(-1, 1, 15)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cox_ph(frame, covariates=["z"])
    with pytest.raises(ValueError, match="singular"):
        result.ph_test()


def test_ph_test_refuses_a_computationally_singular_matrix_as_r_does():
    """Two event times for two covariates: R's cox.zph stops ("system is computationally
    singular: reciprocal condition number = 4.4986e-19"); no p-value of 0.89 comes out here."""
    frame = pd.DataFrame({
        "time": [1, 1, 1, 1, 1, 2, 1, 2, 1, 1], "event": [1, 1, 1, 0, 0, 0, 0, 1, 0, 0],
        "x1": [.23, 2.81, 1.44, -.15, .06, -.41, -1.54, -.28, .01, .18],
        "x2": [1.32, -.59, .24, .43, .11, -1.40, .65, -.60, .79, -.66],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = cox_ph(frame, event="event", covariates=["x1", "x2"])
    np.testing.assert_allclose(fit.params["coef"].to_numpy(), [3.448153, 4.619076], rtol=1e-6)
    with pytest.raises(ValueError, match="singular"):
        fit.ph_test()
