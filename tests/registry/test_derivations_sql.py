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


def test_stored_who_category_sql_matches_stored_who_category(tmp_path) -> None:
    """The store's WHO category (typed-in kept when a missing element could give it) agrees
    with the schema's Python rule on every combination, through a real import."""
    from nenstudy.registry.store import import_registry, open_store
    from .conftest import good_rows, write_registry

    grid = list(itertools.product(
        [None, "NET G1", "NET G2", "NET G3", "NEC", "MiNEN"],
        ["well", "poor"],
        [None, 2.0, 10.0, 50.0],
        [None, 1.0, 30.0],
        [None, 0.0, 40.0],
    ))
    # rows that determine no category at all are an error of their own (tested elsewhere)
    grid = [g for g in grid if schema.stored_who_category(g[0], g[1], None, *g[2:]) is not None]
    rows = good_rows()
    template = rows["diagnoses"][1]  # patient P002, well differentiated
    rows["diagnoses"] = []
    for i, (typed, diff, ki67, mitoses, non_ne) in enumerate(grid):
        text = lambda v: "" if v is None else f"{v:g}"  # noqa: E731
        rows["diagnoses"].append({**template, "diagnosis_id": f"D{i:04d}", "who_category":
                                  typed or "", "differentiation": diff, "ki67_pct": text(ki67),
                                  "mitoses_per_2mm2": text(mitoses),
                                  "non_ne_component_pct": text(non_ne)})
    rows["treatments"] = []
    db = tmp_path / "store.duckdb"
    import_registry(write_registry(tmp_path / "reg", rows), db)
    con = open_store(db)
    try:
        got = con.execute("SELECT CAST(who_category AS VARCHAR), pure_histology FROM diagnoses "
                          "ORDER BY diagnosis_id").fetchall()
    finally:
        con.close()
    expected = [schema.stored_who_category(t, d, None, k, m, n) for t, d, k, m, n in grid]
    assert [g for g, _ in got] == expected
    assert [p for _, p in got] == [(n or 0) == 0 and e != "MiNEN"
                                   for (_, _, _, _, n), e in zip(grid, expected)]
    # the cases the rule is for: a partial transcription never overrules the pathologist
    assert schema.stored_who_category("NET G3", "well", None, None, 1.0, None) == "NET G3"
    assert schema.stored_who_category("MiNEN", "poor", None, 80.0, None, None) == "MiNEN"
    assert schema.stored_who_category("NET G1", "well", None, 50.0, None, None) == "NET G3"
    assert schema.stored_who_category("NET G2", "well", None, 2.0, 1.0, None) == "NET G1"
