"""LaneTask: work run in a reading lane once the tables it needs are read, and only then."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from .conftest import write_registry
from nenstudy.registry import validation
from nenstudy.registry.sources import LaneTask, load_source


def _load(folder: Path, tmp_path: Path, threads: int, tasks: list[LaneTask]):
    con = validation.connect_work_db(threads=threads)
    con.execute(f"ATTACH '{tmp_path / f'typed{threads}.duckdb'}' AS typed")
    try:
        return load_source(con, folder, validation._Builder("typed"), tasks=tasks)
    finally:
        con.close()


@pytest.mark.parametrize("threads", [1, 2])
def test_a_task_runs_once_its_tables_are_read(tmp_path: Path, threads: int) -> None:
    folder = write_registry(tmp_path / "registry")

    def count(cursor: duckdb.DuckDBPyConnection, tables: dict[str, str]) -> dict[str, int]:
        # the tables are complete when the task runs: their rows are all there
        return {name: cursor.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
                for name, target in tables.items()}

    needs = ("treatments", "molecular_tests")
    loaded = _load(folder, tmp_path, threads,
                   [LaneTask(needs, count), LaneTask(("patients",), count)])
    assert loaded.task_results == (
        {name: loaded.files[name].n_rows for name in needs},
        {"patients": loaded.files["patients"].n_rows},
    )
    assert all(n > 0 for result in loaded.task_results for n in result.values())


def test_a_task_whose_table_was_not_read_does_not_run(tmp_path: Path) -> None:
    folder = write_registry(tmp_path / "registry")
    (folder / "molecular_tests.csv").unlink()
    ran: list[str] = []

    def run(cursor: duckdb.DuckDBPyConnection, tables: dict[str, str]) -> str:
        ran.append("yes")
        return "ran"

    loaded = _load(folder, tmp_path, 2, [LaneTask(("treatments", "molecular_tests"), run),
                                          LaneTask(("treatments",), run)])
    assert loaded.task_results == (None, "ran")
    assert ran == ["yes"]
    assert "molecular_tests" not in loaded.files


def test_missing_source_folder_gives_no_task_result(tmp_path: Path) -> None:
    loaded = _load(tmp_path / "nowhere", tmp_path, 2,
                   [LaneTask(("treatments",), lambda cursor, tables: "ran")])
    assert loaded.task_results == (None,)
    assert [p["rule"] for p in loaded.problems] == ["source.missing"]


def test_the_cross_checks_drop_the_lane_table(tmp_path: Path) -> None:
    """The per-patient table the lane made is gone once the checks ran (nothing left behind)."""
    from nenstudy.registry.crosschecks import EVENTS_TABLE

    folder = write_registry(tmp_path / "registry")
    con = validation.connect_work_db(threads=2)
    con.execute(f"ATTACH '{tmp_path / 'typed.duckdb'}' AS typed")
    try:
        report, _ = validation.validate_into(con, folder, catalog="typed")
        name = EVENTS_TABLE.split(".")[-1]
        left = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                           [name]).fetchone()[0]
    finally:
        con.close()
    assert report.ok
    assert left == 0
