"""One bad registry per validation rule: each problem is found with its file, row, column, rule."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from .conftest import good_rows, write_registry
from nenstudy.registry.validation import validate_source

Rows = dict[str, list[dict[str, str]]]


def _set(table: str, index: int, **values: str) -> Callable[[Rows], None]:
    def mutate(rows: Rows) -> None:
        rows[table][index].update(values)

    return mutate


def _append(table: str, row: dict[str, str]) -> Callable[[Rows], None]:
    def mutate(rows: Rows) -> None:
        rows[table].append(row)

    return mutate


def _drop(table: str, index: int) -> Callable[[Rows], None]:
    def mutate(rows: Rows) -> None:
        del rows[table][index]

    return mutate


# (id, mutation, severity, file, row, column, rule, text expected in the message)
CASES = [
    ("required", _set("patients", 1, sex=""),
     "error", "patients.csv", 3, "sex", "required", "required"),
    ("excel_serial_date", _set("patients", 0, birth_date="18336"),
     "error", "patients.csv", 2, "birth_date", "type.date", "Excel serial date"),
    ("ambiguous_day_month", _set("diagnoses", 0, mdt_date="03/04/2019"),
     "error", "diagnoses.csv", 2, "mdt_date", "type.date", "ambiguous day/month"),
    ("day_month_not_iso", _set("diagnoses", 0, mdt_date="23/04/2019"),
     "error", "diagnoses.csv", 2, "mdt_date", "type.date", "not an ISO date"),
    ("impossible_calendar_date", _set("treatments", 0, end_date="2019-02-30"),
     "error", "treatments.csv", 2, "end_date", "type.date", "not a valid calendar date"),
    ("year_alone", _set("patients", 0, birth_date="1965"),
     "error", "patients.csv", 2, "birth_date", "type.date", "a year alone?"),
    ("same_day_and_month", _set("diagnoses", 0, mdt_date="10/10/2019"),
     "error", "diagnoses.csv", 2, "mdt_date", "type.date", "day and month are the same"),
    ("us_month_day_order", _set("diagnoses", 0, mdt_date="02/17/2019"),
     "error", "diagnoses.csv", 2, "mdt_date", "type.date", "month/day/year order"),
    ("percent_in_whole_number", _set("diagnoses", 1, karnofsky="80%"),
     "error", "diagnoses.csv", 3, "karnofsky", "type.int", "percentage sign"),
    ("one_zero_boolean", _set("diagnoses", 2, resectable="1"),
     "error", "diagnoses.csv", 4, "resectable", "type.bool", "as REDCap and SAS export"),
    ("invisible_character_in_code", _set("patients", 1, sex="\u200bM"),
     "error", "patients.csv", 3, "sex", "allowed", "the character U+200B"),
    ("look_alike_character_in_code", _set("diagnoses", 0, primary_site="\u042125.9"),
     "error", "diagnoses.csv", 2, "primary_site", "format", "the character U+0421"),
    ("r_na_in_a_date", _set("follow_up", 1, death_date="NA"),
     "error", "follow_up.csv", 3, "death_date", "type.date", "R writes NA"),
    ("sas_dot_in_a_number", _set("molecular_tests", 1, tmb="."),
     "error", "molecular_tests.csv", 3, "tmb", "type.float", "leave the cell empty"),
    ("na_as_a_code", _set("patients", 1, sex="NA"),
     "error", "patients.csv", 3, "sex", "allowed", "R writes NA"),
    ("code_in_another_case", _set("diagnoses", 0, stage="Metastatic"),
     "error", "diagnoses.csv", 2, "stage", "allowed", "did you mean 'metastatic'?"),
    ("na_in_a_list", _set("diagnoses", 1, metastatic_sites="NA"),
     "error", "diagnoses.csv", 3, "metastatic_sites", "allowed", "R writes NA"),
    ("invisible_list_token", _set("diagnoses", 0, metastatic_sites="liver;\u200b;nodes"),
     "error", "diagnoses.csv", 2, "metastatic_sites", "allowed", "U+200B"),
    ("invisible_character_in_a_bad_token",
     _set("diagnoses", 0, metastatic_sites="liver\u00a0;lung\u200b"),
     "error", "diagnoses.csv", 2, "metastatic_sites", "allowed", "the character U+200B"),
    ("topography_in_lower_case", _set("diagnoses", 0, primary_site="c25.9"),
     "error", "diagnoses.csv", 2, "primary_site", "format", "write it in upper case: C25.9"),
    ("date_with_time", _set("follow_up", 1, last_contact_date="2022-08-01 10:00"),
     "error", "follow_up.csv", 3, "last_contact_date", "type.date", "with a time"),
    ("not_a_whole_number", _set("diagnoses", 1, karnofsky="ninety"),
     "error", "diagnoses.csv", 3, "karnofsky", "type.int", "whole number"),
    ("decimal_comma", _set("diagnoses", 0, ki67_pct="80,5"),
     "error", "diagnoses.csv", 2, "ki67_pct", "type.float", "decimal comma"),
    ("not_a_number", _set("molecular_tests", 1, tmb="high"),
     "error", "molecular_tests.csv", 3, "tmb", "type.float", "not a number"),
    ("digit_separator", _set("diagnoses", 0, ki67_pct="1_0"),
     "error", "diagnoses.csv", 2, "ki67_pct", "type.float", "digit separator"),
    ("not_finite", _set("diagnoses", 0, ki67_pct="Infinity"),
     "error", "diagnoses.csv", 2, "ki67_pct", "type.float", "not a finite number"),
    ("underflow_to_zero", _set("molecular_tests", 1, tmb="1e-400"),
     "error", "molecular_tests.csv", 3, "tmb", "type.float", "too small to be stored"),
    ("whole_number_too_long", _set("diagnoses", 1, karnofsky="99999999999"),
     "error", "diagnoses.csv", 3, "karnofsky", "type.int", "at most 9"),
    ("boolean_not_true_false", _set("diagnoses", 2, resectable="no"),
     "error", "diagnoses.csv", 4, "resectable", "type.bool", "true or false"),
    ("unknown_code", _set("patients", 2, sex="X"),
     "error", "patients.csv", 4, "sex", "allowed", "expected one of: F, M"),
    ("unknown_list_token", _set("diagnoses", 0, metastatic_sites="liver;spleen"),
     "error", "diagnoses.csv", 2, "metastatic_sites", "allowed", "spleen"),
    ("repeated_list_token", _set("diagnoses", 0, metastatic_sites="liver;nodes;liver"),
     "error", "diagnoses.csv", 2, "metastatic_sites", "list.repeated", "listed more than once: liver"),
    ("repeated_agent", _set("treatments", 0, agents="cisplatin;etoposide;cisplatin"),
     "error", "treatments.csv", 2, "agents", "list.repeated", "listed more than once: cisplatin"),
    ("unknown_agent", _set("treatments", 0, agents="carboplatin;etopside"),
     "error", "treatments.csv", 2, "agents", "allowed", "etopside"),
    ("topography_format", _set("diagnoses", 1, primary_site="C171"),
     "error", "diagnoses.csv", 3, "primary_site", "format", "Cnn.n"),
    ("topography_beyond_c80", _set("diagnoses", 1, primary_site="C99.9"),
     "error", "diagnoses.csv", 3, "primary_site", "format", "C00.0 to C80.9"),
    ("topography_secondary_icd10", _set("diagnoses", 1, primary_site="C78.7"),
     "error", "diagnoses.csv", 3, "primary_site", "format", "not an ICD-O-3 topography"),
    ("topography_gap", _set("diagnoses", 1, primary_site="C27.0"),
     "error", "diagnoses.csv", 3, "primary_site", "format", "not an ICD-O-3 topography"),
    ("topography_c80_not_9", _set("diagnoses", 1, primary_site="C80.1"),
     "error", "diagnoses.csv", 3, "primary_site", "format", "only C80.9"),
    ("year_0000", _set("molecular_tests", 0, test_date="0000-01-01"),
     "error", "molecular_tests.csv", 2, "test_date", "date.range", "before 1900-01-01"),
    ("date_in_the_future", _set("follow_up", 0, last_contact_date="2999-01-01"),
     "error", "follow_up.csv", 2, "last_contact_date", "date.range", "after today"),
    ("ki67_out_of_range", _set("diagnoses", 0, ki67_pct="150"),
     "error", "diagnoses.csv", 2, "ki67_pct", "range", "0-100"),
    ("ecog_out_of_range", _set("diagnoses", 0, ecog_ps="7"),
     "error", "diagnoses.csv", 2, "ecog_ps", "range", "0-5"),
    ("karnofsky_not_multiple_of_10", _set("diagnoses", 1, karnofsky="85"),
     "error", "diagnoses.csv", 3, "karnofsky", "range", "multiple of 10"),
    ("duplicate_key", _set("diagnoses", 2, diagnosis_id="D001"),
     "error", "diagnoses.csv", 4, "diagnosis_id", "unique", "2 rows"),
    ("orphan_row", _set("molecular_tests", 2, patient_id="P999"),
     "error", "molecular_tests.csv", 4, "patient_id", "foreign_key", "orphan"),
    ("orphan_diagnosis_reference", _set("treatments", 2, diagnosis_id="D999"),
     "error", "treatments.csv", 4, "diagnosis_id", "foreign_key", "orphan"),
    ("diagnosis_of_another_patient", _set("treatments", 2, diagnosis_id="D001"),
     "error", "treatments.csv", 4, "diagnosis_id", "foreign_key", "another patient"),
    ("birth_not_before_diagnosis", _set("patients", 1, birth_date="2021-01-01"),
     "error", "diagnoses.csv", 3, "diagnosis_date", "date_order", "birth date"),
    ("age_over_110", _set("patients", 0, birth_date="1900-01-01"),
     "error", "diagnoses.csv", 2, "diagnosis_date", "range", "age at diagnosis"),
    ("mdt_before_diagnosis", _set("diagnoses", 1, mdt_date="2020-05-01"),
     "error", "diagnoses.csv", 3, "mdt_date", "date_order", "MDT date before"),
    ("treatment_before_diagnosis", _set("treatments", 2, start_date="2020-01-01"),
     "error", "treatments.csv", 4, "start_date", "date_order", "before the diagnosis"),
    ("progression_before_start", _set("treatments", 0, progression_date="2019-01-01"),
     "error", "treatments.csv", 2, "progression_date", "date_order", "before the start"),
    ("end_before_start", _set("treatments", 1, end_date="2019-10-01"),
     "error", "treatments.csv", 3, "end_date", "date_order", "before the start"),
    ("death_before_diagnosis",
     _set("follow_up", 0, death_date="2019-01-01", last_contact_date="2019-01-01"),
     "error", "follow_up.csv", 2, "death_date", "date_order", "before the diagnosis"),
    ("death_after_last_contact", _set("follow_up", 0, death_date="2020-04-01"),
     "error", "follow_up.csv", 2, "death_date", "date_order", "after the last contact"),
    ("last_contact_before_an_event", _set("follow_up", 2, last_contact_date="2021-01-10"),
     "error", "follow_up.csv", 4, "last_contact_date", "date_order", "diagnoses.csv row 4"),
    ("treatment_after_death",
     _set("follow_up", 0, death_date="2019-12-01", last_contact_date="2020-03-01"),
     "error", "treatments.csv", 3, "end_date", "date_order", "after the death date 2019-12-01"),
    ("test_after_death", _set("molecular_tests", 0, test_date="2020-04-01"),
     "warning", "molecular_tests.csv", 2, "test_date", "date_order", "after the death date"),
    ("test_before_birth", _set("molecular_tests", 0, test_date="1949-01-01"),
     "error", "molecular_tests.csv", 2, "test_date", "date_order", "before the birth date"),
    ("missing_marker_in_free_text", _set("treatments", 0, regimen="NA"),
     "warning", "treatments.csv", 2, "regimen", "value.missing_marker", "R writes NA"),
    ("who_category_unsettled", _set("diagnoses", 1, who_category="NET G3", ki67_pct=""),
     "warning", "diagnoses.csv", 3, "who_category", "who_category.unsettled",
     "missing Ki-67 could make it NET G3"),
    ("id_in_scientific_notation", _set("treatments", 0, treatment_id="1.23457E+15"),
     "error", "treatments.csv", 2, "treatment_id", "id.scientific", "scientific notation"),
    ("id_in_r_scientific_notation", _set("molecular_tests", 1, test_id="4.5e+11"),
     "error", "molecular_tests.csv", 3, "test_id", "id.scientific", "last digits are lost"),
    ("empty_list_item", _set("diagnoses", 0, metastatic_sites="liver;;nodes"),
     "warning", "diagnoses.csv", 2, "metastatic_sites", "list.empty_item", "read as liver;nodes"),
    ("last_contact_after_death", _set("follow_up", 0, last_contact_date="2020-06-01"),
     "warning", "follow_up.csv", 2, "last_contact_date", "date_order", "after the death date"),
    ("thousands_separator", _set("diagnoses", 0, ki67_pct="1,000"),
     "error", "diagnoses.csv", 2, "ki67_pct", "type.float", "thousands separator"),
    ("death_date_missing_when_dead", _set("follow_up", 0, death_date=""),
     "error", "follow_up.csv", 2, "death_date", "required", "dead"),
    ("death_date_given_when_alive", _set("follow_up", 1, death_date="2022-08-01"),
     "error", "follow_up.csv", 3, "death_date", "death_date.alive", "alive"),
    ("duplicate_line", _set("treatments", 1, line="1"),
     "error", "treatments.csv", 3, "line", "line.duplicate", "appears 2 times"),
    ("line_gap", _set("treatments", 1, line="3"),
     "error", "treatments.csv", 3, "line", "line.gap", "no line 2"),
    ("line_missing_for_systemic", _set("treatments", 0, line=""),
     "error", "treatments.csv", 2, "line", "required", "systemic"),
    ("line_on_surgery", _set("treatments", 2, line="1"),
     "error", "treatments.csv", 4, "line", "line.not_systemic", "surgery"),
    ("agents_missing_for_systemic", _set("treatments", 0, agents=""),
     "error", "treatments.csv", 2, "agents", "required", "systemic"),
    ("two_results_in_one_test_row", _set("molecular_tests", 1, msi_status="MSS"),
     "error", "molecular_tests.csv", 3, None, "exactly_one_result", "found 2"),
    ("gene_without_alteration", _set("molecular_tests", 0, alteration=""),
     "error", "molecular_tests.csv", 2, "alteration", "required", "gene"),
    ("patient_without_follow_up", _drop("follow_up", 2),
     "error", "patients.csv", 4, "patient_id", "follow_up.missing", "follow_up"),
    ("who_category_cannot_be_determined",
     _set("diagnoses", 1, differentiation="", who_category=""),
     "error", "diagnoses.csv", 3, "who_category", "who_category.missing", "no WHO category"),
    ("who_category_conflict", _set("diagnoses", 1, who_category="NET G2"),
     "warning", "diagnoses.csv", 3, "who_category", "who_category.conflict", "NET G1"),
    ("site_group_conflict", _set("diagnoses", 0, site_group="lung"),
     "warning", "diagnoses.csv", 2, "site_group", "site_group.conflict", "GEP"),
    ("karnofsky_ecog_conflict", _set("diagnoses", 1, ecog_ps="3"),
     "warning", "diagnoses.csv", 3, "karnofsky", "ecog.conflict", "maps to ECOG 1"),
    ("metastatic_without_sites", _set("diagnoses", 0, metastatic_sites=""),
     "warning", "diagnoses.csv", 2, "metastatic_sites", "metastatic_sites.missing", "metastatic"),
    ("sites_of_a_localized_tumour", _set("diagnoses", 1, metastatic_sites="liver"),
     "warning", "diagnoses.csv", 3, "metastatic_sites", "metastatic_sites.stage",
     "set metastases_timing to metachronous"),
    ("alteration_without_gene", _set("molecular_tests", 1, alteration="mutation"),
     "error", "molecular_tests.csv", 3, "alteration", "alteration.without_gene", "without a gene"),
    ("cell_type_of_a_well_differentiated_tumour", _set("diagnoses", 1, cell_type="small"),
     "warning", "diagnoses.csv", 3, "cell_type", "cell_type.differentiation",
     "differentiation is well"),
    ("not_evaluable_reason_with_a_response", _set("treatments", 0, ne_reason="no scan"),
     "warning", "treatments.csv", 2, "ne_reason", "ne_reason.response", "not NE"),
    ("unknown_necrosis", _set("diagnoses", 0, necrosis="seen"),
     "error", "diagnoses.csv", 2, "necrosis", "allowed", "extensive"),
    ("necrosis_by_another_name", _set("diagnoses", 0, necrosis="Punctate"),
     "error", "diagnoses.csv", 2, "necrosis", "allowed", "did you mean 'focal'?"),
    ("synchronous_metastases_of_a_localized_tumour",
     _set("diagnoses", 1, metastases_timing="synchronous"),
     "warning", "diagnoses.csv", 3, "metastases_timing", "metastases_timing.stage",
     "stage at diagnosis is localized"),
    ("metachronous_metastases_of_a_metastatic_tumour",
     _set("diagnoses", 0, metastases_timing="metachronous"),
     "warning", "diagnoses.csv", 2, "metastases_timing", "metastases_timing.stage",
     "present at diagnosis are synchronous"),
    ("unknown_primary_not_metastatic", _set("diagnoses", 1, primary_site="C80.9"),
     "warning", "diagnoses.csv", 3, "stage", "stage.unknown_primary",
     "the stage is localized"),
    ("female_site_of_a_man", _set("diagnoses", 1, primary_site="C53.9"),
     "warning", "diagnoses.csv", 3, "primary_site", "site.sex",
     "female genital organs, but the patient is recorded as male (patients.csv row 3)"),
    ("male_site_of_a_woman", _set("diagnoses", 0, primary_site="C61.9", site_group=""),
     "warning", "diagnoses.csv", 2, "primary_site", "site.sex",
     "male genital organs, but the patient is recorded as female (patients.csv row 2)"),
    ("agents_of_a_surgery", _set("treatments", 2, agents="cisplatin"),
     "warning", "treatments.csv", 4, "agents", "agents.not_systemic",
     "agents given for a surgery row"),
    ("patient_without_diagnosis",
     _append("patients", {"patient_id": "P004", "sex": "F", "birth_date": "1980-01-01"}),
     "warning", "patients.csv", 5, "patient_id", "diagnosis.missing", "no diagnosis"),
    ("later_line_starts_first", _set("treatments", 1, start_date="2019-03-01",
                                     progression_date="", end_date=""),
     "warning", "treatments.csv", 3, "start_date", "line.order", "before line 1"),
]


@pytest.mark.parametrize(
    "mutate, severity, file, row, column, rule, text",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule_reports_problem_where_it_is(
    tmp_path: Path, mutate, severity, file, row, column, rule, text
) -> None:
    rows = good_rows()
    mutate(rows)
    report = validate_source(write_registry(tmp_path / "reg", rows))
    problems = report.problems
    hit = problems[(problems["rule"] == rule) & (problems["file"] == file)]
    hit = hit[hit["row"] == row]
    hit = hit[hit["column"].isna()] if column is None else hit[hit["column"] == column]
    assert len(hit) == 1, report.render()
    assert hit.iloc[0]["severity"] == severity
    assert text in hit.iloc[0]["message"]
    assert report.ok is (severity == "warning" and report.n_errors == 0)


def test_good_registry_has_no_problems(good_registry: Path) -> None:
    report = validate_source(good_registry)
    assert report.ok and report.problems.empty, report.render()


def test_duplicate_patients_flagged_on_both_rows(tmp_path: Path) -> None:
    rows = good_rows()
    rows["patients"].append({"patient_id": "P009", "sex": "F", "birth_date": "1950-03-14"})
    rows["diagnoses"].append(dict(rows["diagnoses"][0], diagnosis_id="D009", patient_id="P009"))
    rows["follow_up"].append(dict(rows["follow_up"][0], patient_id="P009"))
    report = validate_source(write_registry(tmp_path / "reg", rows))
    dup = report.problems.query("rule == 'duplicate_patient'")
    assert list(dup["row"]) == [2, 5]
    assert set(dup["severity"]) == {"warning"}


def test_excel_serial_message_shows_the_date_it_would_be(tmp_path: Path) -> None:
    rows = good_rows()
    rows["patients"][0]["birth_date"] = "44927"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    message = report.problems.query("rule == 'type.date'").iloc[0]["message"]
    assert "2023-01-01" in message and "ISO YYYY-MM-DD" in message


def test_excel_serials_before_march_1900_count_excels_29_february(tmp_path: Path) -> None:
    rows = good_rows()
    rows["patients"][0]["birth_date"] = "1"  # Excel: 1900-01-01
    rows["patients"][1]["birth_date"] = "61"  # Excel: 1900-03-01
    report = validate_source(write_registry(tmp_path / "reg", rows))
    messages = report.problems.query("rule == 'type.date'")["message"].tolist()
    assert "1900-01-01" in messages[0] and "1900-03-01" in messages[1]


def test_a_repeated_header_column_does_not_hide_a_missing_one(tmp_path: Path) -> None:
    folder = write_registry(tmp_path / "reg")
    path = folder / "patients.csv"
    lines = path.read_text().splitlines()
    lines = ["patient_id,sex,sex"] + [line.rsplit(",", 1)[0] + ",F" for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n")
    problems = validate_source(folder).problems.query("file == 'patients.csv'")
    assert sorted(problems["rule"]) == ["column.duplicate", "column.missing"]


def test_long_values_are_cut_in_the_terminal_and_formulas_made_inert_in_the_csv(
    tmp_path: Path,
) -> None:
    rows = good_rows()
    rows["diagnoses"][0]["stage"] = "x" * 5000
    rows["diagnoses"][1]["stage"] = "=HYPERLINK(\"http://example.org\")"
    rows["diagnoses"][2]["ki67_pct"] = "-5"
    rows["diagnoses"][2]["ecog_ps"] = "-"  # a missing value written as a dash
    rows["diagnoses"][1]["karnofsky"] = "-cmd"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert "(5,000 characters)" in report.render() and "x" * 200 not in report.render()
    report.to_csv(tmp_path / "p.csv")
    text = (tmp_path / "p.csv").read_text()
    assert "x" * 5000 in text  # whole in the file
    assert "'=HYPERLINK" in text and ",-5," in text  # a negative number stays a number
    assert ",-," in text and ",'-cmd," in text  # a dash alone is no formula


def test_identifier_values_are_masked_by_default(tmp_path: Path) -> None:
    rows = good_rows()
    rows["molecular_tests"][2]["patient_id"] = "SECRET-42"
    folder = write_registry(tmp_path / "reg", rows)
    report = validate_source(folder)
    assert "SECRET-42" not in report.problems.to_csv()
    assert "SECRET-42" not in report.render()
    assert "<identifier>" in set(report.problems["value"])


def test_identifier_values_shown_when_asked(tmp_path: Path) -> None:
    rows = good_rows()
    rows["molecular_tests"][2]["patient_id"] = "SECRET-42"
    report = validate_source(write_registry(tmp_path / "reg", rows), show_identifiers=True)
    assert "SECRET-42" in set(report.problems["value"])


def test_problems_sorted_by_file_row_column(tmp_path: Path) -> None:
    rows = good_rows()
    rows["patients"][2]["sex"] = "X"
    rows["patients"][0]["birth_date"] = "1/2/1950"
    rows["diagnoses"][1]["ki67_pct"] = "-1"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    frame = report.problems
    keys = list(zip(frame["file"], frame["row"].fillna(0), frame["column"].fillna("")))
    assert keys == sorted(keys)


def test_problems_csv_has_the_documented_columns(tmp_path: Path) -> None:
    import pandas as pd

    rows = good_rows()
    rows["patients"][2]["sex"] = "X"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    report.to_csv(tmp_path / "problems.csv")
    back = pd.read_csv(tmp_path / "problems.csv")
    assert list(back.columns) == ["severity", "file", "row", "column", "value", "rule", "message"]
    assert back.iloc[0]["row"] == 4


def test_problems_csv_holds_every_problem_as_the_frame_does(tmp_path: Path) -> None:
    import pandas as pd

    rows = good_rows()
    rows["patients"][2]["sex"] = "X"
    rows["diagnoses"][1]["notes"] = 'said "later", then, no'
    rows["diagnoses"][1]["ki67_pct"] = "12,5"
    rows["treatments"][0]["line"] = "x"
    folder = write_registry(tmp_path / "reg", rows)
    (folder / "extra.csv").write_text("a\n1\n", encoding="utf-8")  # a file-level problem
    report = validate_source(folder)
    report.to_csv(tmp_path / "problems.csv")
    # The CSV says what the frame says, cell by cell, missing values as empty cells.
    expected = report.problems.to_csv(index=False, lineterminator="\n")
    assert (tmp_path / "problems.csv").read_bytes().startswith(b"\xef\xbb\xbfseverity,")
    assert (tmp_path / "problems.csv").read_text(encoding="utf-8-sig") == expected
    back = pd.read_csv(tmp_path / "problems.csv", dtype=str, keep_default_na=False)
    assert len(back) == len(report.problems) >= 4
    assert "" in set(back["row"])  # the file-level problem has no row


def test_validation_does_not_load_pandas(tmp_path: Path) -> None:
    # Validating and importing from the command line must not wait for pandas to load.
    import subprocess
    import sys

    rows = good_rows()
    rows["patients"][2]["sex"] = "X"
    folder = write_registry(tmp_path / "reg", rows)
    code = (
        "import sys; from nenstudy.registry.validation import validate_source; "
        f"r = validate_source({str(folder)!r}); r.render(); r.to_csv({str(tmp_path / 'p.csv')!r}); "
        "assert r.n_errors == 1, r.render(); "
        "assert 'pandas' not in sys.modules, 'pandas was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_report_render_states_the_row_convention(tmp_path: Path) -> None:
    rows = good_rows()
    rows["patients"][2]["sex"] = "X"
    text = validate_source(write_registry(tmp_path / "reg", rows)).render()
    assert "header is row 1" in text and "patients.csv row 4 column sex" in text


def test_an_identifier_shifted_into_another_column_is_masked(tmp_path: Path) -> None:
    rows = good_rows()
    first = rows["patients"][0]
    first["patient_id"], first["sex"] = first["sex"], first["patient_id"]  # values swapped
    report = validate_source(write_registry(tmp_path / "reg", rows))
    hit = report.problems.query("rule == 'allowed' and column == 'sex'")
    assert hit["value"].tolist() == ["<identifier>"]
    assert good_rows()["patients"][0]["patient_id"] not in report.render()
    shown = validate_source(tmp_path / "reg", show_identifiers=True).problems
    assert good_rows()["patients"][0]["patient_id"] in set(shown["value"])


def test_an_identifier_in_another_case_or_among_tokens_is_masked(tmp_path: Path) -> None:
    rows = good_rows()
    pid = rows["patients"][0]["patient_id"]
    rows["treatments"][0]["best_response"] = pid.upper()  # an unknown code, in another case
    rows["diagnoses"][0]["metastatic_sites"] = f"liver;{pid}"  # an unknown list token
    rows["diagnoses"][1]["stage"] = f"see {pid.lower()}."  # among words
    report = validate_source(write_registry(tmp_path / "reg", rows))
    text = report.problems.to_csv() + report.render()
    assert pid.lower() not in text.lower()
    values = dict(zip(report.problems["column"], report.problems["value"]))
    assert values["best_response"] == "<identifier>"
    assert values["metastatic_sites"] == "liver;<identifier>"
    assert values["stage"] == "see <identifier>."
    shown = validate_source(tmp_path / "reg", show_identifiers=True).problems
    assert pid.upper() in set(shown["value"])


def test_an_identifier_of_a_file_read_in_part_is_masked(tmp_path: Path) -> None:
    """treatments.csv has a malformed row (read without it): its identifiers still count."""
    rows = good_rows()
    rows["molecular_tests"][0]["method"] = "T002"  # a treatment_id in a coded column
    folder = write_registry(tmp_path / "reg", rows)
    path = folder / "treatments.csv"
    path.write_text(path.read_text() + "T9,P001\n")
    report = validate_source(folder)
    assert "file.partly_checked" in set(report.problems["rule"])
    hit = report.problems.query("column == 'method'")
    assert hit["value"].tolist() == ["<identifier>"]


def _renamed_patient(rows: dict, old: str, new: str) -> None:
    for table in ("patients", "diagnoses", "molecular_tests", "treatments", "follow_up"):
        for row in rows[table]:
            if row.get("patient_id") == old:
                row["patient_id"] = new


@pytest.mark.parametrize("written", [
    "patient:{id}", "{id}/D002", "#{id}", "{id}_2", "see {id}.", "{upper}", "id={id} moved",
])
def test_an_identifier_inside_other_text_is_masked(tmp_path: Path, written: str) -> None:
    """Identifiers of 6 characters or more are found inside any text."""
    rows = good_rows()
    pid = "NEN-7a01f2"
    _renamed_patient(rows, rows["patients"][1]["patient_id"], pid)
    rows["treatments"][0]["best_response"] = written.format(id=pid, upper=pid.lower())
    report = validate_source(write_registry(tmp_path / "reg", rows))
    text = report.problems.to_csv() + report.render()
    assert pid.lower() not in text.lower()
    assert "<identifier>" in report.problems.query("column == 'best_response'")["value"].iloc[0]


@pytest.mark.parametrize("written", [
    "{head}\n{tail}", "{head} {tail}", "see {head}\r\n{tail}.", "see:{head} {tail}",
    "x " * 40 + "{head}\n{tail} confirmed",  # beyond the short texts searched by substrings
    "x " * 40 + "see ({head}  {tail})",  # the break after an even word (the one above: odd)
    "{head}\u00a0{tail}", "{head}\u2028{tail}", "{head}\x0b{tail}",  # other whitespace
    "{head}\n{mid}\n{tail3}", "x " * 30 + "({head} {mid}\t{tail3})",  # split in three
])
def test_an_identifier_split_by_a_line_break_or_a_space_is_masked(tmp_path: Path,
                                                                  written: str) -> None:
    """A wrapped cell: the identifier is found, and masked, across the break."""
    rows = good_rows()
    pid = "NEN-7a01f2c9"
    _renamed_patient(rows, rows["patients"][1]["patient_id"], pid)
    rows["treatments"][0]["best_response"] = written.format(head=pid[:6], tail=pid[6:],
                                                            mid=pid[6:9], tail3=pid[9:])
    report = validate_source(write_registry(tmp_path / "reg", rows))
    text = report.problems.to_csv() + report.render()
    assert pid[6:] not in text and pid[:6].lower() not in text.lower()
    assert pid[9:] not in text
    assert "<identifier>" in report.problems.query("column == 'best_response'")["value"].iloc[0]


def _with_identifier_lengths(rows: dict) -> None:
    """Tests, treatments and diagnoses renamed to identifiers of 9 more lengths (beyond the
    search of short texts substring by substring, which stops at 8 lengths)."""
    lengths = iter(range(5, 14))
    for table, key in (("molecular_tests", "test_id"), ("treatments", "treatment_id"),
                       ("diagnoses", "diagnosis_id")):
        for row in rows[table]:
            old, row[key] = row[key], "Q" + "7" * next(lengths)
            for treatment in rows["treatments"] if table == "diagnoses" else ():
                if treatment.get("diagnosis_id") == old:
                    treatment["diagnosis_id"] = row[key]


@pytest.mark.parametrize("pid, written", [
    ("DUPONT Marie", "x " * 40 + "for patient DUPONT  Marie seen"),  # beyond the short texts
    ("DUPONT Marie", "dupont-marie"),
    ("DUPONT Marie", "see Dupont\nMarie."),
    ("1 56 02 64 780 461", "liver;1 56 02 64 780 461"),  # a list token, its message
    ("1 56 02 64 780 461", "nir 156 02 64 780 461"),  # grouped otherwise: not its tokens
    ("TX 12", "reported by TX 12"),
])
def test_an_identifier_holding_spaces_is_masked_in_any_text(tmp_path: Path, pid: str,
                                                            written: str) -> None:
    """A name or a national number written in groups is found as a run of words, however
    long the text and however many lengths the identifiers have."""
    rows = good_rows()
    _renamed_patient(rows, rows["patients"][1]["patient_id"], pid)
    _with_identifier_lengths(rows)
    column = "metastatic_sites" if ";" in written else "stage"
    rows["diagnoses"][0][column] = written
    report = validate_source(write_registry(tmp_path / "reg", rows))
    problems = report.problems.query("column == @column")
    text = (problems.to_csv() + report.render()).lower()
    tokens = pid.lower().split()
    if written.startswith("nir"):  # other tokens: shown as written (no lookup by substring)
        assert problems["value"].tolist() == [written]
    else:
        assert "<identifier>" in problems["value"].iloc[0]
        assert not any(t in text.split() or f"{t}." in text for t in tokens if len(t) > 2)
        assert "dupont" not in text and "780 461" not in text


def test_a_number_glued_to_letters_is_masked_whatever_the_identifier_lengths(
    tmp_path: Path
) -> None:
    rows = good_rows()
    _renamed_patient(rows, rows["patients"][1]["patient_id"], "28034063")
    _with_identifier_lengths(rows)
    rows["diagnoses"][0]["stage"] = "see pt28034063 now"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.problems.query("column == 'stage'")["value"].tolist() == [
        "see pt<identifier> now"]


def test_a_file_named_by_an_identifier_holding_spaces_is_masked(tmp_path: Path) -> None:
    rows = good_rows()
    _renamed_patient(rows, rows["patients"][1]["patient_id"], "DUPONT Marie")
    folder = write_registry(tmp_path / "reg", rows)
    (folder / "Dupont Marie.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    report = validate_source(folder)
    text = (report.problems.to_csv() + report.render()).lower()
    assert "<identifier>" in text and "dupont" not in text and "marie" not in text


@pytest.mark.parametrize("pid, written", [("AB1234", "lab 1234 ok"),
                                          ("P00123", "top 00123 mg")])
def test_words_that_join_into_text_holding_an_identifier_are_shown(tmp_path: Path, pid: str,
                                                                  written: str) -> None:
    """'lab 1234' joined holds AB1234, but is no identifier split in two: it stays shown."""
    rows = good_rows()
    _renamed_patient(rows, rows["patients"][1]["patient_id"], pid)
    rows["treatments"][0]["best_response"] = written
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.problems.query("column == 'best_response'")["value"].tolist() == [written]


def test_an_identifier_beyond_ascii_glued_to_text_is_masked(tmp_path: Path) -> None:
    rows = good_rows()
    pid = "NÉN-7a01f2c9"
    _renamed_patient(rows, rows["patients"][1]["patient_id"], pid)
    rows["treatments"][0]["best_response"] = f"x{pid}y"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.problems.query("column == 'best_response'")["value"].tolist() == [
        "x<identifier>y"]


def test_words_that_join_around_a_short_identifier_are_shown(tmp_path: Path) -> None:
    """P001 (4 characters) inside 'top 001' joined is not an identifier split in two."""
    rows = good_rows()
    rows["treatments"][0]["best_response"] = "top 001 mg"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.problems.query("column == 'best_response'")["value"].tolist() == ["top 001 mg"]


def test_numbers_that_join_into_a_numeric_identifier_are_shown(tmp_path: Path) -> None:
    """Digits split by spaces cannot be told from numbers or dates: only identifiers holding a
    letter are looked for across a break."""
    rows = good_rows()
    _renamed_patient(rows, rows["patients"][1]["patient_id"], "20191001")
    rows["treatments"][0]["best_response"] = "2019 10 01"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.problems.query("column == 'best_response'")["value"].tolist() == ["2019 10 01"]


def test_an_identifier_in_a_header_or_a_long_value_is_masked(tmp_path: Path) -> None:
    from .conftest import write_table
    from nenstudy.registry.schema import TABLES

    rows = good_rows()
    pid = "NEN-7a01f2"
    _renamed_patient(rows, rows["patients"][1]["patient_id"], pid)
    rows["diagnoses"][0]["stage"] = "x " * 400 + f"({pid}) y"  # beyond the short texts
    folder = write_registry(tmp_path / "reg", rows)
    columns = list(TABLES["follow_up"].column_names) + [f"birth_date{pid}"]  # a row glued on
    write_table(folder, "follow_up", rows["follow_up"], columns=columns)
    report = validate_source(folder)
    text = report.problems.to_csv() + report.render()
    assert pid.lower() not in text.lower()
    assert "column.unexpected" in set(report.problems["rule"])


def test_a_short_identifier_is_masked_as_a_word_not_inside_a_number_or_date(
    tmp_path: Path
) -> None:
    rows = good_rows()
    for row, pid in zip(list(rows["patients"]), ("12", "13", "14")):
        _renamed_patient(rows, row["patient_id"], pid)
    rows["diagnoses"][0]["ki67_pct"] = "12,5"  # a decimal comma: "12" inside a number
    rows["diagnoses"][1]["mdt_date"] = "2031-03-12"  # a future date
    rows["diagnoses"][2]["stage"] = "see 12."  # the identifier as a word
    report = validate_source(write_registry(tmp_path / "reg", rows))
    values = dict(zip(report.problems["column"], report.problems["value"]))
    assert values["ki67_pct"] == "12,5" and values["mdt_date"] == "2031-03-12"
    assert values["stage"] == "see <identifier>."
    # messages keep their own numbers (dates, rows, ranges)
    assert "today (" in report.problems.query("column == 'mdt_date'")["message"].iloc[0]


def test_record_numbers_as_identifiers_leave_measurements_and_messages_readable(
    tmp_path: Path
) -> None:
    """Identifiers 2, 4, 12 (REDCap record numbers): a number inside a measurement or in the
    program's own message is shown; the whole value of a number column, a word of a coded
    value and a quoted code are masked (a record number shifted or typed there)."""
    rows = good_rows()
    for row, pid in zip(list(rows["patients"]), ("2", "4", "12")):
        _renamed_patient(rows, row["patient_id"], pid)
    rows["diagnoses"][0]["mitoses_per_2mm2"] = "12 per 10 HPF"
    rows["diagnoses"][1]["ecog_ps"] = "12"
    rows["diagnoses"][2]["metastatic_sites"] = "liver;12"
    folder = write_registry(tmp_path / "reg", rows)
    with (folder / "follow_up.csv").open("a", encoding="utf-8") as handle:
        handle.write("x,y\n")  # 2 values for 4 columns
    report = validate_source(folder)
    problems = report.problems
    values = dict(zip(problems["column"], problems["value"]))
    assert values["mitoses_per_2mm2"] == "12 per 10 HPF"
    assert values["ecog_ps"] == "<identifier>"
    assert values["metastatic_sites"] == "liver;<identifier>"
    sites = problems.query("column == 'metastatic_sites'")["message"].iloc[0]
    assert "'12'" not in sites and "<identifier>" in sites
    width = problems.query("rule == 'file.row_width'")["message"].tolist()
    assert width == ["the row has 2 values but the header has 4 columns"]


def test_identifiers_in_free_text_warnings_are_masked(tmp_path: Path) -> None:
    rows = good_rows()
    pid = rows["patients"][2]["patient_id"]
    rows["treatments"][0]["ne_reason"] = f"patient {pid} moved"  # a reason, yet a response
    report = validate_source(write_registry(tmp_path / "reg", rows))
    hit = report.problems.query("column == 'ne_reason'")
    assert hit["severity"].tolist() == ["warning"]
    assert hit["value"].tolist() == ["patient <identifier> moved"]


def test_a_coded_value_that_merged_rows_is_not_shown(tmp_path: Path) -> None:
    """A stray quote in a coded column swallows the next row, identifiers of a row never read
    among them: the value is not shown, only its length."""
    folder = write_registry(tmp_path / "reg", good_rows())
    path = folder / "treatments.csv"
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace(",PR,", ',"PR,', 1)
    lines[2] = lines[2].replace(",PD,", ',PD",', 1)
    path.write_text("\n".join(lines) + "\n")
    report = validate_source(folder)
    assert "T002" not in report.problems.to_csv() + report.render()


def test_a_value_equal_to_some_note_is_not_masked(tmp_path: Path) -> None:
    """Notes are masked in their own column; a value elsewhere that equals a note is not an
    identifier (a note 'NA' must not hide an 'NA' typed into ecog_ps)."""
    rows = good_rows()
    rows["diagnoses"][0]["notes"] = "12,5"
    rows["diagnoses"][1]["ki67_pct"] = "12,5"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    hit = report.problems.query("column == 'ki67_pct'")
    assert hit["value"].tolist() == ["12,5"]


@pytest.mark.parametrize("text", ["nan", "na", "n/a", "null", "None", "<NA>", "NaT", "#NA",
                                  "N.A.", "-", "\\N", "-nan", "1.#QNAN", "#N/A N/A", "--"])
def test_missing_marks_in_free_text_are_warned_in_any_case(tmp_path: Path, text: str) -> None:
    rows = good_rows()
    rows["molecular_tests"][0]["variant"] = text
    report = validate_source(write_registry(tmp_path / "reg", rows))
    hit = report.problems.query("rule == 'value.missing_marker'")
    assert hit[["row", "column"]].values.tolist() == [[2, "variant"]]


def test_a_test_after_death_is_only_a_warning_and_a_treatment_after_it_one_error(
    tmp_path: Path
) -> None:
    """Archival tissue tested after death: a warning, not also a last contact before the test
    date (an error); a treatment after death: one error, at the treatment."""
    rows = good_rows()  # P001 died 2020-03-01, last contact the same day
    rows["molecular_tests"][0]["test_date"] = "2020-06-01"
    rows["treatments"][1]["end_date"] = "2020-04-01"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    problems = report.problems[["severity", "file", "column"]].values.tolist()
    assert problems == [["warning", "molecular_tests.csv", "test_date"],
                        ["error", "treatments.csv", "end_date"]]


def test_an_unreadable_value_is_not_also_taken_for_a_missing_one(tmp_path: Path) -> None:
    """An unknown gene or MSI code, an unreadable line number: each its own error only, not
    also "found 0 results", "alteration without a gene" or "no line 1"."""
    rows = good_rows()
    rows["molecular_tests"][0]["gene"] = "EGFRx"
    rows["molecular_tests"][2]["msi_status"] = "MSI-L"
    rows["treatments"][0]["line"] = "one"  # P001's line 1; line 2 is in the next row
    report = validate_source(write_registry(tmp_path / "reg", rows))
    rules = report.problems[["file", "row", "rule"]].values.tolist()
    assert sorted(rules) == [["molecular_tests.csv", 2, "allowed"],
                             ["molecular_tests.csv", 4, "allowed"],
                             ["treatments.csv", 2, "type.int"]]


def test_no_who_conflict_is_derived_from_an_out_of_range_ki67(tmp_path: Path) -> None:
    rows = good_rows()
    rows["diagnoses"][1]["ki67_pct"] = "120"  # D002: well differentiated, typed NET G1 derived
    rows["diagnoses"][1]["who_category"] = "NET G1"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert "range" in set(report.problems["rule"])
    assert "who_category.conflict" not in set(report.problems["rule"])


@pytest.mark.parametrize("text", ["0", "0.000", "-0", "+0.0", "0e5", "0E-3", "1e-300", "5e-324"])
def test_zero_and_tiny_numbers_are_not_taken_for_an_underflow(tmp_path: Path, text: str) -> None:
    """Only a nonzero mantissa read as 0 (1e-400) is refused; zeros and representable numbers,
    however written, are read as they are."""
    rows = good_rows()
    rows["molecular_tests"][1]["tmb"] = text
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.ok and report.problems.empty, report.render()


@pytest.mark.parametrize("text, warned", [
    ("liver;;nodes", True), ("liver;", True), (";liver", True), ("liver; ;nodes", True),
    (";", True), ("liver; nodes", False), (" liver ;nodes", False), ("liver;nodes", False),
])
def test_an_empty_list_item_is_a_warning_and_only_then(tmp_path: Path, text: str,
                                                       warned: bool) -> None:
    """An empty item is left out with a warning; spaces around items are only trimmed."""
    rows = good_rows()
    rows["diagnoses"][0]["metastatic_sites"] = text
    report = validate_source(write_registry(tmp_path / "reg", rows))
    hit = report.problems.query("rule == 'list.empty_item'")
    assert hit[["row", "column"]].values.tolist() == ([[2, "metastatic_sites"]] if warned else [])
    if text == ";":
        assert "read as an empty list" in hit["message"].iloc[0]


def test_an_unreadable_or_out_of_range_element_adds_no_who_category_warning(tmp_path: Path
                                                                           ) -> None:
    """The element's own error is the problem; a category derived without it says nothing."""
    rows = good_rows()
    rows["diagnoses"][1].update(who_category="NET G3", ki67_pct="0x10")
    rows["diagnoses"][0].update(who_category="MiNEN", non_ne_component_pct="130")
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert set(report.problems["rule"]) == {"type.float", "range"}


