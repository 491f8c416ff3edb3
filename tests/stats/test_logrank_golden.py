"""Log-rank / G-rho tests and the trend test agree with R survival 3.5 survdiff (golden fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nenstudy.stats import logrank_test, logrank_trend_test

FIXTURES = Path(__file__).parent / "fixtures"
RTOL = 1e-6


def _decode(value):
    if value is None:
        return float("nan")
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def _entries():
    out = []
    for path in sorted(FIXTURES.glob("logrank_*.json")):
        fixture = _decode(json.loads(path.read_text()))
        for entry in fixture["tests"]:
            label = f"{fixture['case']}-rho{entry['rho']:g}-{'strat' if entry['stratified'] else 'plain'}"
            out.append(pytest.param(fixture["case"], entry, id=label))
    return out


def _data(case: str) -> pd.DataFrame:
    data = pd.read_csv(FIXTURES / "km_inputs" / f"{case}.csv", engine="pyarrow")
    if "score" in data:
        data = data[data["score"].notna()]
    return data


def _close(actual, expected, what):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=RTOL, atol=1e-10, err_msg=what
    )


def _run(case, entry):
    data = _data(case)
    strata = data["strata"] if entry["stratified"] else None
    return data, logrank_test(data["time"], data["status"], data["group"], strata=strata, rho=entry["rho"])


def test_logrank_fixtures_are_present_with_their_inputs():
    entries = _entries()
    assert entries
    assert all((FIXTURES / "km_inputs" / f"{p.values[0]}.csv").is_file() for p in entries)


@pytest.mark.parametrize(("case", "entry"), _entries())
def test_logrank_observed_expected_variance_match_r_survdiff(case, entry):
    _, lr = _run(case, entry)
    labels = [str(g) for g in lr.observed.index]
    order = [labels.index(str(g)) for g in np.atleast_1d(entry["groups"])]
    _close(lr.observed.to_numpy()[order], np.atleast_1d(entry["observed"]), "observed")
    _close(lr.expected.to_numpy()[order], np.atleast_1d(entry["expected"]), "expected")
    k = len(order)
    r_var = np.asarray(entry["variance"], dtype=float).reshape(k, k, order="F")
    _close(lr.variance.to_numpy()[np.ix_(order, order)], r_var, "variance")
    np.testing.assert_array_equal(lr.n.to_numpy()[order], np.atleast_1d(entry["n"]))


@pytest.mark.parametrize(("case", "entry"), _entries())
def test_logrank_statistic_and_p_value_match_r_survdiff(case, entry):
    _, lr = _run(case, entry)
    if entry["df"] < 1:  # degenerate: R reports df <= 0 and a NaN/0 p-value
        assert lr.statistic == 0 and lr.df == 0 and np.isnan(lr.p_value)
        return
    assert lr.df == entry["df"]
    _close(lr.statistic, entry["statistic"], "statistic")
    _close(lr.p_value, entry["p_value"], "p_value")
    assert lr.rho == entry["rho"]
    assert (lr.strata is not None) == entry["stratified"]


@pytest.mark.parametrize(
    ("case", "entry"), [p for p in _entries() if "trend" in p.values[1]]
)
def test_logrank_trend_matches_r_survdiff_contrast(case, entry):
    data = _data(case)
    strata = data["strata"] if entry["stratified"] else None
    trend = logrank_trend_test(data["time"], data["status"], data["score"], strata=strata)
    ref = entry["trend"]
    _close(trend.u, ref["u"], "U")
    _close(trend.variance, ref["variance"], "V")
    _close(trend.statistic, ref["statistic"], "statistic")
    _close(trend.p_value, ref["p_value"], "p_value")
    assert trend.df == 1
