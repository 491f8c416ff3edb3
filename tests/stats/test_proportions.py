"""Binomial confidence intervals agree with R binom.test and prop.test(correct=FALSE)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nenstudy.stats import binomial_ci

CASES = json.loads((Path(__file__).parent / "fixtures" / "binom_ci.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['k']}of{c['n']}@{c['conf_level']}")
@pytest.mark.parametrize("method", ["exact", "wilson"])
def test_binomial_ci_matches_r(case, method):
    res = binomial_ci(case["k"], case["n"], method=method, conf_level=case["conf_level"])
    np.testing.assert_allclose([res.lower, res.upper], case[method], rtol=1e-6, atol=1e-12)
    assert res.estimate == case["k"] / case["n"]


def test_binomial_ci_unpacks_as_estimate_lower_upper():
    estimate, lower, upper = binomial_ci(7, 20)
    assert (estimate, lower, upper) == tuple(binomial_ci(7, 20))
    assert lower < estimate < upper


def test_binomial_ci_echoes_options():
    res = binomial_ci(3, 10, method="wilson", conf_level=0.9)
    assert (res.k, res.n, res.method, res.conf_level) == (3, 10, "wilson", 0.9)
    assert "Wilson" in res.summary()


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (1, 0), (1.5, 4)])
def test_binomial_ci_rejects_invalid_counts(k, n):
    with pytest.raises(ValueError):
        binomial_ci(k, n)


def test_binomial_ci_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        binomial_ci(1, 4, method="wald")
