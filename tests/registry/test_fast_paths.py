"""The import's fast paths give exactly what the plain rules give (typing, trimming, Parquet)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nenstudy.registry import sql
from nenstudy.registry.schema import TABLES
from nenstudy.registry.store import import_registry, open_store
from nenstudy.registry.validation import validate_source

ODD_TEXT = [
    "2019-02-01", "2019-2-01", "2019-02-1", "2019/02/01", "20190201", "2019-02-30",
    "02-01-2019", "2019-02-01T00:00", "-019-02-01", "2019-0a-01", "٢٠١٩-٠٢-٠١",
    "3", "03", "+3", "-3", "3.0", "3.00", "3.5", "1e2", "999", "1000", "123456789",
    "1234567890", " 3", "", "abc", "3.", ".0",
]


def _value(con: duckdb.DuckDBPyConnection, expr: str, text: str):
    return con.execute(f"SELECT {expr} FROM (SELECT ?::VARCHAR AS x)", [text]).fetchone()[0]


@pytest.mark.parametrize("text", ODD_TEXT)
def test_date_typing_matches_the_iso_regular_expression(text: str) -> None:
    con = duckdb.connect()
    reference = (
        f"CASE WHEN regexp_full_match(x, '{sql.ISO_DATE_RE}') THEN TRY_CAST(x AS DATE) END"
    )
    fast = sql.typed_expr(TABLES["patients"].column("birth_date"), "x")
    assert _value(con, fast, text) == _value(con, reference, text)


@pytest.mark.parametrize("text", ODD_TEXT)
def test_integer_typing_matches_the_integer_regular_expression(text: str) -> None:
    con = duckdb.connect()
    reference = (
        f"CASE WHEN regexp_full_match(x, '{sql.INT_RE}') "
        "THEN CAST(split_part(x, '.', 1) AS INTEGER) END"
    )
    fast = sql.typed_expr(TABLES["diagnoses"].column("ecog_ps"), "x")
    assert _value(con, fast, text) == _value(con, reference, text)


@pytest.mark.parametrize("text", ["a;b", "a; b", "a;;b", ";a", "a;", " a ", "a;\tb", ";", " ",
                                  "a\u00a0;b", "a;\u00a0b\u00a0", "\u00a0", "a\u00a0b",
                                  "a;\nb", "a;\r\nb", "a\n;b", "a;b\r"])
def test_list_typing_matches_split_trim_and_drop_empty_tokens(text: str) -> None:
    con = duckdb.connect()
    reference = (
        "list_filter(list_transform(string_split(x, ';'), "
        f"lambda t: trim(t, {sql.WHITESPACE})), lambda t: t <> '')"
    )
    fast = sql.typed_expr(TABLES["treatments"].column("agents"), "x")
    assert _value(con, fast, text) == _value(con, reference, text)


def test_padded_dates_and_numbers_are_trimmed_then_typed(good_registry: Path, tmp_path: Path
                                                         ) -> None:
    path = good_registry / "patients.csv"
    path.write_text(path.read_text().replace("1950-03-14", "\t1950-03-14\u00a0"),
                    encoding="utf-8")
    db = tmp_path / "store.duckdb"
    import_registry(good_registry, db)
    con = open_store(db)
    try:
        births = [r[0] for r in con.execute("SELECT birth_date FROM patients").fetchall()]
    finally:
        con.close()
    assert dt.date(1950, 3, 14) in births


def test_padded_non_iso_date_is_still_a_type_error(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_text(path.read_text().replace("1950-03-14", "1950-3-14 "), encoding="utf-8")
    hit = validate_source(good_registry).problems.query("rule == 'type.date'")
    assert list(zip(hit["row"], hit["column"], hit["value"])) == [(2, "birth_date", "1950-3-14")]


def _diagnoses_parquet(folder: Path, **changes) -> None:
    frame = pd.read_csv(folder / "diagnoses.csv", dtype=str, keep_default_na=False)
    frame = frame.replace("", None)
    frame["diagnosis_date"] = pd.to_datetime(frame["diagnosis_date"]).dt.date
    frame["mdt_date"] = pd.to_datetime(frame["mdt_date"]).dt.date
    frame["ki67_pct"] = frame["ki67_pct"].astype(float)
    frame["ecog_ps"] = pd.array([1, 0, 2], dtype="Int64")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for column, values in changes.items():
        # pa.array keeps a NaN a NaN (pandas would write it as a null)
        table = table.set_column(table.schema.get_field_index(column), column, pa.array(values))
    (folder / "diagnoses.csv").unlink()
    pq.write_table(table, folder / "diagnoses.parquet")


def test_typed_parquet_columns_import_without_problems(good_registry: Path, tmp_path: Path
                                                       ) -> None:
    _diagnoses_parquet(good_registry)
    db = tmp_path / "store.duckdb"
    import_registry(good_registry, db)
    con = open_store(db)
    try:
        row = con.execute(
            "SELECT diagnosis_date, ki67_pct, ecog_ps FROM diagnoses WHERE diagnosis_id = 'D001'"
        ).fetchone()
    finally:
        con.close()
    assert row == (dt.date(2019, 2, 1), 80.0, 1)


def test_parquet_integer_too_large_for_the_store_is_a_type_error(good_registry: Path) -> None:
    _diagnoses_parquet(good_registry, ecog_ps=[1, 2**40, 2])
    hit = validate_source(good_registry).problems.query("rule == 'type.int'")
    assert list(zip(hit["file"], hit["row"], hit["column"])) == [
        ("diagnoses.parquet", 3, "ecog_ps")
    ]


def test_parquet_nan_number_is_a_type_error(good_registry: Path) -> None:
    _diagnoses_parquet(good_registry, ki67_pct=[80.0, float("nan"), 90.0])
    hit = validate_source(good_registry).problems.query("rule == 'type.float'")
    assert list(zip(hit["row"], hit["column"], hit["value"])) == [(3, "ki67_pct", "nan")]


def _many_patients(folder: Path, n: int) -> list[str]:
    """Write ``n`` patients with a diagnosis and follow-up; return the ids in file order."""
    ids = [f"P{(i * 7919) % 1_000_003:07d}" for i in range(n)]  # not sorted: order is visible
    with open(folder / "patients.csv", "w", encoding="utf-8") as out:
        out.write("patient_id,sex,birth_date\n")
        out.writelines(
            f"{p},F,{dt.date(1930, 1, 1) + dt.timedelta(days=i % 20_000)}\n"
            for i, p in enumerate(ids)
        )
    with open(folder / "follow_up.csv", "w", encoding="utf-8") as out:
        out.write("patient_id,last_contact_date,vital_status,death_date\n")
        out.writelines(f"{p},2022-01-01,alive,\n" for p in ids)
    with open(folder / "diagnoses.csv", "w", encoding="utf-8") as out:
        out.write("diagnosis_id,patient_id,diagnosis_date,mdt_date,primary_site,who_category,"
                  "stage\n")
        out.writelines(f"D{p},{p},2020-01-01,2020-01-02,C25.9,NEC,localized\n" for p in ids)
    for table in ("molecular_tests", "treatments"):
        header = ",".join(TABLES[table].column_names)
        (folder / f"{table}.csv").write_text(header + "\n", encoding="utf-8")
    return ids


def test_store_rows_and_row_numbers_follow_the_file_across_many_read_buffers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nenstudy.registry import sources

    monkeypatch.setattr(sources, "_CSV_BUFFER_BYTES", 64 << 10)  # ~40 buffers, read in parallel
    folder = tmp_path / "registry"
    folder.mkdir()
    ids = _many_patients(folder, 60_000)
    lines = (folder / "patients.csv").read_text().splitlines()
    lines[45_001] = lines[45_001].replace(",F,", ",X,")  # data row 45001 = spreadsheet row 45002
    (folder / "patients.csv").write_text("\n".join(lines) + "\n")
    hit = validate_source(folder).problems.query("rule == 'allowed'")
    assert list(zip(hit["file"], hit["row"], hit["column"])) == [("patients.csv", 45_002, "sex")]
    lines[45_001] = lines[45_001].replace(",X,", ",F,")
    (folder / "patients.csv").write_text("\n".join(lines) + "\n")
    db = tmp_path / "store.duckdb"
    import_registry(folder, db)
    con = open_store(db)
    try:
        stored = [r[0] for r in con.execute("SELECT patient_id FROM patients ORDER BY rowid")
                  .fetchall()]
    finally:
        con.close()
    assert stored == ids


def test_reading_statements_hold_no_join() -> None:
    """A join in the statement that reads a file would lose the file order (the row numbers)."""
    from nenstudy.registry.validation import connect_work_db, typed_table_sql

    con = connect_work_db()
    for table in TABLES.values():
        text = ", ".join(f"CAST(NULL AS VARCHAR) AS {sql.raw(c.name)}" for c in table.columns)
        create, insert = typed_table_sql(
            table, f"(SELECT {text})", table.name
        ).split("; INSERT INTO ", 1)
        con.execute(create)
        plan = con.execute("EXPLAIN INSERT INTO " + insert).fetchall()[0][1]
        assert "JOIN" not in plan.upper(), table.name


def test_a_large_group_of_possible_duplicates_lists_a_few_rows_each(tmp_path: Path) -> None:
    folder = tmp_path / "registry"
    folder.mkdir()
    ids = _many_patients(folder, 3_000)
    lines = (folder / "patients.csv").read_text().splitlines()
    same = [line.rsplit(",", 1)[0] + ",1950-01-01" for line in lines[1:]]
    (folder / "patients.csv").write_text("\n".join([lines[0], *same]) + "\n")
    hit = validate_source(folder).problems.query("rule == 'duplicate_patient'")
    assert len(hit) == len(ids)
    assert hit["message"].iloc[0].startswith(
        "possibly the same person as patients.csv row(s) 3, 4, 5, 6, 7, ... ("
    )


@pytest.mark.parametrize("text", [" F", "F ", "  F  ", " ", "", "F", "a b"])
def test_spaces_only_trimming_matches_full_trimming_on_space_padded_text(text: str) -> None:
    from nenstudy.registry.sources import trimmed_sql

    con = duckdb.connect()
    assert _value(con, trimmed_sql("x", spaces_only=True), text) == _value(
        con, trimmed_sql("x"), text
    )


@pytest.mark.parametrize(
    "content, plain",
    [
        (b"a,b\n x ,y \n", True),
        (b"a,b\n\tx,y\n", False),
        (b"a,b\r\nx ,y\r\n", True),  # outside quotes DuckDB allows a CR only before LF
        (b'a,b\n"x\ny",z\n', False),
        ("a,b\nx\u00a0,y\n".encode("utf-8"), False),
        ("a,b\nx\u00a0,y\n".encode("latin-1"), False),
    ],
)
def test_only_plain_spaces_spots_tabs_line_breaks_quotes_and_no_break_spaces(
    tmp_path: Path, content: bytes, plain: bool
) -> None:
    from nenstudy.registry.csvshape import plain_spaces

    path = tmp_path / "t.csv"
    path.write_bytes(content)
    assert plain_spaces(path) is plain


@pytest.mark.parametrize(
    "content, n_lines",
    [(b"a,b\nx,y\n", 2), (b"a,b\nx,y", 2), (b"a,b\n\nx,y\n", 3), (b"a,b\r\nx,y\r\n\r\n", 3),
     (b'a,b\n"x\n\ny",z\n', 4), (b"", 0)],
)
def test_byte_scan_counts_lines(tmp_path: Path, content: bytes, n_lines: int) -> None:
    from nenstudy.registry.csvshape import byte_pass

    path = tmp_path / "t.csv"
    path.write_bytes(content)
    assert byte_pass(path, digest=False, lines=True) == (None, n_lines)


@pytest.mark.parametrize("last", [b"\n", b"x"], ids=["line break at the end", "none"])
def test_byte_pass_hashes_and_counts_a_file_of_several_blocks(tmp_path: Path, last: bytes) -> None:
    """The pass beside the reading: SHA-256 and lines of a file larger than its read blocks."""
    import hashlib

    from nenstudy.registry.csvshape import _BLOCK, byte_pass, plain_spaces

    line = b"NEN-0123456789abcdef,F,1960-01-31\n"
    content = line * (2 * _BLOCK // len(line) + 7) + b"tail,with,\ttab" + last
    path = tmp_path / "big.csv"
    path.write_bytes(content)
    digest, n_lines = byte_pass(path, digest=True, lines=True)
    assert digest == hashlib.sha256(content).hexdigest()
    assert n_lines == content.count(b"\n") + (last != b"\n")
    assert byte_pass(path, digest=False, lines=True) == (None, n_lines)
    assert byte_pass(path, digest=True, lines=False) == (digest, None)
    assert plain_spaces(path) is False  # the tab is in the last block only
    path.write_bytes(content.replace(b"\t", b" "))
    assert plain_spaces(path) is True


def test_space_padded_codes_in_a_plain_file_are_trimmed(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_text(path.read_text().replace("P001,F,", "P001, F ,"), encoding="utf-8")
    assert "P001, F ," in path.read_text()
    assert validate_source(good_registry).ok


def test_tab_padded_codes_are_trimmed(good_registry: Path) -> None:
    path = good_registry / "patients.csv"
    path.write_text(path.read_text().replace("P001,F,", "P001,\tF\u00a0,"), encoding="utf-8")
    assert "P001,\tF\u00a0," in path.read_text()
    assert validate_source(good_registry).ok


def test_files_read_two_at_a_time_are_listed_in_schema_order(good_registry: Path) -> None:
    from nenstudy.registry.schema import SCHEMA
    from nenstudy.registry.validation import validate_source

    # The largest file is read first; the listing must not follow the reading order.
    path = good_registry / "follow_up.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[-1]] * 2_000) + "\n")
    report = validate_source(good_registry)
    assert [name for name, _, _ in report.files] == [t.name for t in SCHEMA]


def test_file_level_problems_of_several_tables_are_all_reported(good_registry: Path) -> None:
    (good_registry / "molecular_tests.csv").unlink()
    (good_registry / "treatments.csv").write_text("")
    problems = validate_source(good_registry).problems
    found = set(zip(problems["file"], problems["rule"]))
    assert {("molecular_tests.csv", "file.missing"), ("treatments.csv", "file.empty")} <= found


def test_parquet_timestamps_with_a_time_zone_are_a_type_error_not_a_guess(
    good_registry: Path,
) -> None:
    """An instant with a zone falls on different days in different zones (midnight in Berlin
    is 23:00 UTC the day before): never guessed, and one error for the column, not per row."""
    moments = pd.to_datetime(["2019-02-01", "2020-05-10", "2021-01-15"]).tz_localize(
        "Europe/Berlin")
    _diagnoses_parquet(good_registry, diagnosis_date=pa.array(moments))
    problems = validate_source(good_registry).problems.query("file == 'diagnoses.parquet'")
    assert problems[["rule", "column"]].values.tolist() == [["column.type", "diagnosis_date"]]
    assert "time zone" in problems["message"].iloc[0]


def test_large_file_line_count_matches_bytes_count() -> None:
    import random

    from nenstudy.registry.csvshape import _count_line_breaks

    rng = random.Random(7)
    buffer = bytearray(rng.choice(b"ab,\n\r\"") for _ in range(100_000))
    whole, part = memoryview(buffer), memoryview(buffer)[:54_321]  # a full and a last block
    assert _count_line_breaks(whole) == bytes(buffer).count(b"\n")
    assert _count_line_breaks(part) == bytes(buffer[:54_321]).count(b"\n")


@pytest.mark.parametrize("content", [b"a,b\r\nx\ry,z\r\n", b"a,b\r\nx\r,z\r\n", b"a,b\nx\r,z\n"],
                         ids=["inside a value", "ending a value", "in a LF file"])
def test_a_carriage_return_outside_quotes_and_line_endings_is_refused(
    tmp_path: Path, content: bytes
) -> None:
    """Why a CR needs no trimming test: DuckDB's reader refuses one anywhere else."""
    from nenstudy.registry.sources import _csv_relation

    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(duckdb.Error):
        duckdb.connect().execute(f"SELECT * FROM {_csv_relation(path, 'utf-8', 2)}").fetchall()


def test_windows_line_endings_import_as_plain_files_do(good_registry: Path, tmp_path: Path) -> None:
    from nenstudy.registry.csvshape import plain_spaces

    folders = {}
    for name, newline in (("lf", b"\n"), ("crlf", b"\r\n")):
        folders[name] = tmp_path / name
        shutil.copytree(good_registry, folders[name])
        for path in folders[name].glob("*.csv"):
            lines = path.read_bytes().replace(b"\r\n", b"\n").split(b"\n")
            if path.name == "patients.csv":  # a padded code (trimmed) and an unknown one
                lines[1] = lines[1].replace(b",F,", b", F ,").replace(b",M,", b", M ,")
                lines[2] = lines[2].replace(b",F,", b",Z,").replace(b",M,", b",Z,")
            path.write_bytes(newline.join(lines))
    for path in folders["crlf"].glob("*.csv"):
        assert plain_spaces(path) == plain_spaces(folders["lf"] / path.name)
    assert plain_spaces(folders["crlf"] / "patients.csv")
    first, second = (validate_source(folders[name]) for name in ("lf", "crlf"))
    pd.testing.assert_frame_equal(first.problems, second.problems)
    assert list(zip(first.problems["row"], first.problems["rule"])) == [(3, "allowed")]
