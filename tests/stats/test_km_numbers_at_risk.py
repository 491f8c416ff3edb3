"""number_at_risk agrees with the n_risk of survival_at(extend=True)."""

import numpy as np

from nenstudy.stats import kaplan_meier, number_at_risk


def test_number_at_risk_matches_survival_at_with_extend():
    t = np.array([1, 2, 2, 3, 5, 8, 8, 13], dtype=float)
    e = np.array([1, 0, 1, 1, 0, 1, 0, 0])
    at = np.array([0, 2, 4, 8, 20], dtype=float)
    expected = kaplan_meier(t, e).survival_at(at, extend=True)["n_risk"].to_numpy()
    np.testing.assert_array_equal(number_at_risk(t, at), expected)
