"""Source files: formats, encodings and file-level problems are handled without crashing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from .conftest import GOOD_ROWS, good_rows, write_registry, write_table
from nenstudy.registry.schema import TABLES
from nenstudy.registry.store import import_registry
from nenstudy.registry.validation import validate_source


def _rules(report) -> set[tuple[str, str]]:
    return set(zip(report.problems["file"], report.problems["rule"]))


def test_missing_table_file_is_an_error(good_registry: Path) -> None:
    (good_registry / "treatments.csv").unlink()
    report = validate_source(good_registry)
    assert ("treatments.csv", "file.missing") in _rules(report)
    assert not report.ok


def test_empty_file_is_an_error(good_registry: Path) -> None:
    (good_registry / "molecular_tests.csv").write_bytes(b"")
    report = validate_source(good_registry)
    assert ("molecular_tests.csv", "file.empty") in _rules(report)


def test_header_only_optional_table_is_a_warning(good_registry: Path) -> None:
    write_table(good_registry, "molecular_tests", [])
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'file.header_only'")
    assert list(hit["severity"]) == ["warning"] and report.ok


def test_header_only_patients_is_an_error(good_registry: Path) -> None:
    write_table(good_registry, "patients", [])
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'file.header_only'")
    assert list(hit["severity"]) == ["error"]


def test_two_files_for_one_table_are_an_error(good_registry: Path) -> None:
    pd.DataFrame(GOOD_ROWS["patients"]).to_parquet(good_registry / "patients.parquet")
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'file.duplicate'")
    assert set(hit["file"]) == {"patients.csv", "patients.parquet"}


def test_missing_required_column_is_an_error(good_registry: Path) -> None:
    columns = [c for c in TABLES["patients"].column_names if c != "sex"]
    write_table(good_registry, "patients", GOOD_ROWS["patients"], columns=columns)
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'column.missing'")
    assert list(zip(hit["file"], hit["row"], hit["column"])) == [("patients.csv", 1, "sex")]


def test_missing_optional_column_is_fine(good_registry: Path) -> None:
    columns = [c for c in TABLES["diagnoses"].column_names if c != "notes"]
    write_table(good_registry, "diagnoses", GOOD_ROWS["diagnoses"], columns=columns)
    assert validate_source(good_registry).ok


def test_unexpected_column_is_a_warning(good_registry: Path) -> None:
    rows = [dict(r, nickname="x") for r in GOOD_ROWS["patients"]]
    write_table(good_registry, "patients", rows,
                columns=list(TABLES["patients"].column_names) + ["nickname"])
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'column.unexpected'")
    assert list(hit["column"]) == ["nickname"] and list(hit["severity"]) == ["warning"]


def test_unexpected_column_is_named_as_written(good_registry: Path) -> None:
    rows = [dict(r, **{"Nick Name": "x"}) for r in GOOD_ROWS["patients"]]
    write_table(good_registry, "patients", rows,
                columns=list(TABLES["patients"].column_names) + ["Nick Name"])
    hit = validate_source(good_registry).problems.query("rule == 'column.unexpected'")
    assert list(hit["column"]) == ["Nick Name"] and "'Nick Name'" in hit["message"].iloc[0]


@pytest.mark.parametrize(("written", "meant"), [
    ("Karnofsky %", "karnofsky"), ("Resectable?", "resectable"), ("Ki-67", "ki67_pct"),
    ("resectible", "resectable"), ("ECOG PS", "ecog_ps"), ("KPS", "karnofsky"),
    ("Resectability", "resectable"), ("Ki-67 index", "ki67_pct"),
    ("Mitoses/2 mm\u00b2", "mitoses_per_2mm2"), ("MIB-1 index", "ki67_pct"),
    ("Performance status (ECOG)", "ecog_ps"), ("karnofksy", "karnofsky"),
])
def test_a_misnamed_column_is_an_error_naming_the_column_meant(
    good_registry: Path, written: str, meant: str
) -> None:
    """Its values would be lost, and derived columns changed (no Karnofsky, no ECOG from it)."""
    columns = [written if c == meant else c for c in TABLES["diagnoses"].column_names]
    rows = [{(written if k == meant else k): v for k, v in r.items()}
            for r in GOOD_ROWS["diagnoses"]]
    write_table(good_registry, "diagnoses", rows, columns=columns)
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'column.misnamed'")
    assert hit[["severity", "column"]].values.tolist() == [["error", written]]
    assert repr(meant) in hit["message"].iloc[0] and not report.ok
    assert "column.unexpected" not in set(report.problems["rule"])


@pytest.mark.parametrize(("table", "written", "meant"), [
    ("follow_up", "Date of death", "death_date"),        # optional, required when dead
    ("follow_up", "Last follow-up", "last_contact_date"),  # a required column
])
def test_a_misnamed_column_is_one_error_and_its_values_are_checked_as_meant(
    good_registry: Path, table: str, written: str, meant: str
) -> None:
    """No cascade of "required" errors at every row, no "missing" besides "misnamed"; a bad
    value in the column is still found."""
    columns = [written if c == meant else c for c in TABLES[table].column_names]
    rows = [{(written if k == meant else k): v for k, v in r.items()} for r in GOOD_ROWS[table]]
    rows[0][written] = "31/02/2020"
    write_table(good_registry, table, rows, columns=columns)
    report = validate_source(good_registry)
    problems = report.problems
    assert problems["rule"].tolist().count("column.misnamed") == 1
    assert {"column.missing", "required"}.isdisjoint(problems["rule"])
    bad = problems.query("rule == 'type.date'")
    assert bad[["row", "column"]].values.tolist() == [[2, meant]]


def test_a_header_of_labels_is_read_as_a_header_with_each_column_misnamed(
    good_registry: Path
) -> None:
    """REDCap's "labels" export (PatientID, Last Contact Date ...): none of the names is the
    column's, yet each says which column it is; not "the first row is a data row"."""
    labels = {"patient_id": "PatientID", "last_contact_date": "Last Contact Date",
              "vital_status": "Vital Status", "death_date": "Date of death"}
    columns = [labels[c] for c in TABLES["follow_up"].column_names]
    rows = [{labels[k]: v for k, v in r.items()} for r in GOOD_ROWS["follow_up"]]
    write_table(good_registry, "follow_up", rows, columns=columns)
    problems = validate_source(good_registry).problems.query("file == 'follow_up.csv'")
    assert "header.missing" not in set(problems["rule"])
    hit = problems.query("rule == 'column.misnamed'")
    assert sorted(hit["column"]) == sorted(labels.values())


def test_redcap_checkbox_columns_are_one_error_not_a_list_lost(good_registry: Path) -> None:
    """metastatic_sites___1, metastatic_sites___2 (one 0/1 column per choice): the sites would
    be lost with only "not imported" warnings; one error names the column to write."""
    boxes = ["metastatic_sites___1", "metastatic_sites___2"]
    columns = [c for c in TABLES["diagnoses"].column_names if c != "metastatic_sites"] + boxes
    rows = [{**{k: v for k, v in r.items() if k != "metastatic_sites"},
             boxes[0]: "1", boxes[1]: "0"} for r in GOOD_ROWS["diagnoses"]]
    write_table(good_registry, "diagnoses", rows, columns=columns)
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'column.checkbox'")
    assert hit[["severity", "row", "column"]].values.tolist() == [
        ["error", 1, "metastatic_sites"]]
    assert all(b in hit["message"].iloc[0] for b in boxes) and "liver;nodes" in hit["message"].iloc[0]
    assert "column.unexpected" not in set(report.problems["rule"]) and not report.ok


@pytest.mark.parametrize(("extra", "absent"), [
    ("notes_internal", "notes"), ("karnofsky_date", "karnofsky"), ("notes_date", "notes"),
    ("ki67_method", "ki67_pct"), ("ki67_cat", "ki67_pct"), ("who_2010", "who_category"),
])
def test_an_unrelated_extra_column_is_not_taken_for_a_missing_one(
    good_registry: Path, extra: str, absent: str
) -> None:
    """A longer name starting with an absent column's is another variable (a date, a method)."""
    columns = [c for c in TABLES["diagnoses"].column_names if c != absent] + [extra]
    rows = [{**{k: v for k, v in r.items() if k != absent}, extra: "x"}
            for r in GOOD_ROWS["diagnoses"]]
    write_table(good_registry, "diagnoses", rows, columns=columns)
    report = validate_source(good_registry)
    assert "column.misnamed" not in set(report.problems["rule"])
    assert "column.unexpected" in set(report.problems["rule"])


