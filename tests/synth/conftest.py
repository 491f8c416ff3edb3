"""Shared fixtures of the synthetic-registry tests: registries simulated once per session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nenstudy.synth.generator import write_registry
from .synth_cohort import registry_frames


@pytest.fixture(scope="session")
def registry() -> dict[str, pd.DataFrame]:
    """The default registry (seed 2022, scale 1) as data frames."""
    return registry_frames(2022, 1.0)


@pytest.fixture(scope="session")
def large_registry() -> dict[str, pd.DataFrame]:
    """A registry of three centres (seed 11), for checks that need more patients."""
    return registry_frames(11, 3.0)


@pytest.fixture(scope="session")
def registry_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The default registry written as CSV, with the row counts returned by the writer."""
    out = tmp_path_factory.mktemp("synth") / "registry"
    return out, write_registry(out)