def test_r_na_for_the_death_date_of_a_living_patient_is_one_error(tmp_path: Path) -> None:
    rows = good_rows()
    rows["follow_up"][1]["death_date"] = "NA"  # P002 is alive
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.problems[["row", "rule"]].values.tolist() == [[3, "type.date"]]


@pytest.mark.parametrize("written", ["p001", "0P001"])
def test_an_orphan_whose_key_differs_only_in_case_or_leading_zeros_says_so(
    tmp_path: Path, written: str
) -> None:
    rows = good_rows()
    rows["molecular_tests"][0]["patient_id"] = written
    report = validate_source(write_registry(tmp_path / "reg", rows))
    hit = report.problems.query("rule == 'foreign_key' and file == 'molecular_tests.csv'")
    assert hit["row"].tolist() == [2]
    assert "differing only in upper/lower case or leading zeros" in hit["message"].iloc[0]
    assert written not in hit["message"].iloc[0]  # the identifier itself stays masked


def test_a_plain_orphan_gets_no_such_hint(tmp_path: Path) -> None:
    rows = good_rows()
    rows["molecular_tests"][0]["patient_id"] = "P999"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    hit = report.problems.query("rule == 'foreign_key' and file == 'molecular_tests.csv'")
    assert hit["message"].tolist() == ["no row with this patient_id in patients (orphan row)"]


