"""Table-1 tests agree with R (fisher.test, chisq.test, wilcox.test, kruskal.test) and name themselves.

Reference values were computed with R 4.2.2 and are quoted inline (17 significant digits):
    fisher.test(matrix(c(3,1,4,1,5,9,2,6,5),3))$p.value
    fisher.test(matrix(c(30,25,20,18,10,15,5,12,8,30),2))$p.value
    fisher.test(matrix(c(0,3,0,2,5,0,1,1,4),3))$p.value
    fisher.test(matrix(c(10,3,2,15),2))$p.value
    chisq.test(matrix(c(3,1,4,1,5,9,2,6,5),3), correct=FALSE)
    chisq.test(matrix(c(10,3,2,15),2), correct=TRUE / FALSE)$p.value
    wilcox.test(c(1.1,2.2,3.3,4.4,5.5,6.1,7.7), c(2.5,3.5,8.1,9.2,10.3,11.4))
    wilcox.test(c(1,2,2,3,4,4,5,6), c(3,4,5,5,6,7,8,8,9))
    kruskal.test(list(c(1,2,2,3,4,4,5,6), c(3,4,5,5,6,7,8,8,9), c(1,1,2,9)))
"""

from __future__ import annotations

import numpy as np
import pytest

from nenstudy.stats.tests import chi_square_test, fisher_exact_test, kruskal_wallis_test, wilcoxon_rank_sum_test

RTOL = 1e-6


def _r_matrix(values, nrow):
    return np.asarray(values).reshape(-1, nrow).T  # R fills column by column


@pytest.mark.parametrize(
    ("values", "nrow", "expected"),
    [
        ([3, 1, 4, 1, 5, 9, 2, 6, 5], 3, 0.28236022876835465),
        ([30, 25, 20, 18, 10, 15, 5, 12, 8, 30], 2, 0.0086852343503212373),
        ([0, 3, 0, 2, 5, 0, 1, 1, 4], 3, 0.03041958041958048),
        ([10, 3, 2, 15], 2, 0.00053672411914343593),
    ],
)
def test_fisher_exact_matches_r_fisher_test(values, nrow, expected):
    res = fisher_exact_test(_r_matrix(values, nrow))
    assert res.test == "Fisher's exact test"
    np.testing.assert_allclose(res.p_value, expected, rtol=RTOL)


def test_fisher_rxc_is_exact_not_simulated():
    table = _r_matrix([3, 1, 4, 1, 5, 9, 2, 6, 5], 3)
    assert fisher_exact_test(table).p_value == fisher_exact_test(table).p_value
    assert "exact" in fisher_exact_test(table).method


def test_chi_square_matches_r_without_correction():
    res = chi_square_test(_r_matrix([3, 1, 4, 1, 5, 9, 2, 6, 5], 3))
    np.testing.assert_allclose([res.statistic, res.p_value], [5.3250000000000011, 0.25554569864697468], rtol=RTOL)
    assert res.df == 4 and res.test == "Pearson's chi-squared test"
    assert "expected counts < 5" in res.method


@pytest.mark.parametrize(("correction", "expected"), [(False, 0.00030626663018354985), (True, 0.0012210985163115088)])
def test_chi_square_2x2_correction_only_when_asked(correction, expected):
    res = chi_square_test(_r_matrix([10, 3, 2, 15], 2), correction=correction)
    np.testing.assert_allclose(res.p_value, expected, rtol=RTOL)
    assert ("Yates" in res.test) is correction


def test_wilcoxon_exact_without_ties_matches_r():
    res = wilcoxon_rank_sum_test([1.1, 2.2, 3.3, 4.4, 5.5, 6.1, 7.7], [2.5, 3.5, 8.1, 9.2, 10.3, 11.4])
    np.testing.assert_allclose([res.statistic, res.p_value], [9.0, 0.10139860139860139], rtol=RTOL)
    assert res.method == "exact" and res.test == "Wilcoxon rank-sum test"


def test_wilcoxon_with_ties_uses_corrected_normal_approximation_as_r():
    res = wilcoxon_rank_sum_test([1, 2, 2, 3, 4, 4, 5, 6], [3, 4, 5, 5, 6, 7, 8, 8, 9])
    np.testing.assert_allclose([res.statistic, res.p_value], [11.0, 0.017546961881012048], rtol=RTOL)
    assert "normal approximation" in res.method


def test_kruskal_wallis_matches_r():
    res = kruskal_wallis_test([1, 2, 2, 3, 4, 4, 5, 6], [3, 4, 5, 5, 6, 7, 8, 8, 9], [1, 1, 2, 9])
    np.testing.assert_allclose([res.statistic, res.p_value], [6.179276315789477, 0.045518421906734989], rtol=RTOL)
    assert res.df == 2 and res.test == "Kruskal-Wallis rank-sum test"


@pytest.mark.parametrize("bad", [[[1, -1], [2, 3]], [[1.5, 1], [2, 3]], [[1, 2, 3]]])
def test_table_tests_reject_invalid_tables(bad):
    with pytest.raises(ValueError):
        fisher_exact_test(bad)
    with pytest.raises(ValueError):
        chi_square_test(bad)
