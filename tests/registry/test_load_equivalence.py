"""The loading statement's cheaper expressions give exactly what the plain formulations give."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from nenstudy.registry import sql
from nenstudy.registry.schema import TABLES
from nenstudy.registry.typed import _absent, _given, _present

TRICKY_DATES = [
    "2020-01-05", "2020-1-5", "2020-01-5", "2020-1-05", " 2020-01-05", "2020-01-05 ",
    "2020-01-5 ", " 020-01-05", "-020-01-05", "+2020-01-05", "-2020-01-05", "2020/01/05",
    "2020 01 05", "2020\\01\\05", "20200105", "2020-02-30", "2020-02-29", "2019-02-29",
    "0020-01-05", "0000-01-01", "9999-12-31", "2020-01-05T00:00", "2020-01-05 00:00:00",
    "2020-13-01", "2020-00-10", "2020-01-00", "20-01-05", "020-01-05", "02020-01-05",
    "12-3-01-05", "1-01-01-05", "2020-01-05BC", "2020-01-05 (BC)", "1-1-1 (BC)", "44927",
    "03/04/2020", "infinity", "-infinity", "epoch", "2020-01-05\t", "\t2020-01-05",
    "2020-01-5\t", "2020-01-5\n", "2020-01-5\x0b", "\u00a02020-01-05", "２０２０-０１-０５",
    "٢٠٢٠-٠١-٠٥", "2020-01-05x", "2020--01-05", "2020-0a-05", "2020-01-055", "", " ", "-",
]
"""Texts around the ISO form: padding, signs, separators, digit counts, suffixes, unicode."""

_DATE_ALPHABET = "0123459-/ \t+T:.()BCZ\\a\u00a0٢"


def _date_like(rng: random.Random) -> str:
    """A random text near ``YYYY-MM-DD`` (edits of a valid date, or random characters)."""
    if rng.random() < 0.5:
        text = list(f"{rng.randint(0, 9999):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}")
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(text) + 1)
            edit = rng.random()
            if edit < 0.4 and i < len(text):
                text[i] = rng.choice(_DATE_ALPHABET)
            elif edit < 0.7:
                text.insert(i, rng.choice(_DATE_ALPHABET))
            elif i < len(text):
                del text[i]
        return "".join(text)
    return "".join(rng.choice(_DATE_ALPHABET) for _ in range(rng.randint(8, 12)))


def _compare(con: duckdb.DuckDBPyConnection, texts: list[str], reference: str, fast: str) -> list:
    """Texts (column ``x``) on which the two expressions differ (NULL-aware)."""
    con.execute("CREATE OR REPLACE TEMP TABLE texts (x VARCHAR)")
    con.executemany("INSERT INTO texts VALUES (?)", [[t] for t in texts])
    return con.execute(
        f"SELECT x, {reference}, {fast} FROM texts "
        f"WHERE ({reference}) IS DISTINCT FROM ({fast})"
    ).fetchall()


def test_date_typing_equals_the_digit_glob_on_tricky_and_random_texts() -> None:
    con = duckdb.connect()
    reference = f"CASE WHEN x GLOB '{sql.ISO_DATE_GLOB}' THEN TRY_CAST(x AS DATE) END"
    fast = sql.typed_expr(TABLES["patients"].column("birth_date"), "x")
    rng = random.Random(20261125)
    texts = TRICKY_DATES + [_date_like(rng) for _ in range(30_000)]
    assert _compare(con, texts, reference, fast) == []
    accepted = con.execute(f"SELECT count(*) FROM texts WHERE ({fast}) IS NOT NULL").fetchone()[0]
    assert accepted > 100  # the random texts include valid dates: the test compares both ways


def test_date_shape_tests_reject_what_the_cast_alone_would_accept() -> None:
    con = duckdb.connect()
    fast = sql.typed_expr(TABLES["patients"].column("birth_date"), "x")
    for text in ["2020-01-5 ", " 020-01-05", "-020-01-05", "2020-1-5", "2020/01/05",
                 "2020-01-05T00:00"]:
        assert con.execute("SELECT TRY_CAST(?::VARCHAR AS DATE)", [text]).fetchone()[0]
        assert con.execute(f"SELECT {fast} FROM (SELECT ?::VARCHAR AS x)", [text]).fetchone() == (
            None,
        )


@pytest.mark.parametrize("table,column", [("diagnoses", "mdt_date"), ("diagnoses", "ki67_pct"),
                                          ("diagnoses", "ecog_ps"), ("diagnoses", "resectable"),
                                          ("diagnoses", "stage")])
def test_absent_and_given_are_the_negation_and_the_value_of_present(table: str, column: str
                                                                    ) -> None:
    col = TABLES[table].column(column)
    raw, typed = sql.raw(column), sql.ident(column)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({raw} VARCHAR, {typed} VARCHAR)")
    cells = [None, "", " ", "\t", "\u00a0", " \t ", "x", " x ", "3", "2020-01-05"]
    rows = [[text, value] for text in cells for value in (None, "typed")]
    con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    for native in (frozenset(), frozenset({column})):
        present, absent, given = (f(col, native) for f in (_present, _absent, _given))
        found = con.execute(
            f"SELECT count(*) FILTER (WHERE ({absent}) IS DISTINCT FROM (NOT ({present}))), "
            f"count(*) FILTER (WHERE ({given}) IS DISTINCT FROM ({present})), "
            f"count(*) FILTER (WHERE {present}), count(*) FILTER (WHERE NOT {present}) FROM t"
        ).fetchone()
        assert found[:2] == (0, 0)
        assert found[2] > 0 and found[3] > 0


def test_csv_reader_gives_empty_and_quoted_empty_cells_as_null(tmp_path: Path) -> None:
    """The CSV text relation skips NULLIF(cell, ''): the reader never gives ''."""
    from nenstudy.registry.sources import _csv_relation

    path = tmp_path / "t.csv"
    path.write_text('a,b,c\n1,,""\n"",2, \n', encoding="utf-8")
    con = duckdb.connect()
    rows = con.execute(f"SELECT c0, c1, c2 FROM {_csv_relation(path, 'utf-8', 3)}").fetchall()
    assert rows == [("1", None, None), (None, "2", " ")]


TRICKY_TOPOGRAPHIES = [
    "C17.1", "C17.10", "C7.1", "c17.1", "C17,1", "C171", "C17.", " C17.1", "C17.1 ", "C17.1\n",
    "C١٧.١", "C１７.１", "CC17.1", "C17-1", "C17a1", "C1a.1", "X17.1", "C17.1C17.1", "", "C",
    "C\u00a017.1", "C17.1\t", "C99.9", "C00.0",
]


def test_plain_pattern_glob_equals_the_regular_expression() -> None:
    con = duckdb.connect()
    pattern = TABLES["diagnoses"].column("primary_site").pattern
    fast = sql.full_match("x", pattern)
    assert "GLOB" in fast
    rng = random.Random(7)
    alphabet = "C17.9١ xc,-"
    texts = TRICKY_TOPOGRAPHIES + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 7))) for _ in range(10_000)
    ]
    for _ in range(10_000):  # valid codes, one character changed or not
        code = list(f"C{rng.randint(0, 99):02d}.{rng.randint(0, 9)}")
        code[rng.randrange(5)] = rng.choice(alphabet + "0123456789" * 3)
        texts.append("".join(code))
    reference = f"regexp_full_match(x, {sql.literal(pattern)})"
    assert _compare(con, texts, reference, fast) == []
    assert con.execute(f"SELECT count(*) FILTER (WHERE {fast}) FROM texts").fetchone()[0] > 10


@pytest.mark.parametrize("pattern", [r"[A-Z]\d", r"a.b", r"\d+", r"x|y", r"\\d"])
def test_other_patterns_keep_the_regular_expression(pattern: str) -> None:
    assert sql.full_match("x", pattern).startswith("regexp_full_match(")


@pytest.mark.parametrize("table,column", [("diagnoses", "stage"), ("molecular_tests", "gene"),
                                          ("treatments", "best_response"), ("patients", "sex")])
def test_allowed_code_check_equals_not_in(table: str, column: str) -> None:
    """The ENUM-typed value and its check flag exactly the texts that are not a code."""
    from nenstudy.registry.typed import _typed, _value_checks

    col = TABLES[table].column(column)
    (check,) = [ch for ch in _value_checks(col, frozenset()) if ch.rule == "allowed"]
    values = [None, "", " ", "x", "'", *col.allowed, *(a.upper() for a in col.allowed),
              *(a.lower() for a in col.allowed), *(a + " " for a in col.allowed),
              *(a[:-1] for a in col.allowed)]
    allowed = ", ".join(sql.literal(a) for a in col.allowed)
    con = duckdb.connect()
    con.execute(f"CREATE TEMP TABLE texts ({sql.raw(column)} VARCHAR)")
    con.executemany("INSERT INTO texts VALUES (?)", [[v] for v in values])
    typed = f"(SELECT *, {_typed(col, frozenset())} AS {sql.ident(column)} FROM texts)"
    raw = sql.raw(column)
    differ = con.execute(
        f"SELECT {raw} FROM {typed} WHERE ({raw} NOT IN ({allowed})) IS DISTINCT FROM "
        f"(CASE WHEN {raw} IS NULL THEN NULL ELSE ({check.condition}) END)"
    ).fetchall()
    assert differ == []
    # a code types to itself, in the store's ENUM type
    kept = con.execute(f"SELECT {raw}, CAST({sql.ident(column)} AS VARCHAR) FROM {typed} "
                       f"WHERE {raw} IN ({allowed})").fetchall()
    assert kept and all(a == b for a, b in kept)