@pytest.mark.parametrize("row, values", [
    (0, {"tmb": "NA"}),                       # a gene row with NA for TMB
    (1, {"alteration": "NA"}),                # a TMB row: NA for an alteration without a gene
    (0, {"alteration": "NA"}),                # a gene row whose alteration is NA
    (0, {"gene": "NA", "msi_status": "NA", "tmb": "NA"}),  # every result NA
])
def test_r_na_in_a_test_result_adds_no_second_error(tmp_path: Path, row: int,
                                                    values: dict) -> None:
    rows = good_rows()
    rows["molecular_tests"][row].update(values)
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert len(report.problems) == len(values), report.problems
    assert report.problems["message"].str.contains("R writes NA").all()


def test_r_na_as_the_who_category_is_not_also_none_typed_in(tmp_path: Path) -> None:
    rows = good_rows()
    rows["diagnoses"][1].update(who_category="NA", ki67_pct="", mitoses_per_2mm2="")
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.problems["rule"].tolist() == ["allowed"]


def test_r_na_as_the_sites_of_a_localized_tumour_adds_no_stage_warning(tmp_path: Path) -> None:
    rows = good_rows()
    rows["diagnoses"][1]["metastatic_sites"] = "NA"  # D002 is localized
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.problems["rule"].tolist() == ["allowed"]


