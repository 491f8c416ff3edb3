"""Tests of the number formats shared by the report's tables, figures and text."""

from nenstudy.report.formatting import fmt_hr_ci, fmt_level, fmt_median_ci, fmt_p, fmt_pct, fmt_rate_ci


def test_p_below_one_in_a_thousand_is_bounded():
    assert fmt_p(0.0004) == "<0.001"


def test_p_below_point_one_keeps_three_decimals():
    assert fmt_p(0.048) == "0.048"


def test_p_from_point_one_keeps_two_decimals():
    assert fmt_p(0.41) == "0.41"


def test_null_median_is_not_reached():
    assert fmt_median_ci(None, [13.2, None]) == "NR (13.2–NR)"


def test_median_with_ci():
    assert fmt_median_ci(15.4, [13.2, 18.5]) == "15.4 (13.2–18.5)"


def test_rate_with_ci_as_percentages():
    assert fmt_rate_ci(0.3897, 0.307, 0.4768) == "39.0% (30.7–47.7%)"


def test_hazard_ratio_two_decimals():
    assert fmt_hr_ci(2.1, 1.4, 3.2) == "2.10 (1.40–3.20)"


def test_percentage_of_fraction():
    assert fmt_pct(0.595) == "59.5%"


def test_confidence_level_is_a_whole_percentage():
    assert (fmt_level(0.9), fmt_level(0.95), fmt_level(None)) == ("90%", "95%", "95%")
