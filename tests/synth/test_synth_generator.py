"""The generator's files: determinism, schema columns, formats and argument checks."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nenstudy.registry import schema
from nenstudy.synth.generator import n_patients, write_registry


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    write_registry(tmp_path / "a", seed=5, scale=0.3)
    write_registry(tmp_path / "b", seed=5, scale=0.3)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")


def test_different_seeds_give_different_files(tmp_path: Path) -> None:
    write_registry(tmp_path / "a", seed=5, scale=0.3)
    write_registry(tmp_path / "b", seed=6, scale=0.3)
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert all(a[name] != b[name] for name in a)


def test_writes_one_csv_per_schema_table(registry_folder) -> None:
    folder, _ = registry_folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.csv" for t in schema.TABLE_NAMES)


def test_csv_headers_are_the_schema_columns_in_order(registry_folder) -> None:
    folder, _ = registry_folder
    for table in schema.SCHEMA:
        header = (folder / f"{table.name}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == list(table.column_names), table.name


def test_returned_row_counts_match_the_files(registry_folder) -> None:
    folder, rows = registry_folder
    for name, n in rows.items():
        lines = (folder / f"{name}.csv").read_text(encoding="utf-8").splitlines()
        assert len(lines) - 1 == n, name


def test_scale_one_simulates_one_centre(registry_folder) -> None:
    _, rows = registry_folder
    assert rows["patients"] == rows["diagnoses"] == rows["follow_up"] == 1600


def test_scale_multiplies_the_number_of_patients() -> None:
    assert n_patients(625) == 1_000_000
    assert n_patients(0.5) == 800


def test_dates_are_iso_and_booleans_true_false(registry_folder) -> None:
    folder, _ = registry_folder
    text = (folder / "diagnoses.csv").read_text(encoding="utf-8").splitlines()[1:]
    columns = schema.DIAGNOSES.column_names
    dates = [row.split(",")[columns.index("mdt_date")] for row in text]
    resectable = {row.split(",")[columns.index("resectable")] for row in text}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in dates)
    assert resectable == {"", "true", "false"}


def test_parquet_files_have_the_schema_columns(tmp_path: Path) -> None:
    rows = write_registry(tmp_path, seed=3, scale=0.1, fmt="parquet")
    for table in schema.SCHEMA:
        parquet = pq.read_table(tmp_path / f"{table.name}.parquet")
        assert parquet.column_names == list(table.column_names)
        assert parquet.num_rows == rows[table.name]


@pytest.mark.parametrize("kwargs", [{"fmt": "xlsx"}, {"scale": 0}, {"scale": -1.0}, {"seed": -3}])
def test_rejects_bad_arguments(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        write_registry(tmp_path, **kwargs)


def test_parquet_row_groups_are_full_except_the_last(tmp_path: Path, monkeypatch) -> None:
    from nenstudy.synth import generator

    monkeypatch.setattr(generator._ParquetFile, "ROW_GROUP_ROWS", 700)
    rows = write_registry(tmp_path / "small_groups", seed=5, fmt="parquet")
    monkeypatch.setattr(generator._ParquetFile, "ROW_GROUP_ROWS", 10**9)
    write_registry(tmp_path / "one_group", seed=5, fmt="parquet")
    for table in schema.SCHEMA:
        meta = pq.ParquetFile(tmp_path / "small_groups" / f"{table.name}.parquet").metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert sum(sizes) == rows[table.name]
        assert all(n == 700 for n in sizes[:-1]) and 0 < sizes[-1] <= 700
        same = pq.read_table(tmp_path / "one_group" / f"{table.name}.parquet")
        assert pq.read_table(tmp_path / "small_groups" / f"{table.name}.parquet").equals(same)
