"""Kaplan-Meier results agree with R survival 3.5 (fixtures from tests/stats/r/make_km_logrank_fixtures.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nenstudy.stats import kaplan_meier, median_follow_up

FIXTURES = Path(__file__).parent / "fixtures"
RTOL = 1e-6
CASES = sorted(p.stem[len("km_"):] for p in FIXTURES.glob("km_*.json"))
CONF_TYPES = ["log-log", "log", "plain"]


def _decode(value):
    if value is None:
        return float("nan")
    if isinstance(value, str) and value in ("Inf", "-Inf"):
        return float(value.lower())
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def _fixture(case: str) -> dict:
    return _decode(json.loads((FIXTURES / f"km_{case}.json").read_text()))


def _data(case: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "km_inputs" / f"{case}.csv", engine="pyarrow")


def _close(actual, expected, what: str) -> None:
    a = np.atleast_1d(np.asarray(actual, dtype=float))
    e = np.atleast_1d(np.asarray(expected, dtype=float))
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a, e, rtol=RTOL, atol=1e-12, equal_nan=True, err_msg=what)


def _exact(actual, expected, what: str) -> None:
    np.testing.assert_array_equal(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), err_msg=what)


def test_every_km_input_has_an_r_fixture():
    inputs = {p.stem for p in (FIXTURES / "km_inputs").glob("*.csv")}
    assert CASES and set(CASES) == inputs


@pytest.fixture(params=[(c, ct) for c in CASES for ct in CONF_TYPES], ids=lambda p: f"{p[0]}-{p[1]}")
def case(request):
    name, conf_type = request.param
    data = _data(name)
    fit = kaplan_meier(data["time"], data["status"], conf_type=conf_type)
    return fit, _fixture(name)["km"][conf_type], data, conf_type


def test_km_counts_match_r_exactly(case):
    fit, ref, _, _ = case
    assert fit.n == ref["n"] and fit.events == ref["events"]
    table = fit.table
    for col in ("time", "n_risk", "n_event", "n_censor"):
        _exact(table[col], np.atleast_1d(ref["table"][col]), col)


def test_km_survival_and_greenwood_match_r(case):
    fit, ref, _, _ = case
    _close(fit.table["survival"], ref["table"]["survival"], "survival")
    _close(fit.std_err_log, ref["table"]["std_err_log"], "std_err_log")
    with np.errstate(invalid="ignore"):
        se_surv = np.asarray(ref["table"]["std_err_log"], dtype=float) * np.asarray(ref["table"]["survival"])
    _close(fit.table["std_err"], se_surv, "std_err (se of S)")


def test_km_pointwise_ci_matches_r(case):
    fit, ref, _, conf_type = case
    _close(fit.table["lower"], ref["table"]["lower"], f"lower {conf_type}")
    _close(fit.table["upper"], ref["table"]["upper"], f"upper {conf_type}")


def test_km_quantiles_match_r_quantile_survfit(case):
    fit, ref, _, _ = case
    q = ref["quantile"]
    for i, p in enumerate(np.atleast_1d(q["probs"])):
        est, lo, up = fit.quantile(float(p))
        _exact(est, np.atleast_1d(q["estimate"])[i], f"quantile {p}")
        _close(lo, np.atleast_1d(q["lower"])[i], f"quantile {p} lower")
        _close(up, np.atleast_1d(q["upper"])[i], f"quantile {p} upper")


def test_km_median_and_ci_match_r(case):
    fit, ref, _, _ = case
    _exact(fit.median, ref["median"]["estimate"], "median")
    _close(fit.median_ci, [ref["median"]["lower"], ref["median"]["upper"]], "median CI")


@pytest.mark.parametrize("extend", [False, True])
def test_km_survival_at_matches_r_summary_times(case, extend):
    fit, ref, _, _ = case
    s = ref["survival_at_extend" if extend else "survival_at"]
    out = fit.survival_at(np.atleast_1d(s["times"]), extend=extend)
    _exact(out["time"], np.atleast_1d(s["time"]), "time")
    _exact(out["n_risk"], np.atleast_1d(s["n_risk"]), "n_risk")
    _exact(out["n_event"], np.atleast_1d(s["n_event"]), "n_event")
    for col in ("survival", "std_err", "lower", "upper"):
        _close(out[col], np.atleast_1d(s[col]), col)


def test_km_rmst_matches_r_print_rmean(case):
    fit, ref, _, _ = case
    entries = ref["rmst"] if isinstance(ref["rmst"], list) else [ref["rmst"]]
    for entry in entries:
        est, se = fit.rmst(entry["tau"])
        _close(est, entry["estimate"], f"rmst tau={entry['tau']}")
        _close(se, entry["std_err"], f"se(rmst) tau={entry['tau']}")


def test_median_follow_up_matches_r_reverse_km(case):
    _, ref, data, conf_type = case
    fu = median_follow_up(data["time"], data["status"], conf_type=conf_type)
    _exact(fu.median, ref["follow_up"]["median"], "median follow-up")
    _close([fu.lower, fu.upper], [ref["follow_up"]["lower"], ref["follow_up"]["upper"]], "follow-up CI")
