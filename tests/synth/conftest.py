"""Shared fixtures of the synthetic-registry tests: registries simulated once per session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nenstudy.registry import schema
from nenstudy.synth.generator import generate_registry, write_registry


def _frames(seed: int, scale: float) -> dict[str, pd.DataFrame]:
    frames = {name: t.to_pandas() for name, t in generate_registry(seed, scale).items()}
    d = frames["diagnoses"]
    d["site_group_derived"] = d["primary_site"].map(schema.site_group_for)
    return frames


@pytest.fixture(scope="session")
def registry() -> dict[str, pd.DataFrame]:
    """The default registry (seed 2022, scale 1) as data frames."""
    return _frames(2022, 1.0)


@pytest.fixture(scope="session")
def large_registry() -> dict[str, pd.DataFrame]:
    """A registry of three centres (seed 11), for checks that need more patients."""
    return _frames(11, 3.0)


@pytest.fixture(scope="session")
def registry_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The default registry written as CSV, with the row counts returned by the writer."""
    out = tmp_path_factory.mktemp("synth") / "registry"
    return out, write_registry(out)