def test_sites_of_metachronous_metastases_fit_a_localized_stage(tmp_path: Path) -> None:
    """Metastases found after diagnosis: the stage stays that at diagnosis, the sites are the
    later ones, and nothing is said."""
    rows = good_rows()
    rows["diagnoses"][1].update(metastatic_sites="liver;bone", metastases_timing="metachronous")
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.ok and report.problems.empty, report.render()


@pytest.mark.parametrize("timing, rules", [
    ("Metachronous", ["allowed"]),               # misspelt: its error, not also "set it"
    ("NA", ["allowed"]),
    ("synchronous", ["metastases_timing.stage"]),  # one warning for the one conflict
])
def test_a_written_metastases_timing_adds_no_second_stage_warning(tmp_path: Path, timing: str,
                                                                  rules: list[str]) -> None:
    rows = good_rows()
    rows["diagnoses"][1].update(metastatic_sites="liver", metastases_timing=timing)  # localized
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.problems["rule"].tolist() == rules, report.render()


def test_r_na_in_a_required_column_says_a_value_is_needed(tmp_path: Path) -> None:
    rows = good_rows()
    rows["patients"][0]["birth_date"] = "NA"
    report = validate_source(write_registry(tmp_path / "reg", rows))
    hit = report.problems.query("column == 'birth_date'")
    assert "this column needs a value" in hit["message"].iloc[0]


