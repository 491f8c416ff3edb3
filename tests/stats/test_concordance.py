"""concordance_index against a brute-force pair count (R concordancefit definitions)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nenstudy.stats.concordance import concordance_detail, concordance_index


def _brute_force(time, event, score, strata):
    """O(n^2) pairs: comparable when the shorter time is an event (censored at the same time
    counts as longer, tied events are not pairs); returns R's (c, std_err)."""
    n = time.size
    conc = np.zeros(n)
    disc = np.zeros(n)
    tied = np.zeros(n)
    for i in range(n):
        if not event[i]:
            continue
        for j in range(n):
            if i == j or strata[i] != strata[j]:
                continue
            later = time[j] > time[i] or (time[j] == time[i] and not event[j])
            if not later:
                continue
            # "higher score, earlier event" is concordant
            if score[i] > score[j]:
                conc[i] += 1
                conc[j] += 1
            elif score[i] < score[j]:
                disc[i] += 1
                disc[j] += 1
            else:
                tied[i] += 1
                tied[j] += 1
    c_total, d_total, t_total = conc.sum() / 2, disc.sum() / 2, tied.sum() / 2
    npair = c_total + d_total + t_total
    if npair == 0:
        return np.nan, np.nan, (0.0, 0.0, 0.0)
    somers = (c_total - d_total) / npair
    dfbeta = (conc - disc) / npair - somers / npair * (conc + disc + tied)
    return (c_total + t_total / 2) / npair, np.sqrt(np.sum(dfbeta**2) / 4), (c_total, d_total, t_total)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(5, 40),
    seed=st.integers(0, 10_000),
    n_times=st.integers(1, 8),
    n_scores=st.integers(1, 6),
    n_strata=st.integers(1, 3),
)
def test_matches_brute_force_with_ties_and_strata(n, seed, n_times, n_scores, n_strata):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, n_times + 1, n).astype(float)
    event = rng.integers(0, 2, n)
    event[0] = 1
    score = rng.integers(0, n_scores, n) * 0.5
    strata = rng.integers(0, n_strata, n)
    expected_c, expected_se, counts = _brute_force(time, event, score, strata)
    if sum(counts) == 0:
        assert np.isnan(concordance_index(time, event, score, strata).c)
        return
    result = concordance_detail(time, event, score, strata)
    assert (result.concordant, result.discordant, result.tied_x) == pytest.approx(counts)
    assert result.c == pytest.approx(expected_c, rel=1e-12)
    assert result.std_err == pytest.approx(expected_se, rel=1e-9, abs=1e-15)


def test_perfect_prediction_gives_one():
    time = np.arange(1.0, 21.0)
    event = np.ones(20)
    assert concordance_index(time, event, -time).c == pytest.approx(1.0)
    assert concordance_index(time, event, time).c == pytest.approx(0.0)


def test_constant_score_gives_one_half():
    rng = np.random.default_rng(2)
    time = rng.integers(1, 30, 50).astype(float)
    event = rng.integers(0, 2, 50)
    assert concordance_index(time, event, np.zeros(50)).c == pytest.approx(0.5)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), seed=st.integers(0, 10_000))
def test_dominance_count_packed_and_general_paths_agree_with_brute_force(n, seed):
    from nenstudy.stats.concordance import _count_dominated

    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 3, n)
    first = rng.integers(0, 7, n)
    second = rng.integers(0, 9, n)
    weight = rng.integers(0, 2, n).astype(float)
    expected = np.array(
        [
            sum(weight[j] for j in range(n)
                if stratum[j] == stratum[i] and first[j] < first[i] and second[j] < second[i])
            for i in range(n)
        ]
    )
    np.testing.assert_allclose(_count_dominated(stratum, first, second, weight), expected)
    np.testing.assert_allclose(_count_dominated(stratum, first, second, weight * 0.5) * 2, expected)
