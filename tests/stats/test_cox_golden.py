"""Golden tests: cox_ph against R survival 3.5 coxph, concordance and cox.zph.

Fixtures and inputs are produced by ``tests/stats/r/make_cox_fixtures.R`` (committed); these
tests read only the JSON and CSV files, so CI needs no R.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nenstudy.stats import MonotoneLikelihoodWarning, SingularDesignWarning, cox_ph

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "stats" / "fixtures").glob("cox_*.json"))
RTOL = 1e-6

_VECTOR_FIELDS = (
    "covariates",
    "terms",
    "coef",
    "se",
    "z",
    "p",
    "hazard_ratio",
    "lower",
    "upper",
    "warnings",
)


def _load(path: Path) -> dict:
    fixture = json.loads(path.read_text())
    # jsonlite unboxes length-one vectors; put them back into lists
    for key in _VECTOR_FIELDS:
        if not isinstance(fixture.get(key), list):
            fixture[key] = [] if fixture.get(key) is None else [fixture[key]]
    if isinstance(fixture.get("strata"), str):
        fixture["strata"] = [fixture["strata"]]
    zph = fixture.get("zph")
    if zph:
        for key in ("terms", "chisq", "df", "p"):
            if not isinstance(zph[key], list):
                zph[key] = [zph[key]]
    return fixture


def _fit(fixture: dict):
    data = pd.read_csv(ROOT / fixture["data"], engine="pyarrow")
    for column, levels in (fixture.get("factors") or {}).items():
        data[column] = pd.Categorical(data[column], categories=levels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cox_ph(
            data,
            duration=fixture["duration"],
            event=fixture["event"],
            covariates=fixture["covariates"],
            ties=fixture["ties"],
            strata=fixture["strata"],
        )
    return result, caught


_SPECIAL = {"NA": np.nan, "NaN": np.nan, "Inf": np.inf, "-Inf": -np.inf}


def _as_float(values) -> np.ndarray:
    """JSON numbers to floats; R's NA/NaN/Inf arrive as strings (jsonlite ``na = "string"``)."""
    if isinstance(values, np.ndarray):
        return values.astype(float)
    items = values if isinstance(values, list) else [values]
    return np.array([np.nan if v is None else _SPECIAL.get(v, v) for v in items], dtype=float)


def _assert_close(actual, expected, what: str) -> None:
    expected = _as_float(expected)
    actual = np.asarray(actual, dtype=float)
    assert actual.shape == expected.shape, what
    missing = np.isnan(expected)
    assert np.array_equal(np.isnan(actual), missing), f"{what}: NaN pattern differs"
    infinite = np.isinf(expected)
    assert np.array_equal(actual[infinite], expected[infinite]), f"{what}: infinities differ"
    finite = ~missing & ~infinite
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=RTOL, atol=0, err_msg=what)


@pytest.fixture(scope="module", params=FIXTURES, ids=[p.stem for p in FIXTURES])
def case(request):
    fixture = _load(request.param)
    result, caught = _fit(fixture)
    return fixture, result, caught


def test_fixtures_present():
    assert len(FIXTURES) >= 20


def test_terms_follow_r_naming(case):
    fixture, result, _ = case
    assert list(result.params.index) == fixture["terms"]


@pytest.mark.parametrize(
    "column, key",
    [
        ("coef", "coef"),
        ("se", "se"),
        ("z", "z"),
        ("p_value", "p"),
        ("hazard_ratio", "hazard_ratio"),
        ("lower", "lower"),
        ("upper", "upper"),
    ],
)
def test_coefficient_table_matches_r(case, column, key):
    fixture, result, _ = case
    expected = _as_float(fixture[key])
    if key == "se":  # R reports se = 0 for an aliased (NA) coefficient; we report NaN
        expected[np.isnan(_as_float(fixture["coef"]))] = np.nan
    _assert_close(result.params[column].to_numpy(), expected, column)


def test_logliks_match_r(case):
    fixture, result, _ = case
    _assert_close([result.loglik_null, result.loglik], fixture["loglik"], "loglik")


def test_counts_are_exact(case):
    fixture, result, _ = case
    assert result.n == fixture["n"]
    assert result.events == fixture["nevent"]
    assert result.n_dropped == fixture["n_dropped"]
    assert result.iterations == fixture["iter"]


@pytest.mark.parametrize(
    "attribute, key", [("lr_test", "logtest"), ("wald_test", "waldtest"), ("score_test", "sctest")]
)
def test_global_tests_match_r(case, attribute, key):
    fixture, result, _ = case
    test = getattr(result, attribute)
    expected = fixture[key]
    assert test.df == expected[1]
    _assert_close([test.statistic, test.p_value], [expected[0], expected[2]], attribute)


def test_concordance_matches_r(case):
    fixture, result, _ = case
    _assert_close(list(result.concordance[:2]), fixture["concordance"], "concordance")


def test_ph_test_matches_cox_zph(case):
    fixture, result, _ = case
    zph = fixture["zph"]
    if not zph:  # R stops: the time transform is constant over the events
        with pytest.raises(ValueError, match="singular"):
            result.ph_test()
        return
    table = result.ph_test()
    assert list(table.index) == zph["terms"]
    assert table["df"].tolist() == zph["df"]
    _assert_close(table["chisq"].to_numpy(), zph["chisq"], "zph chisq")
    _assert_close(table["p_value"].to_numpy(), zph["p"], "zph p")


def test_ties_and_conf_level_echoed(case):
    fixture, result, _ = case
    assert result.ties == fixture["ties"]
    assert result.conf_level == 0.95


def test_warns_exactly_when_r_warns_of_infinite_coefficient(case):
    fixture, _, caught = case
    r_warned = any("may be infinite" in w for w in fixture["warnings"])
    we_warned = any(issubclass(w.category, MonotoneLikelihoodWarning) for w in caught)
    assert we_warned == r_warned


ALIASED = [p for p in FIXTURES if np.isnan(_as_float(_load(p)["coef"])).any()]


def test_some_fixture_has_an_aliased_column():
    assert ALIASED, "the collinear-design fixture is missing"


@pytest.mark.parametrize("path", ALIASED, ids=[p.stem for p in ALIASED])
def test_aliased_column_warns_and_is_nan(path):
    fixture = _load(path)
    result, caught = _fit(fixture)
    aliased = np.isnan(_as_float(fixture["coef"]))
    assert any(issubclass(w.category, SingularDesignWarning) for w in caught)
    assert np.isnan(result.params["coef"].to_numpy()[aliased]).all()
