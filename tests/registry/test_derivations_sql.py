"""The SQL derivations of the site group and WHO category agree with the schema's Python rules."""

from __future__ import annotations

import itertools

import duckdb

from nenstudy.registry import schema, sql


def test_site_group_sql_matches_site_group_for_every_major_site() -> None:
    codes = [f"C{major:02d}.{minor}" for major in range(100) for minor in (0, 9)]
    codes += ["C25", "C25.", "C2.59", "c25.9", "C25.9 ", " C25.9", "D25.9", "C2a.9", "C25/9",
              "C26/", "C27", "C14.9x", ""]
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {sql.site_group_sql('code')} FROM unnest(?) AS t(code)", [codes]
    ).fetchall()
    assert [g for (g,) in got] == [schema.site_group_for(c) for c in codes]


def test_who_category_sql_matches_derive_who_category() -> None:
    grid = list(itertools.product(
        ["well", "poor", None],
        ["small", "large", None],
        [None, 0.0, 2.9, 3.0, 20.0, 20.1, 80.0],
        [None, 0.0, 1.9, 2.0, 20.0, 21.0],
        [None, 0.0, 29.9, 30.0],
    ))
    con = duckdb.connect()
    con.execute("CREATE TABLE g (d VARCHAR, c VARCHAR, k DOUBLE, m DOUBLE, n DOUBLE)")
    con.executemany("INSERT INTO g VALUES (?, ?, ?, ?, ?)", grid)
    got = con.execute(
        f"SELECT {sql.who_category_sql('d', 'c', 'k', 'm', 'n')} FROM g ORDER BY rowid"
    ).fetchall()
    assert [g for (g,) in got] == [schema.derive_who_category(*row) for row in grid]
