"""Tests of the study-expression whitelist (nenstudy.study.sqlcheck)."""

from __future__ import annotations

import pytest

from nenstudy.study.fields import STUDY_FIELDS
from nenstudy.study.sqlcheck import ExpressionError, check_expression


def _check(text: str, kind: str = "condition"):
    return check_expression(text, STUDY_FIELDS, kind=kind)


def test_window_condition_is_reemitted_from_the_tree():
    checked = _check("mdt_date BETWEEN DATE '2018-10-01' AND DATE '2022-08-31'")
    assert checked.sql == "mdt_date BETWEEN CAST('2018-10-01' AS DATE) AND CAST('2022-08-31' AS DATE)"
    assert checked.columns == ("mdt_date",)


def test_column_names_are_case_insensitive_and_normalised():
    assert _check("KI67_PCT > 55").sql == "ki67_pct > 55"


def test_in_not_and_boolean_fields_are_allowed():
    checked = _check("who_category IN ('NEC', 'MiNEN') AND NOT pure_histology")
    assert checked.columns == ("pure_histology", "who_category")


def test_case_label_expression_gives_a_string():
    checked = _check("CASE WHEN ecog_ps <= 1 THEN '0-1' ELSE '2-4' END", kind="label")
    assert checked.value_type == "string"


def test_date_diff_and_extract_are_allowed():
    _check("date_diff('day', diagnosis_date, mdt_date) <= 90 AND EXTRACT(YEAR FROM mdt_date) >= 2018")


def test_portable_rendering_for_another_engine():
    checked = _check("coalesce(resectable, FALSE) OR ki67_pct IS NULL")
    assert "COALESCE" in checked.to_dialect("postgres")


@pytest.mark.parametrize(
    "text, message",
    [
        ("1; DROP TABLE patients", "';' is not allowed"),
        ("DROP TABLE patients", "statement (DROP)"),
        ("SELECT * FROM patients", "statement (SELECT)"),
        ("ki67_pct IN (SELECT ki67_pct FROM diagnoses)", "subqueries"),
        ("EXISTS (SELECT 1)", "subqueries"),
        ("ki67_pct > 1 UNION SELECT 1", "statement (UNION)"),
        ("ki67_pct > 55 -- and more", "comments"),
        ("ki67_pct > 55 /* x */", "comments"),
        ("ki67_pct > ?", "parameters"),
        ("ki67 > 55", "unknown column 'ki67'; did you mean ki67_pct"),
        ("patient_id = 'X123'", "unknown column 'patient_id'"),
        ("diagnoses.ki67_pct > 55", "qualified column names"),
        ("foo(ki67_pct) > 1", "unknown function 'FOO'"),
        ("sqrt(ki67_pct) > 1", "function 'SQRT' is not allowed"),
        ("read_csv('/etc/passwd') IS NULL", "is not allowed"),
        ("current_date > diagnosis_date", "function 'CURRENT_DATE' is not allowed"),
        ("ki67_pct", "expected a boolean condition"),
        ("ki67_pct >", "not a valid SQL expression"),
        ("", "empty"),
        ("sex = \"F\"", "single quotes"),
    ],
)
def test_hostile_or_mistaken_expressions_are_rejected_with_a_clear_message(text, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*").replace("?", r"\?")):
        _check(text)


def test_semicolon_inside_a_string_literal_is_just_text():
    assert _check("primary_site = 'C25;9'").sql == "primary_site = 'C25;9'"


def test_double_dash_inside_a_string_literal_is_just_text():
    _check("notes_free = 'a--b'".replace("notes_free", "primary_site"))


def test_number_kind_rejects_text():
    with pytest.raises(ExpressionError, match="numeric"):
        _check("sex", kind="number")


def test_cast_to_a_non_scalar_type_is_rejected():
    with pytest.raises(ExpressionError, match="CAST to"):
        _check("CAST(ki67_pct AS BLOB) IS NULL")


@pytest.mark.parametrize(("text", "hint"), [
    ("who_category = 'nec'", "did you mean 'NEC'?"),
    ("'Net G3' <> who_category", "did you mean 'NET G3'?"),
    ("first_line_best_response IN ('CR', 'pr')", "did you mean 'PR'?"),
    ("site_group = 'pancreas'", "GEP"),
])
def test_a_code_that_is_none_of_the_fields_codes_is_an_error(text, hint):
    """The condition would hold for no row without a word (a cohort of 0)."""
    with pytest.raises(ExpressionError, match="is not a code of") as caught:
        check_expression(text, STUDY_FIELDS)
    assert hint in str(caught.value)


@pytest.mark.parametrize("text", [
    "who_category IN ('NEC', 'MiNEN')", "stage <> 'metastatic'", "lower(who_category) = 'nec'",
    "primary_site = 'C25.9'", "first_line_regimen = 'platinum_etoposide'",
])
def test_codes_as_written_and_uncoded_fields_pass(text):
    check_expression(text, STUDY_FIELDS)
