"""Tests of study-definition loading and validation (nenstudy.study.definition)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nenstudy.paths import default_study
from nenstudy.study.definition import StudyDefinitionError, load_study, parse_study

EPNEC = default_study()


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = EPNEC.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "study.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_bundled_epnec_study_loads():
    study = load_study(EPNEC)
    assert [s.name for s in study.steps] == ["nen_mdt", "nec", "pure_histology", "extrapulmonary"]
    assert [s.name for s in study.subsets] == ["advanced", "first_line"]
    assert study.endpoints["os"].origin == "diagnosis"
    assert study.analysis.conf_type == "log-log"


def test_ki67_cutpoints_give_left_closed_groups():
    grouping = load_study(EPNEC).groupings["ki67_group"]
    assert grouping.levels == ("<20", "20-<55", ">=55")
    assert "ki67_pct < 55.0 THEN '20-<55'" in grouping.expr.sql


def test_published_block_is_labelled_and_keeps_order():
    published = load_study(EPNEC).published
    assert published is not None and "J Neuroendocrinol" in published.source
    assert published.items[0].key == "nen_mdt" and published.items[0].value == 1594


def test_study_hash_is_of_the_file_bytes():
    import hashlib

    assert load_study(EPNEC).sha256 == hashlib.sha256(EPNEC.read_bytes()).hexdigest()


def test_unknown_column_names_file_key_and_column(tmp_path):
    path = _variant(tmp_path, "where = \"who_category = 'NEC'\"", "where = \"who_cat = 'NEC'\"")
    with pytest.raises(StudyDefinitionError) as err:
        load_study(path)
    message = str(err.value)
    assert str(path) in message and "cohort.steps[1].where" in message and "unknown column 'who_cat'" in message


def test_statement_injection_is_rejected(tmp_path):
    path = _variant(tmp_path, 'where = "site_group <> \'lung\'"', 'where = "1; DROP TABLE patients"')
    with pytest.raises(StudyDefinitionError, match=r"cohort\.steps\[3\]\.where: ';' is not allowed"):
        load_study(path)


def test_subquery_is_rejected(tmp_path):
    path = _variant(tmp_path, 'where = "advanced"', 'where = "ki67_pct IN (SELECT ki67_pct FROM diagnoses)"')
    with pytest.raises(StudyDefinitionError, match=r"subsets\[0\]\.where: subqueries"):
        load_study(path)


def test_function_outside_whitelist_is_rejected(tmp_path):
    path = _variant(tmp_path, 'expr = "site_group"', 'expr = "md5(site_group)"')
    with pytest.raises(StudyDefinitionError, match=r"groupings\.site_group\.expr: function 'MD5' is not allowed"):
        load_study(path)


def test_missing_required_key_is_named(tmp_path):
    path = _variant(tmp_path, 'where = "advanced"\n', "")
    with pytest.raises(StudyDefinitionError, match=r"subsets\[0\]\.where: missing; expected an SQL expression"):
        load_study(path)


def test_unknown_key_is_named_with_the_expected_ones(tmp_path):
    path = _variant(tmp_path, 'conf_type = "log-log"', 'conf_typ = "log-log"')
    with pytest.raises(StudyDefinitionError, match=r"analysis\.conf_typ: unknown key in \[analysis\]"):
        load_study(path)


def test_wrong_option_value_lists_the_choices(tmp_path):
    path = _variant(tmp_path, 'origin = "diagnosis"', 'origin = "birth"')
    with pytest.raises(StudyDefinitionError, match=r"endpoints\.os\.origin: expected one of 'diagnosis', 'mdt', 'first_line_start'"):
        load_study(path)


def test_unknown_grouping_in_stratified_list_is_named(tmp_path):
    path = _variant(tmp_path, 'os = ["ki67_group",', 'os = ["ki67_groups",')
    with pytest.raises(StudyDefinitionError, match=r"analysis\.stratified\.os: unknown grouping or variable 'ki67_groups'"):
        load_study(path)


def test_unknown_agent_in_regimen_class_is_named(tmp_path):
    path = _variant(tmp_path, 'all_of = ["topotecan"]', 'all_of = ["topotecane"]')
    with pytest.raises(StudyDefinitionError, match=r"regimen_classes\[6\]\.all_of: unknown agent 'topotecane'"):
        load_study(path)


def test_decreasing_cutpoints_are_rejected(tmp_path):
    path = _variant(tmp_path, "cutpoints = [20, 55]", "cutpoints = [55, 20]")
    with pytest.raises(StudyDefinitionError, match="increasing"):
        load_study(path)


def test_subset_of_an_undefined_population_is_rejected(tmp_path):
    path = _variant(tmp_path, 'of = "advanced"', 'of = "metastatic_only"')
    with pytest.raises(StudyDefinitionError, match=r"subsets\[1\]\.of: expected 'cohort' or an earlier subset"):
        load_study(path)


def test_conf_level_outside_unit_interval_is_rejected(tmp_path):
    path = _variant(tmp_path, "conf_level = 0.95", "conf_level = 95")
    with pytest.raises(StudyDefinitionError, match=r"analysis\.conf_level: expected a number in \(0, 1\)"):
        load_study(path)


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[study\nname = 1", encoding="utf-8")
    with pytest.raises(StudyDefinitionError, match=re.escape(str(path)) + ": not valid TOML"):
        load_study(path)


def test_missing_file_is_a_study_definition_error(tmp_path):
    with pytest.raises(StudyDefinitionError, match="cannot read the study file"):
        load_study(tmp_path / "absent.toml")


def test_minimal_study_uses_documented_defaults():
    study = parse_study(
        """
[study]
name = "mini"
title = "Mini"
[[cohort.steps]]
name = "all"
where = "TRUE"
[groupings.sex]
expr = "sex"
levels = ["F", "M"]
[endpoints.os]
[endpoints.pfs]
[treatment]
eligible = "cohort"
treated = "cohort"
[[treatment.regimen_classes]]
name = "platinum_etoposide"
all_of = ["etoposide"]
"""
    )
    assert study.analysis.conf_type == "log-log" and study.analysis.ties == "efron"
    assert study.endpoints["pfs"].censor == "last_assessment"
    assert study.endpoints["pfs"].no_assessment == "last_contact"


def test_study_format_doc_lists_the_current_fields():
    from nenstudy.study.fields import fields_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "study-format.md").read_text(encoding="utf-8")
    start = doc.index("-->\n", doc.index("<!-- fields:start")) + 4
    end = doc.index("<!-- fields:end -->")
    assert doc[start:end] == fields_markdown()