@pytest.mark.parametrize("n_lines", [63, 64, 130])
def test_a_patient_with_many_systemic_lines_is_checked_not_a_crash(tmp_path: Path,
                                                                   n_lines: int) -> None:
    """Per-cycle exports can give a patient over a hundred line rows (a bit mask of lines
    must not be shifted beyond 63)."""
    rows = good_rows()
    first = rows["treatments"][0]
    rows["treatments"] = [dict(first, treatment_id=f"TL{k:03d}", line=str(k),
                               start_date="2019-03-05", end_date="", progression_date="",
                               last_assessment_date="")
                          for k in range(1, n_lines + 1)] + rows["treatments"][2:]
    report = validate_source(write_registry(tmp_path / "reg", rows))
    assert report.ok and report.problems.empty, report.render()
    rows["treatments"][5]["line"] = "5"  # a duplicate line, and line 6 missing
    report = validate_source(write_registry(tmp_path / "reg2", rows))
    assert {"line.duplicate", "line.gap"} <= set(report.problems["rule"]), report.render()


def test_a_percentage_column_holding_fractions_only_is_warned_once(tmp_path: Path) -> None:
    """Ki-67 written as 0.45 for 45% (a percent-formatted cell read by a spreadsheet tool):
    every value is in range, so only the column as a whole can show it."""
    import csv

    from nenstudy.synth.generator import write_registry as synth

    folder = tmp_path / "reg"
    synth(folder, seed=4, scale=0.05)
    path = folder / "diagnoses.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert validate_source(folder).problems.query("rule == 'column.fraction'").empty
    for row in rows:
        if row["ki67_pct"]:
            row["ki67_pct"] = f"{float(row['ki67_pct']) / 100:g}"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    problems = validate_source(folder).problems
    hit = problems[problems["rule"] == "column.fraction"]
    assert hit[["severity", "file", "column"]].values.tolist() == [
        ["warning", "diagnoses.csv", "ki67_pct"]]
    assert hit["row"].isna().all() and "Write 45 for 45%" in hit.iloc[0]["message"]
