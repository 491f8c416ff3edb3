"""Edge cases of the log-rank test against R survival's survdiff (fixtures written by
tests/stats/r/make_logrank_edge_fixtures.R): a negative rho where a stratum's estimate reaches 0
on whole-number times, and a singular variance matrix, where R stops and nenstudy warns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nenstudy.stats import SingularVarianceWarning, logrank_test

ENTRIES = json.loads((Path(__file__).parent / "fixtures" / "edge_logrank.json").read_text())


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "error" not in e],
                         ids=lambda e: f"{e['case']}-rho{e['rho']:g}")
def test_agrees_with_survdiff(entry):
    d = entry["data"]
    result = logrank_test(d["time"], d["status"], d["group"], strata=d["strata"], rho=entry["rho"])
    np.testing.assert_allclose(result.statistic, entry["statistic"], rtol=1e-6)
    np.testing.assert_allclose(result.p_value, entry["p_value"], rtol=1e-6)
    np.testing.assert_allclose(result.observed.to_numpy(), entry["observed"], rtol=1e-6)
    np.testing.assert_allclose(result.expected.to_numpy(), entry["expected"], rtol=1e-6)
    np.testing.assert_allclose(result.variance.to_numpy(), np.array(entry["variance"]),
                               rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "error" in e],
                         ids=lambda e: f"{e['case']}-rho{e['rho']:g}")
def test_where_survdiff_stops_a_warning_and_no_p_value_on_borrowed_df(entry):
    """R: "system is exactly singular". nenstudy: a warning, the rank as df (0 here), no p."""
    assert "singular" in entry["error"]
    d = entry["data"]
    with pytest.warns(SingularVarianceWarning, match="R's survdiff stops"):
        result = logrank_test(d["time"], d["status"], d["group"], strata=d["strata"],
                              rho=entry["rho"])
    assert result.df == 0 and result.statistic == 0 and np.isnan(result.p_value)


def test_an_uninformative_group_adds_no_degree_of_freedom():
    """A third group of one subject alone in its stratum has no variance: the test is the one
    of the other two groups, on 1 df (before: the same statistic on 2 df, a larger p)."""
    rng = np.random.default_rng(3)
    time = list(rng.integers(1, 20, 40).astype(float)) + [4.0]
    status = list(rng.integers(0, 2, 40)) + [1]
    group = ["a", "b"] * 20 + ["c"]
    strata = ["x"] * 20 + ["y"] * 20 + ["q"]
    two = logrank_test(time[:40], status[:40], group[:40], strata=strata[:40])
    with pytest.warns(SingularVarianceWarning):
        three = logrank_test(time, status, group, strata=strata)
    assert three.df == 1 == two.df
    np.testing.assert_allclose(three.statistic, two.statistic, rtol=1e-9)
    np.testing.assert_allclose(three.p_value, two.p_value, rtol=1e-9)


def test_the_degrees_of_freedom_do_not_depend_on_which_group_comes_first():
    """A case hypothesis found: the reduced matrix's rank depended on the group dropped."""
    t = np.array([0., 0., 0.03285421, 0., 0., 0.06570842, 0., 0., 0.06570842])
    e = np.array([0, 0, 1, 0, 0, 0, 1, 1, 1])
    g = np.array([0, 1, 2, 1, 1, 2, 1, 2, 2])
    s = np.array([0, 1, 0, 1, 1, 0, 1, 0, 0])
    with pytest.warns(SingularVarianceWarning):
        base = logrank_test(t, e, g, strata=s)
    for order in (["c", "a", "b"], ["b", "c", "a"]):
        with pytest.warns(SingularVarianceWarning):
            other = logrank_test(t, e, np.array(order)[g], strata=s)
        assert other.df == base.df == 1
        np.testing.assert_allclose(other.statistic, base.statistic, rtol=1e-9)


def test_a_variance_of_rounding_alone_is_singular_not_a_crash():
    """Each stratum holds one group: the variance is rounding (about 1e-17), the test has no df
    (a case hypothesis found: np.linalg.solve raised on it)."""
    t = np.array([0.03285421, 0, 0, 0, 0.03285421, 0.03285421, 0, 0.03285421, 0, 0.03285421, 0])
    e = np.array([0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    g = np.array([1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0])
    for rho in (0.0, 1.0):
        with pytest.warns(SingularVarianceWarning):
            result = logrank_test(t, e, g, strata=g.copy(), rho=rho)
        assert result.df == 0 and np.isnan(result.p_value)