def test_unrecognised_file_is_a_warning(good_registry: Path) -> None:
    (good_registry / "readme.txt").write_text("notes")
    report = validate_source(good_registry)
    assert ("readme.txt", "file.unexpected") in _rules(report) and report.ok


def test_missing_source_folder_is_a_problem(tmp_path: Path) -> None:
    report = validate_source(tmp_path / "nowhere")
    assert list(report.problems["rule"]) == ["source.missing"]


def test_utf8_bom_is_accepted(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    report = validate_source(good_registry)
    assert report.ok and report.problems.empty, report.render()


def test_latin1_file_is_decoded_and_reported(tmp_path: Path) -> None:
    from nenstudy.registry.store import open_store

    rows = good_rows()
    rows["diagnoses"][1]["notes"] = "tumeur de l'intestin grêle"
    folder = write_registry(tmp_path / "reg", rows)
    write_table(folder, "diagnoses", rows["diagnoses"], encoding="latin-1")
    report = validate_source(folder)
    hit = report.problems.query("rule == 'file.encoding'")
    assert list(hit["severity"]) == ["warning"] and "Latin-1" in hit.iloc[0]["message"]
    assert hit["row"].tolist() == [3]  # the first row with accented text
    import_registry(folder, tmp_path / "s.duckdb")
    con = open_store(tmp_path / "s.duckdb")
    notes = con.execute("SELECT notes FROM diagnoses WHERE diagnosis_id = 'D002'").fetchall()[0][0]
    assert notes == "tumeur de l'intestin grêle"


def test_windows_1252_characters_are_an_error(tmp_path: Path) -> None:
    folder = write_registry(tmp_path / "reg")
    path = folder / "diagnoses.csv"
    text = path.read_bytes().replace(b"seen by Dr X", b"seen by Dr X \x80 \xe9")
    path.write_bytes(text)
    report = validate_source(folder)
    hit = report.problems.query("rule == 'file.encoding' and severity == 'error'")
    assert list(hit["row"]) == [2] and "Windows-1252" in hit.iloc[0]["message"]


def test_semicolon_separated_csv_is_an_error(good_registry: Path) -> None:
    path = good_registry / "follow_up.csv"
    path.write_text(path.read_text().replace(",", ";"))
    report = validate_source(good_registry)
    assert ("follow_up.csv", "file.delimiter") in _rules(report)


def test_ragged_csv_row_is_reported_not_raised(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    n_lines = len(path.read_text().splitlines())
    path.write_text(path.read_text() + "P9,F,1950-01-01,extra,cells\n")
    report = validate_source(good_registry)
    hit = report.problems[report.problems["rule"] == "file.row_width"]
    assert hit[["file", "row"]].values.tolist() == [["patients.csv", n_lines + 1]]
    assert "5 values but the header has 3 columns" in hit["message"].iloc[0]


def test_every_malformed_csv_row_is_listed_without_its_content(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    lines = path.read_text().splitlines()
    lines[1] += ",extra"  # row 2: one value too many
    lines.insert(3, "P8,F")  # row 4: one too few
    lines.insert(5, "   ")  # row 6: only spaces
    lines.append("")  # a blank row: skipped with its warning, as in a sound file
    lines.append("P9,F,not-a-date")  # a sound row shape, a bad value: checked all the same
    path.write_text("\n".join(lines) + "\n")
    report = validate_source(good_registry)
    problems = report.problems
    shape = problems[problems["rule"] == "file.row_width"]
    assert shape["row"].tolist() == [2, 4, 6]
    assert "only spaces" in shape["message"].iloc[2]
    assert "file.partly_checked" in set(problems["rule"])
    blank = problems.query("rule == 'file.blank_rows'")["message"].tolist()
    assert len(blank) == 1 and f"(rows {len(lines) - 1})" in blank[0]
    # the other rows are checked, numbered as in a spreadsheet despite the rows left out
    date = problems[problems["rule"] == "type.date"]
    assert date[["row", "column"]].values.tolist() == [[len(lines), "birth_date"]]
    # rows referring to the rows left out are no orphans: the file takes no part in the
    # checks across tables until it is mended
    assert not {"foreign_key", "follow_up.missing"} & set(problems["rule"])
    text = " ".join(map(str, [*problems["message"], *problems["value"]]))
    assert "P8" not in text and "P001" not in text


def test_a_file_with_malformed_rows_beyond_wrong_widths_is_not_checked(
    good_registry: Path
) -> None:
    path = good_registry / "patients.csv"
    lines = path.read_text().splitlines()
    lines[1] += ",extra"
    lines[2] += ',"unterminated'
    lines.append("P9,F,not-a-date")
    path.write_text("\n".join(lines) + "\n")
    rules = set(validate_source(good_registry).problems["rule"])
    assert {"file.row_width", "file.quote", "file.not_checked"} <= rules
    assert "type.date" not in rules


def test_unclosed_quote_is_reported_at_its_row_without_the_next_rows(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2] + ',"unterminated'
    path.write_text("\n".join(lines) + "\n")
    report = validate_source(good_registry)
    hit = report.problems[report.problems["rule"] == "file.quote"]
    assert hit["row"].tolist() == [3]
    text = " ".join(map(str, report.problems["message"]))
    assert not any(line.split(",")[0] in text for line in lines[3:])


def test_mixed_line_endings_are_named(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    data = path.read_bytes().replace(b"\r\n", b"\n").split(b"\n")
    data[2] += b"\r"  # one Windows line ending in a Unix file
    path.write_bytes(b"\n".join(data))
    report = validate_source(good_registry)
    hit = report.problems[report.problems["rule"] == "file.line_endings"]
    assert len(hit) == 1 and "line 3" in hit["message"].iloc[0]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_a_carriage_return_inside_an_unquoted_value_is_named_by_its_line(
        good_registry: Path, newline: bytes) -> None:
    """A lone CR splits its line in two for every reader: named by line, not as two rows of the
    wrong width (and the rows after it, whose numbers it would shift, are not listed)."""
    path = good_registry / "treatments.csv"
    lines = path.read_bytes().replace(b"\r\n", b"\n").split(b"\n")
    assert b'"' not in lines[2]
    lines[2] = lines[2].replace(b"FOLFIRI", b"FOL\rFIRI")
    assert b"\r" in lines[2]
    path.write_bytes(newline.join(lines))
    report = validate_source(good_registry)
    problems = report.problems[report.problems["file"] == "treatments.csv"]
    hit = problems[problems["rule"] == "file.line_break"]
    assert len(hit) == 1 and "line 3 " in hit["message"].iloc[0]
    assert "file.row_width" not in set(problems["rule"])
    assert not report.ok


def test_a_quoted_carriage_return_is_part_of_the_value(good_registry: Path) -> None:
    path = good_registry / "treatments.csv"
    path.write_bytes(path.read_bytes().replace(b"FOLFIRI", b'"FOL\rFIRI"'))
    report = validate_source(good_registry)
    assert report.ok and report.problems.empty, report.render()


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_rows_after_blank_rows_keep_their_spreadsheet_numbers(good_registry: Path,
                                                               newline: str) -> None:
    path = good_registry / "patients.csv"
    header, p1, p2, p3 = path.read_text().splitlines()
    p2, p3 = (line.replace(",F,", ",Z,").replace(",M,", ",Z,") for line in (p2, p3))
    # rows: 1 header, 2 P001, 3 blank, 4 P002 (bad), 5 and 6 blank, 7 P003 (bad)
    lines = [header, p1, "", p2, "", "", p3]
    # and trailing blank rows
    path.write_bytes((newline.join(lines) + newline * 3).encode())
    report = validate_source(good_registry)
    bad = report.problems[report.problems["rule"] == "allowed"]
    assert bad["row"].tolist() == [4, 7]
    blank = report.problems[report.problems["rule"] == "file.blank_rows"]
    assert blank["severity"].tolist() == ["warning"]
    assert "rows 3, 5, 6)" in blank["message"].iloc[0]


def test_a_csv_error_reason_never_quotes_the_file_unless_asked() -> None:
    from nenstudy.registry.sources import _csv_error_reason

    error = Exception("Invalid Input Error: CSV Error on Line: 4\nOriginal Line: P3,\"z\n"
                      "P4-SECRET,w,4\n\nValue with unterminated quote found.\n\nPossible fixes:")
    row, reason = _csv_error_reason(error, show_identifiers=False)
    assert row == 4 and reason == "Value with unterminated quote found"
    assert "SECRET" not in reason and "P3" not in reason
    assert "P3" in _csv_error_reason(error, show_identifiers=True)[1]


def test_whitespace_around_values_is_trimmed(good_registry: Path) -> None:
    rows = good_rows()
    rows["patients"][0]["sex"] = " F "
    write_table(good_registry, "patients", rows["patients"])
    assert validate_source(good_registry).ok


def _write_xlsx(path: Path, header: list[str], rows: list[list]) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def test_xlsx_date_cells_and_numbers_are_accepted(good_registry: Path) -> None:
    (good_registry / "patients.csv").unlink()
    _write_xlsx(
        good_registry / "patients.xlsx",
        ["patient_id", "sex", "birth_date"],
        [["P001", "F", dt.datetime(1950, 3, 14)], ["P002", "M", dt.date(1962, 11, 2)],
         ["P003", "M", "1971-06-30"]],
    )
    report = validate_source(good_registry)
    assert report.ok and report.problems.empty, report.render()


def test_an_xlsx_column_without_a_name_is_a_warning_and_the_rows_are_checked(
        good_registry: Path) -> None:
    """pandas' to_excel writes its index under an empty header cell: as with CSV, the column is
    left with a warning saying where its values are, and every other value is checked."""
    (good_registry / "patients.csv").unlink()
    _write_xlsx(
        good_registry / "patients.xlsx",
        [None, "patient_id", "sex", None, "birth_date"],
        [[0, "P001", "F", None, "1950-03-14"], [1, "P002", "X", None, "1962-11-02"],
         [2, "P003", "M", None, "1971-06-30"]],
    )
    report = validate_source(good_registry)
    hit = report.problems
    assert list(zip(hit["file"], hit["row"], hit["column"].fillna(""), hit["rule"])) == [
        ("patients.xlsx", 1, "", "column.unnamed"), ("patients.xlsx", 1, "", "column.unnamed"),
        ("patients.xlsx", 3, "sex", "allowed")], report.render()
    assert sorted(hit["message"].tolist()[:2]) == [
        "column 1 has no name in the header but holds values in 3 rows (rows 2, 3, 4); they "
        "are not imported: name the column or delete them",
        "column 4 has no name in the header and is empty; ignored"]


def test_xlsx_serial_number_in_date_column_is_reported_with_its_row(good_registry: Path) -> None:
    (good_registry / "patients.csv").unlink()
    _write_xlsx(
        good_registry / "patients.xlsx",
        ["patient_id", "sex", "birth_date"],
        [["P001", "F", dt.datetime(1950, 3, 14)], ["P002", "M", 22952],
         ["P003", "M", "1971-06-30"]],
    )
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'type.date'")
    assert list(zip(hit["file"], hit["row"])) == [("patients.xlsx", 3)]
    assert "Excel serial" in hit.iloc[0]["message"]


def test_xlsx_numeric_cells_typed_as_integers_read_as_integers(good_registry: Path) -> None:
    rows = good_rows()["diagnoses"]
    header = list(TABLES["diagnoses"].column_names)
    values = [[r.get(c) or None for c in header] for r in rows]
    ecog = header.index("ecog_ps")
    values[0][ecog] = 1.0  # Excel stores every number as a float
    (good_registry / "diagnoses.csv").unlink()
    _write_xlsx(good_registry / "diagnoses.xlsx", header, values)
    report = validate_source(good_registry)
    assert report.ok and report.problems.empty, report.render()


def test_parquet_rows_numbered_like_a_spreadsheet(good_registry: Path) -> None:
    rows = good_rows()["patients"]
    rows[2]["sex"] = "Q"
    (good_registry / "patients.csv").unlink()
    frame = pd.DataFrame(rows)
    frame["birth_date"] = pd.to_datetime(frame["birth_date"]).dt.date
    frame.to_parquet(good_registry / "patients.parquet")
    report = validate_source(good_registry)
    hit = report.problems
    assert list(zip(hit["file"], hit["row"], hit["rule"])) == [("patients.parquet", 4, "allowed")]


def test_trailing_commas_of_a_spreadsheet_export_are_unnamed_columns(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_text("".join(line + ",,\n" for line in path.read_text().splitlines()))
    report = validate_source(good_registry)
    assert report.ok, report.render()
    hit = report.problems[report.problems["rule"] == "column.unnamed"]
    assert hit["severity"].tolist() == ["warning"]
    assert hit["message"].tolist() == [
        "columns 4, 5 have no name in the header and are empty; ignored"
    ]


def test_values_in_a_column_without_a_name_are_counted(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    lines = path.read_text().splitlines()
    extra = {2: "x", 3: " \t ", 4: "7"}  # rows 2 and 4 hold values; row 3 only blanks
    path.write_text("".join(
        f"{line},{extra.get(number, '')}\n" for number, line in enumerate(lines, start=1)
    ))
    report = validate_source(good_registry)
    assert report.ok, report.render()
    hit = report.problems[report.problems["rule"] == "column.unnamed"]
    assert hit["message"].tolist() == [
        "column 4 has no name in the header but holds values in 2 rows (rows 2, 4); they are "
        "not imported: name the column or delete them"
    ]


def test_utf16_text_is_named(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_bytes(path.read_text().encode("utf-16"))
    report = validate_source(good_registry)
    hit = report.problems[report.problems["file"] == "patients.csv"]
    assert hit[["rule"]].values.tolist() == [["file.encoding"]]
    assert "UTF-16" in hit["message"].iloc[0]


def test_tab_separated_file_is_named(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_text(path.read_text().replace(",", "\t"))
    hit = validate_source(good_registry).problems.query("file == 'patients.csv'")
    assert hit["rule"].tolist() == ["file.delimiter"] and "tab" in hit["message"].iloc[0]


def test_blank_first_line_of_a_long_file_is_named(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_text("\n" * 5000 + path.read_text())
    hit = validate_source(good_registry).problems.query("file == 'patients.csv'")
    assert hit["rule"].tolist() == ["file.header"]


def test_header_only_patients_is_one_error_not_an_orphan_per_row(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    report = validate_source(good_registry)
    assert ("patients.csv", "file.header_only") in _rules(report)
    assert "foreign_key" not in set(report.problems["rule"])


def _diagnoses_xlsx_with_ki67(good_registry: Path, value: float, number_format: str) -> None:
    """diagnoses as XLSX, its first row's Ki-67 cell holding ``value`` in ``number_format``."""
    import openpyxl

    rows = good_rows()["diagnoses"]
    header = list(rows[0])
    (good_registry / "diagnoses.csv").unlink()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        values = [row.get(h) or None for h in header]
        sheet.append([float(v) if h == "ki67_pct" and v else v for h, v in zip(header, values)])
    cell = sheet.cell(row=2, column=header.index("ki67_pct") + 1)
    cell.value, cell.number_format = value, number_format
    workbook.save(good_registry / "diagnoses.xlsx")


@pytest.mark.parametrize("number_format", ['0.0\\%', '0.0"%"', '0" %"', "0.0_%"])
def test_xlsx_literal_percent_sign_is_not_a_percentage(good_registry: Path,
                                                       number_format: str) -> None:
    """A format that writes a percent sign after the number (91 shown as 91.0%) does not
    scale it: the value is the number shown."""
    _diagnoses_xlsx_with_ki67(good_registry, 91.0, number_format)
    assert validate_source(good_registry).ok


@pytest.mark.parametrize(("number_format", "shown"), [
    ("00000000", "0000000{}"), ('"NEN-"00000000', "NEN-0000000{}"), ("00000000_)", "0000000{}"),
    ("000-00-0000", "000-00-000{}"), ('"P"#', "P{}"), ('"NEN-"General', "NEN-{}"),
    ("#0000", "000{}"), ("@", "{}"),
])
def test_xlsx_zero_padded_identifiers_keep_their_zeros(
    good_registry: Path, tmp_path: Path, number_format: str, shown: str
) -> None:
    """A number shown as 00000042 (format 00000000) is the identifier 00000042, not 42; with
    text in its format (NEN-00000042), it is the text shown."""
    import openpyxl

    for table in ("patients", "diagnoses", "molecular_tests", "treatments", "follow_up"):
        rows = good_rows()[table]
        header = list(TABLES[table].column_names)
        (good_registry / f"{table}.csv").unlink()
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(header)
        for row in rows:
            number = int(row["patient_id"][1:])  # P001 -> 1
            sheet.append([number if h == "patient_id" else (row.get(h) or None)
                          for h in header])
            sheet.cell(row=sheet.max_row, column=header.index("patient_id") + 1).number_format = (
                number_format)
        workbook.save(good_registry / f"{table}.xlsx")
    db = tmp_path / "store.duckdb"
    import_registry(good_registry, db)
    with duckdb.connect(str(db), read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT patient_id FROM patients ORDER BY 1").fetchall()]
    assert ids == [shown.format(i) for i in (1, 2, 3)]


def _treatments_workbook(good_registry: Path):
    """The good treatments as an XLSX workbook in place of their CSV (saved by the caller as
    treatments.xlsx once its cells are set): the workbook, its sheet and the header."""
    import openpyxl

    rows = good_rows()["treatments"]
    header = list(TABLES["treatments"].column_names)
    (good_registry / "treatments.csv").unlink()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(h) or None for h in header])
    return workbook, sheet, header


def test_xlsx_a_number_in_a_text_column_in_a_format_not_read_is_an_error(
    good_registry: Path
) -> None:
    """[>=1000]"TX"00000;"TX-S"000 shows 7 as TX-S007: never stored as 7 without a word."""
    workbook, sheet, header = _treatments_workbook(good_registry)
    cell = sheet.cell(row=2, column=header.index("treatment_id") + 1)
    cell.value, cell.number_format = 7, '[>=1000]"TX"00000;"TX-S"000'
    workbook.save(good_registry / "treatments.xlsx")
    hit = validate_source(good_registry).problems.query("rule == 'cell.format'")
    assert hit[["severity", "row", "column"]].values.tolist() == [["error", 2, "treatment_id"]]


@pytest.mark.parametrize("number_format", ["General", "0"])
def test_xlsx_an_identifier_of_more_than_15_digits_is_an_error(
    good_registry: Path, number_format: str
) -> None:
    """Excel keeps 15 significant digits: 123456789012345678 typed is stored as
    1.23456789012346e17, and never taken for the identifier 123456789012346000."""
    workbook, sheet, header = _treatments_workbook(good_registry)
    cell = sheet.cell(row=3, column=header.index("treatment_id") + 1)
    cell.value, cell.number_format = 1.23456789012346e17, number_format
    # 15 digits are kept exactly: no error
    sheet.cell(row=2, column=header.index("treatment_id") + 1).value = 123456789012345
    workbook.save(good_registry / "treatments.xlsx")
    problems = validate_source(good_registry).problems
    hit = problems.query("rule == 'cell.digits'")
    assert hit[["severity", "row", "column"]].values.tolist() == [["error", 3, "treatment_id"]]
    assert "15 significant digits" in hit["message"].iloc[0]
    assert "123456789012346000" not in problems.to_csv()


def test_xlsx_percentage_cell_is_refused_not_read_as_a_fraction(good_registry: Path) -> None:
    """Excel shows 6% and stores 0.06: neither is taken as Ki-67 0.06 % without a word."""
    _diagnoses_xlsx_with_ki67(good_registry, 0.06, "0%")
    hit = validate_source(good_registry).problems.query("rule == 'type.float'")
    assert hit[["row", "column", "value"]].values.tolist() == [[2, "ki67_pct", "6%"]]
    assert "percentage" in hit["message"].iloc[0]


def test_old_mac_line_endings_are_read_with_right_rows(good_registry: Path) -> None:
    """Lone CR line ends (Excel for Mac's 'CSV (Macintosh)'): read, rows counted right."""
    path = good_registry / "patients.csv"
    text = path.read_text().replace("\r\n", "\n").replace(",M,", ",Z,", 1)
    path.write_bytes(text.replace("\n", "\r").encode())
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'allowed'")
    assert hit[["file", "column"]].values.tolist() == [["patients.csv", "sex"]]
    expected = 1 + next(i for i, line in enumerate(text.splitlines()) if ",Z," in line)
    assert hit["row"].tolist() == [expected]


def test_rows_of_only_commas_are_left_out_with_one_warning(good_registry: Path,
                                                          tmp_path: Path) -> None:
    """A spreadsheet's formatted empty rows saved as ',,,,' hold nothing: left out, as an XLSX
    sheet's empty rows, with one warning naming them (not one error per required value)."""
    path = good_registry / "diagnoses.csv"
    lines = path.read_text().splitlines()
    empty = "," * (len(lines[0].split(",")) - 1)
    path.write_text("\n".join([lines[0], empty, *lines[1:], empty, empty]) + "\n")
    report = validate_source(good_registry)
    assert report.ok
    hit = report.problems.query("file == 'diagnoses.csv'")
    assert hit[["severity", "row", "rule"]].values.tolist() == [["warning", 2, "row.empty"]]
    n = len(lines)
    assert hit["message"].iloc[0] == (
        f"3 rows without any value (only separators) left out: rows 2, {n + 2}, {n + 3}")
    store = tmp_path / "store.duckdb"
    import_registry(good_registry, store)
    con = duckdb.connect(str(store), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(diagnosis_id) FROM diagnoses").fetchone() == (
            n - 1, n - 1)
    finally:
        con.close()


def test_xlsx_formula_without_a_computed_value_is_named(good_registry: Path) -> None:
    """openpyxl writes formulas without values: the cell is not silently empty."""
    rows = good_rows()["patients"]
    (good_registry / "patients.csv").unlink()
    _write_xlsx(good_registry / "patients.xlsx", ["patient_id", "sex", "birth_date"],
                [[r["patient_id"], r["sex"], r["birth_date"]] for r in rows])
    import openpyxl

    workbook = openpyxl.load_workbook(good_registry / "patients.xlsx")
    workbook.active["C3"] = '=DATE(1962,11,2)'
    workbook.save(good_registry / "patients.xlsx")
    problems = validate_source(good_registry).problems.query("file == 'patients.xlsx'")
    hit = problems.query("rule == 'cell.formula'")
    assert hit[["row", "column"]].values.tolist() == [[3, "birth_date"]]
    # one problem for the cell: not also "a value is required" (birth_date is required)
    cell = problems[(problems["row"] == 3) & (problems["column"] == "birth_date")]
    assert cell["rule"].tolist() == ["cell.formula"]


def test_an_xlsx_sheet_without_formulas_is_read_once(good_registry: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl

    from nenstudy.registry.sources import _sheet_xml

    rows = good_rows()["patients"]
    (good_registry / "patients.csv").unlink()
    path = good_registry / "patients.xlsx"
    _write_xlsx(path, ["patient_id", "sex", "birth_date"],
                [[r["patient_id"], r["sex"], r["birth_date"]] for r in rows])
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    assert not _sheet_xml(path, sheet).formulas
    opened = []
    real = openpyxl.load_workbook

    def counted(*args: object, **kwargs: object) -> object:
        opened.append(kwargs.get("data_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", counted)
    assert validate_source(good_registry).ok
    assert opened == [True]
    monkeypatch.setattr(openpyxl, "load_workbook", real)
    workbook = openpyxl.load_workbook(path)
    workbook.active["D2"] = "=1+1"  # a formula outside the table's columns still counts
    workbook.save(path)
    assert _sheet_xml(path, openpyxl.load_workbook(path, read_only=True).worksheets[0]).formulas


def test_merged_xlsx_cells_are_errors_not_empty_cells(good_registry: Path) -> None:
    """Cells merged in a spreadsheet keep the value in the first cell only: the others would
    read as empty, silently. Each merged range is an error at its first row."""
    import openpyxl

    path = _patients_xlsx(good_registry)
    workbook = openpyxl.load_workbook(path)
    workbook.active["B3"] = workbook.active["B2"].value
    workbook.active.merge_cells("B2:B3")  # same sex for two patients, typed once
    workbook.save(path)
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'cell.merged'")
    assert hit[["file", "row"]].values.tolist() == [["patients.xlsx", 2]]
    assert "B2:B3" in hit["message"].iloc[0] and "B2 only" in hit["message"].iloc[0]
    assert not report.ok


def test_a_long_free_text_cell_is_not_a_malformed_row(good_registry: Path) -> None:
    """Python's csv module limits a field to 128 KiB by default; a long note is not an error."""
    rows = good_rows()
    rows["diagnoses"][0]["notes"] = "x" * 200_000
    rows["diagnoses"][1]["notes"] = "two\nlines"  # more lines than records: rows re-counted
    write_table(good_registry, "diagnoses", rows["diagnoses"])
    report = validate_source(good_registry)
    assert report.ok, report.render()


def test_latin1_file_with_a_malformed_row_lists_it_without_a_traceback(
    good_registry: Path,
) -> None:
    """DuckDB stops at the malformed row before the Latin-1 byte: the re-read must not fail."""
    path = good_registry / "diagnoses.csv"
    lines = path.read_text().splitlines()
    lines[1] += ",extra"  # row 2: one value too many
    lines[3] += "caf\u00e9"  # row 4: Latin-1 text in its (last, empty) notes
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    report = validate_source(good_registry)
    assert report.problems.query("rule == 'file.row_width'")["row"].tolist() == [2]


@pytest.mark.parametrize("mixed", [False, True], ids=["latin-1", "latin-1 and utf-8"])
def test_a_file_read_without_its_malformed_rows_has_its_encoding_checked(
    good_registry: Path, mixed: bool
) -> None:
    """Latin-1 text before the malformed row: read as Latin-1, with its warning; mixed with
    UTF-8 text elsewhere, the mixed-encoding error (not garbled text read without a word)."""
    path = good_registry / "diagnoses.csv"
    lines = path.read_text().splitlines()
    data = [line.encode("utf-8") for line in lines]
    data[1] += "caf\u00e9".encode("latin-1")  # row 2: Latin-1 text in its notes
    data[3] += b",extra"  # row 4: one value too many
    if mixed:
        data[2] += "caf\u00e9".encode("utf-8")  # row 3: UTF-8 text
    path.write_bytes(b"\n".join(data) + b"\n")
    problems = validate_source(good_registry).problems.query("file == 'diagnoses.csv'")
    encoding = problems.query("rule == 'file.encoding'")
    assert encoding["severity"].tolist() == (["error"] if mixed else ["warning"])
    assert problems.query("rule == 'file.row_width'")["row"].tolist() == [4]


def test_space_before_an_opening_quote_counts_rows_as_duckdb_does(good_registry: Path) -> None:
    """A value ` "a<newline>b"` is one quoted value for DuckDB: later rows keep their numbers."""
    path = good_registry / "diagnoses.csv"
    header, d1, d2, d3 = path.read_text().splitlines()
    d2 = d2.rstrip(",") + ', "line one\nline two"'  # notes of row 3
    d3 = d3.replace(",2,,", ",9,,")  # row 5 (after a blank row 4): ECOG 9
    path.write_text("\n".join([header, d1, d2, "", d3]) + "\n")
    report = validate_source(good_registry)
    bad = report.problems.query("rule == 'range' and column == 'ecog_ps'")
    assert bad["row"].tolist() == [5]
    assert "rows 4)" in report.problems.query("rule == 'file.blank_rows'")["message"].iloc[0]


def test_a_formula_computed_to_empty_text_is_not_an_uncomputed_formula() -> None:
    """Excel caches IF(...,"") as an empty text (type str): a value, not a missing computation."""
    from types import SimpleNamespace

    from nenstudy.registry.sources import _UNCOMPUTED, _xlsx_value

    formula = SimpleNamespace(value='=IF(C3="dead",B3,"")')
    computed_empty = SimpleNamespace(value=None, data_type="str", number_format="General")
    never_computed = SimpleNamespace(value=None, data_type="n", number_format="General")
    assert _xlsx_value(computed_empty, formula) is None
    assert _xlsx_value(never_computed, formula) is _UNCOMPUTED


def _with_multiline_note(good_registry: Path, note: str) -> Path:
    """diagnoses.csv whose first record's notes hold ``note`` (quoted) and whose second record
    has an unknown stage."""
    import csv as _csv
    import io

    path = good_registry / "diagnoses.csv"
    rows = list(_csv.reader(io.StringIO(path.read_text())))
    header = rows[0]
    rows[1][header.index("notes")] = note
    rows[2][header.index("stage")] = "stage IV"
    out = io.StringIO()
    _csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue())
    return path


def test_values_with_line_breaks_keep_row_numbers_without_reading_the_file_again(
    good_registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nenstudy.registry import csvshape

    _with_multiline_note(good_registry, "first line\nsecond line")

    def not_needed(*args: object, **kwargs: object) -> None:
        raise AssertionError("no blank line: the rows need not be read again")

    monkeypatch.setattr(csvshape, "blank_rows", not_needed)
    report = validate_source(good_registry)
    hit = report.problems
    assert list(zip(hit["file"], hit["row"], hit["rule"])) == [("diagnoses.csv", 3, "allowed")]


def test_a_blank_line_inside_a_value_is_not_a_blank_row(good_registry: Path) -> None:
    _with_multiline_note(good_registry, "first paragraph\n\nsecond paragraph")
    report = validate_source(good_registry)
    hit = report.problems
    assert list(zip(hit["file"], hit["row"], hit["rule"])) == [("diagnoses.csv", 3, "allowed")]


def _patients_xlsx(good_registry: Path) -> Path:
    rows = good_rows()["patients"]
    (good_registry / "patients.csv").unlink()
    path = good_registry / "patients.xlsx"
    _write_xlsx(path, ["patient_id", "sex", "birth_date"],
                [[r["patient_id"], r["sex"], r["birth_date"]] for r in rows])
    return path


def _edit_sheet_xml(path: Path, edit) -> None:
    """Rewrite the first worksheet's XML of an XLSX file with ``edit(text) -> text``."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    name = "xl/worksheets/sheet1.xml"
    parts[name] = edit(parts[name].decode()).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for part, data in parts.items():
            archive.writestr(part, data)


def test_xlsx_rows_and_columns_beyond_a_wrong_stated_range_are_read(good_registry: Path) -> None:
    """Some programs write a sheet's used range (<dimension>) too small: nothing is dropped."""
    import re

    path = _patients_xlsx(good_registry)
    n_rows = len(good_rows()["patients"]) + 1
    import openpyxl

    workbook = openpyxl.load_workbook(path)
    workbook.active[f"B{n_rows}"] = "X"  # the last row: an unknown sex
    workbook.save(path)
    _edit_sheet_xml(path, lambda x: re.sub(r'<dimension ref="[^"]*"/>',
                                           '<dimension ref="A1:B2"/>', x))
    report = validate_source(good_registry)
    assert report.problems.query("rule == 'allowed'")["row"].tolist() == [n_rows]
    assert report.problems.query("rule == 'column.missing'").empty  # column C was read


def test_xlsx_values_beyond_the_last_header_column_are_an_error(good_registry: Path) -> None:
    """A value right of the header (a column without a name) is not dropped silently."""
    import openpyxl

    path = _patients_xlsx(good_registry)
    workbook = openpyxl.load_workbook(path)
    workbook.active["E3"] = "a stray value"
    workbook.save(path)
    hit = validate_source(good_registry).problems.query("rule == 'file.ragged'")
    assert hit[["file", "row"]].values.tolist() == [["patients.xlsx", 3]]
    assert "beyond the last header column" in hit["message"].iloc[0]


def test_xlsx_error_values_are_refused_not_read_as_text(good_registry: Path) -> None:
    import openpyxl

    path = _patients_xlsx(good_registry)
    workbook = openpyxl.load_workbook(path)
    workbook.active["B3"] = "#N/A"  # openpyxl stores it as an error value
    workbook.save(path)
    problems = validate_source(good_registry).problems
    hit = problems.query("rule == 'cell.error'")
    assert hit[["row", "column"]].values.tolist() == [[3, "sex"]]
    assert "#N/A" in hit["message"].iloc[0]
    # sex is required: the cell is one problem, not also a missing value
    cell = problems[(problems["row"] == 3) & (problems["column"] == "sex")]
    assert cell["rule"].tolist() == ["cell.error"]


def test_xlsx_array_formula_without_a_computed_value_is_named(good_registry: Path) -> None:
    import openpyxl
    from openpyxl.worksheet.formula import ArrayFormula

    path = _patients_xlsx(good_registry)
    workbook = openpyxl.load_workbook(path)
    workbook.active["B2"] = ArrayFormula("B2", '=UPPER("m")')
    workbook.save(path)
    hit = validate_source(good_registry).problems.query("rule == 'cell.formula'")
    assert hit[["row", "column"]].values.tolist() == [[2, "sex"]]


def test_an_unreadable_workbook_does_not_quote_its_cells(good_registry: Path) -> None:
    path = _patients_xlsx(good_registry)
    secret = good_rows()["patients"][0]["patient_id"]
    # a text cell marked as a number: openpyxl fails converting it, quoting the text
    _edit_sheet_xml(path, lambda x: x.replace('<c r="A2" t="inlineStr"><is><t>' + secret
                                              + '</t></is></c>',
                                              f'<c r="A2" t="n"><v>{secret}</v></c>'))
    report = validate_source(good_registry)
    assert "file.unreadable" in set(report.problems["rule"])
    assert secret not in report.render()
    shown = validate_source(good_registry, show_identifiers=True).render()
    assert secret in shown


def test_a_password_protected_workbook_is_named(good_registry: Path) -> None:
    (good_registry / "patients.csv").unlink()
    (good_registry / "patients.xlsx").write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    hit = validate_source(good_registry).problems.query("rule == 'file.format'")
    assert "password-protected" in hit["message"].iloc[0]


def test_a_missing_header_row_is_one_error_without_the_values(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[1:]))
    report = validate_source(good_registry)
    assert report.problems.query("file == 'patients.csv'")["rule"].tolist() == ["header.missing"]
    first = good_rows()["patients"][0]
    assert first["patient_id"] not in report.render()


def _to_parquet(good_registry: Path, table: str, arrow_table) -> None:
    import pyarrow.parquet as pq

    (good_registry / f"{table}.csv").unlink(missing_ok=True)
    pq.write_table(arrow_table, good_registry / f"{table}.parquet")


def test_parquet_lists_in_a_single_value_column_are_refused(good_registry: Path) -> None:
    import pyarrow as pa

    rows = good_rows()["patients"]
    _to_parquet(good_registry, "patients", pa.table({
        "patient_id": [r["patient_id"] for r in rows],
        "sex": [[r["sex"]] for r in rows],  # one-item lists: must not pass for values
        "birth_date": [r["birth_date"] for r in rows],
    }))
    hit = validate_source(good_registry).problems.query("rule == 'column.type'")
    assert hit["column"].tolist() == ["sex"] and "lists" in hit["message"].iloc[0]


@pytest.mark.parametrize("arrow_type", ["int32", "int64", "float64"])
def test_parquet_day_counts_in_a_date_column_are_one_error(good_registry: Path,
                                                            arrow_type: str) -> None:
    """Days since 1970 (as R or pandas may write them) are not taken for Excel serial dates, nor
    for dates at all: one error for the column, not one per row."""
    import datetime as dt

    import pyarrow as pa

    rows = good_rows()["patients"]
    days = [(dt.date.fromisoformat(r["birth_date"]) - dt.date(1970, 1, 1)).days for r in rows]
    _to_parquet(good_registry, "patients", pa.table({
        "patient_id": [r["patient_id"] for r in rows], "sex": [r["sex"] for r in rows],
        "birth_date": pa.array(days).cast(arrow_type),
    }))
    problems = validate_source(good_registry).problems.query("file == 'patients.parquet'")
    assert problems["rule"].tolist() == ["column.type"]
    assert problems["column"].tolist() == ["birth_date"]
    message = problems["message"].iloc[0]
    assert "Parquet DATE" in message and "Excel serial" not in message


@pytest.mark.parametrize("arrow_type", ["float64", "float32", "decimal128(12, 1)"])
def test_parquet_decimal_identifiers_are_one_error_not_text_like_1_0(good_registry: Path,
                                                                      arrow_type: str) -> None:
    """pandas writes an integer ID column with one empty cell as floats: 1000001 is never
    stored as '1000001.0' (which would match no other table, with only orphans to show)."""
    import pyarrow as pa

    rows = good_rows()["patients"]
    numbers = [float(r["patient_id"][1:]) for r in rows]  # P001 -> 1.0
    target = (pa.decimal128(12, 1) if arrow_type.startswith("decimal")
              else getattr(pa, arrow_type)())
    _to_parquet(good_registry, "patients", pa.table({
        "patient_id": pa.array(numbers).cast(target), "sex": [r["sex"] for r in rows],
        "birth_date": [r["birth_date"] for r in rows],
    }))
    problems = validate_source(good_registry).problems.query("file == 'patients.parquet'")
    assert problems[["rule", "column"]].values.tolist() == [["column.type", "patient_id"]]
    assert "'1000001.0'" in problems["message"].iloc[0]


def test_every_parquet_column_of_an_unreadable_type_is_listed(good_registry: Path) -> None:
    """Float identifiers and a date column with a time zone: both named at once (the first
    used to hide the other), each saying that the rows are checked once it is mended."""
    import datetime as dt

    import pyarrow as pa

    rows = good_rows()["patients"]
    births = [dt.datetime.fromisoformat(r["birth_date"]) for r in rows]
    _to_parquet(good_registry, "patients", pa.table({
        "patient_id": pa.array([float(r["patient_id"][1:]) for r in rows]),
        "sex": [r["sex"] for r in rows],
        "birth_date": pa.array(births, pa.timestamp("us", tz="UTC")),
    }))
    problems = validate_source(good_registry).problems.query("file == 'patients.parquet'")
    assert problems[["rule", "column"]].values.tolist() == [["column.type", "birth_date"],
                                                            ["column.type", "patient_id"]]
    assert all(m.endswith("the file's rows are checked once this is mended")
               for m in problems["message"])


def test_a_parquet_nan_for_a_missing_number_is_one_error_saying_so(good_registry: Path
                                                                    ) -> None:
    """pyarrow writes a pandas float column's missing values as NaN, not null: each is refused
    (never taken for a value, nor silently for a missing one), and only once (not also as a
    second result on a gene's row)."""
    import pyarrow as pa

    rows = good_rows()["molecular_tests"]
    columns = {c: [r.get(c) or None for r in rows] for c in rows[0] if c != "tmb"}
    columns["gene"] = [r.get("gene") for r in rows]
    columns["alteration"] = [r.get("alteration") for r in rows]
    columns["msi_status"] = [r.get("msi_status") for r in rows]
    columns["tmb"] = pa.array([float(r["tmb"]) if r.get("tmb") else float("nan") for r in rows],
                              from_pandas=False)
    _to_parquet(good_registry, "molecular_tests", pa.table(columns))
    problems = validate_source(good_registry).problems.query("file == 'molecular_tests.parquet'")
    assert problems[["row", "column", "rule"]].values.tolist() == [
        [2, "tmb", "type.float"], [4, "tmb", "type.float"]], problems
    assert problems["message"].str.startswith("NaN (not a number)").all()


def test_parquet_integer_identifiers_are_read_as_their_digits(good_registry: Path) -> None:
    import pyarrow as pa

    rows = good_rows()["patients"]
    _to_parquet(good_registry, "patients", pa.table({
        "patient_id": pa.array([int(r["patient_id"][1:]) for r in rows], pa.int64()),
        "sex": [r["sex"] for r in rows], "birth_date": [r["birth_date"] for r in rows],
    }))
    problems = validate_source(good_registry).problems
    assert "column.type" not in problems["rule"].tolist()
    assert problems.query("rule == 'orphan'")["value"].notna().all()  # P001 is not '1'


def test_parquet_list_elements_missing_or_holding_the_separator_are_errors(
    good_registry: Path
) -> None:
    """Joined into text, a null element would vanish and 'bone;nodes' become two tokens."""
    import pyarrow as pa

    rows = good_rows()["diagnoses"]
    sites = [["liver", None], ["bone;nodes"], ["lung", " "]]
    columns = {h: [r.get(h) or None for r in rows] for h in TABLES["diagnoses"].column_names
               if h != "metastatic_sites"}
    for name in ("ki67_pct", "mitoses_per_2mm2", "non_ne_component_pct"):
        columns[name] = [None if v is None else float(v) for v in columns[name]]
    for name in ("ecog_ps", "karnofsky"):
        columns[name] = [None if v is None else int(v) for v in columns[name]]
    _to_parquet(good_registry, "diagnoses", pa.table(
        {**columns, "metastatic_sites": pa.array(sites, pa.list_(pa.string()))}))
    hit = validate_source(good_registry).problems.query("rule == 'list.element'")
    assert hit[["row", "column"]].values.tolist() == [[2, "metastatic_sites"],
                                                       [3, "metastatic_sites"],
                                                       [4, "metastatic_sites"]]
    assert "missing" in hit["message"].iloc[0] and "';'" in hit["message"].iloc[1]
    assert hit["value"].iloc[1] == "bone;nodes" and "empty" in hit["message"].iloc[2]


def test_parquet_binary_text_is_read_as_utf8_or_refused(good_registry: Path) -> None:
    import pyarrow as pa

    rows = good_rows()["patients"]
    ids = [r["patient_id"].encode() for r in rows]
    columns = {"sex": [r["sex"] for r in rows], "birth_date": [r["birth_date"] for r in rows]}
    _to_parquet(good_registry, "patients",
                pa.table({"patient_id": pa.array(ids, pa.binary()), **columns}))
    assert validate_source(good_registry).ok
    ids[1] = b"P\xff" + ids[1]  # not UTF-8
    _to_parquet(good_registry, "patients",
                pa.table({"patient_id": pa.array(ids, pa.binary()), **columns}))
    report = validate_source(good_registry)
    hit = report.problems.query("file == 'patients.parquet'")
    assert hit["rule"].tolist() == ["file.unreadable"]
    assert "not UTF-8" in hit["message"].iloc[0] and rows[1]["patient_id"] not in report.render()


def test_parquet_columns_differing_only_in_case_are_one_error(good_registry: Path) -> None:
    import pyarrow as pa

    rows = good_rows()["patients"]
    _to_parquet(good_registry, "patients", pa.table({
        "patient_id": [r["patient_id"] for r in rows], "sex": [r["sex"] for r in rows],
        "birth_date": [r["birth_date"] for r in rows], "SEX": ["M" for _ in rows],
    }))
    hit = validate_source(good_registry).problems.query("file == 'patients.parquet'")
    assert hit["rule"].tolist() == ["column.duplicate"]


def test_parquet_float32_is_read_as_the_number_it_shows(good_registry: Path,
                                                       tmp_path: Path) -> None:
    import pyarrow as pa

    from nenstudy.registry.store import open_store

    frame = pd.read_csv(good_registry / "diagnoses.csv", dtype=str)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    ki67 = pa.array([2.7 if v else None for v in frame["ki67_pct"].notna()], pa.float32())
    arrow = arrow.set_column(arrow.schema.get_field_index("ki67_pct"), "ki67_pct", ki67)
    _to_parquet(good_registry, "diagnoses", arrow)
    db = tmp_path / "store.duckdb"
    import_registry(good_registry, db)
    values = {v for (v,) in open_store(db).execute("SELECT ki67_pct FROM diagnoses").fetchall()}
    assert values <= {2.7, None} and 2.7 in values


def test_a_file_mixing_utf8_and_latin1_is_an_error_at_its_row(good_registry: Path) -> None:
    """Read as Latin-1, its UTF-8 text would be garbled (and the reverse): never stored."""
    rows = good_rows()
    rows["diagnoses"][0]["notes"] = "line one\nline two"  # row 2 spans two lines
    rows["diagnoses"][1]["notes"] = "R\u00e9section"  # UTF-8, row 3
    write_table(good_registry, "diagnoses", rows["diagnoses"])
    path = good_registry / "diagnoses.csv"
    lines = path.read_bytes().split(b"\n")
    lines[4] = lines[4].replace(b"\r", b"caf\xe9\r")  # row 4 (the fifth line): Latin-1
    path.write_bytes(b"\n".join(lines))
    hit = validate_source(good_registry).problems.query("rule == 'file.encoding'")
    assert hit[["severity", "row"]].values.tolist() == [["error", 4]]
    assert "row 3" in hit["message"].iloc[0]


def test_windows_1252_row_counts_values_spanning_lines(good_registry: Path) -> None:
    rows = good_rows()
    rows["diagnoses"][0]["notes"] = "one\ntwo\nthree"  # row 2 spans three lines
    write_table(good_registry, "diagnoses", rows["diagnoses"])
    path = good_registry / "diagnoses.csv"
    lines = path.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"\r", b"\x80\r")  # the sixth line is row 4
    path.write_bytes(b"\n".join(lines))
    hit = validate_source(good_registry).problems.query("rule == 'file.encoding'")
    assert hit["row"].tolist() == [4]


def test_a_stray_quote_merging_two_rows_is_named(good_registry: Path) -> None:
    """An opening quote in row 3's note swallows row 4 up to a quote in its own note."""
    path = good_registry / "diagnoses.csv"
    lines = path.read_text().split("\n")
    lines[2] = lines[2].rstrip("\r") + '"Lesion 2'
    lines[3] = lines[3].rstrip("\r") + 'cm"'
    path.write_text("\n".join(lines))
    hit = validate_source(good_registry, show_identifiers=True).problems.query(
        "rule == 'value.merged_rows'")
    assert hit[["severity", "row", "column"]].values.tolist() == [["error", 3, "notes"]]
    # the merged value holds the next row's identifiers: only its length is shown
    assert hit["value"].str.fullmatch(r"\(\d+ characters, not shown\)").all()


def test_utf16_without_a_byte_order_mark_is_named(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_bytes(path.read_text().encode("utf-16-le"))
    hit = validate_source(good_registry).problems.query("file == 'patients.csv'")
    assert hit["rule"].tolist() == ["file.encoding"] and "UTF-16" in hit["message"].iloc[0]


def test_a_broken_link_or_folder_named_as_a_table_file_is_named(good_registry: Path) -> None:
    (good_registry / "patients.csv").unlink()
    (good_registry / "patients.csv").symlink_to(good_registry / "gone.csv")
    (good_registry / "follow_up.csv").unlink()
    (good_registry / "follow_up.csv").mkdir()
    problems = validate_source(good_registry).problems
    messages = dict(zip(problems["file"], problems["message"]))
    assert "does not exist" in messages["patients.csv"]
    assert "not a file" in messages["follow_up.csv"]


def test_hidden_rows_and_a_hidden_first_sheet_are_warned(good_registry: Path) -> None:
    """Rows hidden (or filtered out) in a spreadsheet are data all the same: read, with a
    warning naming them; a hidden first sheet is the one read, with a warning."""
    import openpyxl

    path = _patients_xlsx(good_registry)
    workbook = openpyxl.load_workbook(path)
    workbook.active.row_dimensions[3].hidden = True
    workbook.create_sheet("notes")
    workbook.active.sheet_state = "hidden"
    workbook.save(path)
    report = validate_source(good_registry)
    problems = report.problems.query("file == 'patients.xlsx'")
    # the second sheet is named too (only the first is read)
    assert sorted(problems["rule"]) == ["file.sheets", "file.sheets", "row.hidden"]
    assert set(problems["severity"]) == {"warning"}
    hidden = problems[problems["rule"] == "row.hidden"]
    assert hidden["row"].tolist() == [3] and "rows 3;" in hidden["message"].iloc[0]
    sheets = " ".join(problems[problems["rule"] == "file.sheets"]["message"])
    assert "is hidden in the workbook" in sheets
    n_rows = len(good_rows()["patients"])
    assert report.ok and ("patients", "patients.xlsx", n_rows) in report.files


def test_merged_ranges_are_found_once_across_the_read_chunks(tmp_path: Path) -> None:
    """The sheet XML is read 1 MiB at a time: a range cut by a chunk's end is found, once."""
    import zipfile
    from types import SimpleNamespace

    from nenstudy.registry.sources import _sheet_xml

    chunk = 1 << 20
    element = b'<mergeCell ref="C7:D9"/>'
    head = b"<worksheet><sheetData/>"
    pad = b" " * (chunk - len(head) - 10)  # the element then straddles the first chunk's end
    xml = head + pad + element + b'<x:mergeCell ref="A2:A5"/>' \
        + b" " * (chunk - 60) + b'<mergeCell ref="B1:B2"/></worksheet>'
    assert xml.index(element) < chunk < xml.index(element) + len(element)
    path = tmp_path / "sheet.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", xml)
    sheet = SimpleNamespace(_worksheet_path="xl/worksheets/sheet1.xml")
    assert _sheet_xml(path, sheet).merged == ["C7:D9", "A2:A5", "B1:B2"]


def test_hidden_rows_are_found_once_across_the_read_chunks(tmp_path: Path) -> None:
    import zipfile
    from types import SimpleNamespace

    from nenstudy.registry.sources import _sheet_xml

    chunk = 1 << 20
    row = b'<row r="42" spans="1:3" hidden="1" customHeight="1">'
    head = b"<worksheet><sheetData>"
    xml = head + b" " * (chunk - len(head) - 20) + row + b"</row>" \
        + b'<row r="43"></row><row hidden="true" r="44"></row></sheetData></worksheet>'
    assert xml.index(row) < chunk < xml.index(row) + len(row)
    path = tmp_path / "sheet.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", xml)
    found = _sheet_xml(path, SimpleNamespace(_worksheet_path="xl/worksheets/sheet1.xml"))
    assert found.hidden_rows == [42, 44] and found.merged == [] and not found.formulas


def test_a_table_saved_only_as_an_unsupported_type_is_named_once(good_registry: Path) -> None:
    (good_registry / "follow_up.csv").rename(good_registry / "follow_up.txt")
    report = validate_source(good_registry)
    assert report.problems[["file", "rule"]].values.tolist() == [["follow_up.txt",
                                                                  "file.format"]]


def test_an_excel_lock_file_is_named_as_one(good_registry: Path) -> None:
    (good_registry / "~$patients.xlsx").write_bytes(b"\x00" * 165)
    hit = validate_source(good_registry).problems.query("rule == 'file.unexpected'")
    assert "open in Excel" in hit["message"].iloc[0]


def test_an_empty_parquet_file_is_not_said_to_lack_a_header(good_registry: Path) -> None:
    (good_registry / "patients.csv").unlink()
    (good_registry / "patients.parquet").write_bytes(b"")
    hit = validate_source(good_registry).problems.query("rule == 'file.empty'")
    assert hit["file"].tolist() == ["patients.parquet"]
    assert "header" not in hit["message"].iloc[0] and "Parquet" in hit["message"].iloc[0]


def test_a_latin1_file_lists_its_unnamed_columns_once(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace("1950", "1950") + ",Jos\u00e9"
    lines[0] += ","
    path.write_bytes(("\n".join(lines[:2] + [f"{x}," for x in lines[2:]]) + "\n")
                     .encode("latin-1"))
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'column.unnamed'")
    assert len(hit) == 1 and "(row 2)" in hit["message"].iloc[0]


@pytest.mark.parametrize("name", ["molecular_tests_2.csv", "Molecular_Tests (1).csv",
                                  "molecular_tests-2023.parquet"])
def test_a_second_file_of_a_table_is_an_error_not_rows_left_out(good_registry: Path,
                                                                 name: str) -> None:
    csv_file = good_registry / "molecular_tests.csv"
    if name.endswith(".parquet"):
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv_file}', all_varchar = true)) "
                   f"TO '{good_registry / name}' (FORMAT parquet)")
    else:
        (good_registry / name).write_text(csv_file.read_text())
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'file.split'")
    assert hit[["severity", "file"]].values.tolist() == [["error", name]]
    assert "molecular_tests.csv" in hit["message"].iloc[0] and not report.ok


def test_a_file_whose_name_only_resembles_a_table_stays_a_warning(good_registry: Path) -> None:
    """A name without a separator, or a codebook sharing a table's name but not its header."""
    for name in ("patientsbackup.csv", "my_patients.csv", "problems.csv"):
        (good_registry / name).write_text((good_registry / "patients.csv").read_text())
    (good_registry / "patients_codebook.csv").write_text("variable,description\nsex,F or M\n")
    (good_registry / "diagnoses_summary.csv").write_text(
        "primary_site,who_category,n\nC25.9,NEC,3\n")
    report = validate_source(good_registry)
    assert "file.split" not in set(report.problems["rule"]) and report.ok


def test_xlsx_rows_of_a_table_on_a_second_sheet_are_an_error(good_registry: Path) -> None:
    """Only the first sheet is read: a second sheet with the table's header holds rows that
    would be left out; a sheet of notes stays a warning."""
    import openpyxl

    rows = good_rows()["molecular_tests"]
    header = list(TABLES["molecular_tests"].column_names)
    (good_registry / "molecular_tests.csv").unlink()
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.append(header)
    first.append([rows[0].get(h) or None for h in header])
    notes = workbook.create_sheet("notes")
    notes.append(["checked by", "date"])
    summary = workbook.create_sheet("summary")  # a few of the table's names, not its header
    summary.append(["gene", "result", "n"])
    later = workbook.create_sheet("2023")
    later.append(header)
    for row in rows[1:]:
        later.append([row.get(h) or None for h in header])
    workbook.save(good_registry / "molecular_tests.xlsx")
    problems = validate_source(good_registry).problems.query("rule == 'file.sheets'")
    assert problems["severity"].tolist() == ["error", "warning"]
    assert "'2023'" in problems["message"].iloc[0] and "notes" not in problems["message"].iloc[0]


@pytest.mark.parametrize(("line", "newline"), [("sep=,", "\n"), ("sep=;", "\r\n"),
                                               ("SEP=,", "\n")])
def test_excels_separator_line_is_one_error_not_a_shifted_file(good_registry: Path, line: str,
                                                               newline: str) -> None:
    """Excel may write 'sep=,' above the header: one error naming it, not a cascade of ragged
    rows with the header taken for row 2."""
    path = good_registry / "follow_up.csv"
    path.write_bytes((line + newline).encode() + path.read_bytes())
    problems = validate_source(good_registry).problems.query("file == 'follow_up.csv'")
    assert problems[["rule", "row"]].values.tolist() == [["file.header", 1]]
    assert repr(line) in problems["message"].iloc[0]


def test_xlsx_a_title_above_the_header_is_one_error(good_registry: Path) -> None:
    """A title in A1 and the header on row 3: "header missing", without a ragged-row error
    for every row wider than the title."""
    import openpyxl

    rows = good_rows()["follow_up"]
    header = list(TABLES["follow_up"].column_names)
    (good_registry / "follow_up.csv").unlink()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Follow-up export, 2023"])
    sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(h) or None for h in header])
    workbook.save(good_registry / "follow_up.xlsx")
    problems = validate_source(good_registry).problems.query("file == 'follow_up.xlsx'")
    assert problems["rule"].tolist() == ["header.missing"]


def test_a_file_changed_while_it_is_read_is_an_error(good_registry: Path, monkeypatch) -> None:
    """Rows read from one version and the digest of another are never stored together."""
    import nenstudy.registry.sources as sources

    real = sources._load_csv

    def then_written(con, table, file, *args, **kwargs):
        made = real(con, table, file, *args, **kwargs)
        if table.name == "follow_up":  # another program saves the file meanwhile
            file.write_text(file.read_text() + file.read_text().splitlines()[-1] + "\n")
        return made

    monkeypatch.setattr(sources, "_load_csv", then_written)
    report = validate_source(good_registry)
    hit = report.problems.query("rule == 'file.changed'")
    assert hit[["severity", "file"]].values.tolist() == [["error", "follow_up.csv"]]
    assert not report.ok


def test_parquet_whole_decimal_identifiers_are_read_as_their_digits(good_registry: Path) -> None:
    """DECIMAL(10,0), as SAS or Spark write integer IDs: read as 1000001, not refused."""
    import pyarrow as pa

    rows = good_rows()["patients"]
    _to_parquet(good_registry, "patients", pa.table({
        "patient_id": pa.array([int(r["patient_id"][1:]) for r in rows], pa.int32()).cast(
            pa.decimal128(10, 0)),
        "sex": [r["sex"] for r in rows], "birth_date": [r["birth_date"] for r in rows],
    }))
    problems = validate_source(good_registry).problems
    assert "column.type" not in problems["rule"].tolist()


def test_xlsx_a_long_integer_written_whole_is_no_error(good_registry: Path) -> None:
    """A 16-digit integer written by pandas or openpyxl reaches the reader whole (an int, not
    Excel's 15-digit float): it lost nothing."""
    workbook, sheet, header = _treatments_workbook(good_registry)
    column = header.index("treatment_id") + 1
    for i in range(2, sheet.max_row + 1):
        sheet.cell(row=i, column=column).value = 2023010112345670 + i
    workbook.save(good_registry / "treatments.xlsx")
    problems = validate_source(good_registry).problems
    assert "cell.digits" not in problems["rule"].tolist()


def test_a_row_quoting_a_disk_error_is_still_a_row_problem(good_registry: Path) -> None:
    """The words of a storage failure inside a malformed row's text do not stop validation."""
    path = good_registry / "follow_up.csv"
    lines = path.read_text().splitlines()
    lines[1] = lines[1] + ",No space left on device, could not write"
    path.write_text("\n".join(lines) + "\n")
    problems = validate_source(good_registry).problems.query("file == 'follow_up.csv'")
    assert 2 in problems["row"].dropna().astype(int).tolist(), problems
