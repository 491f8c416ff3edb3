"""The importer on the synthetic registry: it validates cleanly and lands in the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nenstudy.registry.store import import_registry, open_store, summarize
from nenstudy.registry.validation import validate_source
from nenstudy.synth.generator import write_registry


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("synth")
    rows = write_registry(folder / "registry", seed=7, scale=1.0)
    db = folder / "registry.duckdb"
    summary = import_registry(folder / "registry", db)
    assert summary.report.ok, summary.report.render()
    return db, rows


def test_synthetic_registry_imports_every_row(synthetic_store) -> None:
    db, rows = synthetic_store
    assert summarize(db)["tables"] == rows


def test_synthetic_registry_has_derived_who_categories(synthetic_store) -> None:
    db, _ = synthetic_store
    con = open_store(db)
    missing = con.execute("SELECT count(*) FROM diagnoses WHERE who_category IS NULL").fetchall()
    assert missing == [(0,)]
    nec = con.execute("SELECT count(*) FROM diagnoses WHERE who_category = 'NEC'").fetchall()
    assert nec[0][0] > 100


def test_synthetic_parquet_registry_validates(tmp_path: Path) -> None:
    write_registry(tmp_path / "pq", seed=3, scale=0.1, fmt="parquet")
    report = validate_source(tmp_path / "pq")
    assert report.ok, report.render()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_generated_registry_of_any_seed_passes_validation(tmp_path: Path, seed: int) -> None:
    folder = tmp_path / f"seed{seed}"
    write_registry(folder, seed=seed, scale=0.1)
    report = validate_source(folder)
    assert report.ok, report.render(max_rows=30)
