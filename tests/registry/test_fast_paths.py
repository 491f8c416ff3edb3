"""The import's fast paths give exactly what the plain rules give (typing, trimming, Parquet)."""

from __future__ import annotations

import datetime as dt
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


@pytest.mark.parametrize("text", ["a;b", "a; b", "a;;b", ";a", "a;", " a ", "a;\tb", ";", " "])
def test_list_typing_matches_split_trim_and_drop_empty_tokens(text: str) -> None:
    con = duckdb.connect()
    reference = (
        "list_filter(list_transform(string_split(x, ';'), lambda t: trim(t)), lambda t: t <> '')"
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
