"""Tests of small-number suppression (one function, used by every table and figure label)."""

import pytest

from nenstudy.report.formatting import fmt_count_pct, fmt_ratio
from nenstudy.report.suppression import is_suppressed, suppress_count


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_counts_from_one_to_k_minus_one_become_less_than_k(n):
    assert suppress_count(n, 5) == "<5"


def test_zero_stays_zero():
    assert suppress_count(0, 5) == 0


def test_count_equal_to_threshold_is_shown():
    assert suppress_count(5, 5) == 5


def test_no_threshold_shows_every_count():
    assert [suppress_count(n, None) for n in (0, 1, 4)] == [0, 1, 4]


def test_none_passes_through():
    assert suppress_count(None, 5) is None


def test_non_integer_count_is_rejected():
    with pytest.raises(TypeError, match="integer count"):
        suppress_count(2.5, 5)


def test_percentage_of_a_suppressed_count_is_hidden():
    assert fmt_count_pct(3, 0.3, 5) == "<5 (—)"


def test_percentage_over_a_suppressed_denominator_is_hidden():
    assert fmt_count_pct(0, 0.0, 5, denominator=3) == "0 (—)"
    assert is_suppressed(3, 5)


def test_percentage_of_a_shown_count_is_kept():
    assert fmt_count_pct(12, 0.4, 5) == "12 (40.0%)"


def test_ratio_hides_percentage_when_numerator_suppressed():
    assert fmt_ratio(1, 25, 5) == "<5/25 (—)"
