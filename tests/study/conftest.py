"""Shared fixtures of the study tests."""

from __future__ import annotations

import pytest

from nenstudy.paths import default_study
from nenstudy.study.cohort import select_cohort
from nenstudy.study.definition import StudyDefinition, load_study
from nenstudy.study.endpoints import build_endpoints, build_study_base, build_treatment_lines
from nenstudy.study.sources import open_store
from nenstudy.study.variables import build_analysis_variables

from .study_builders import RegistryBuilder


@pytest.fixture
def registry() -> RegistryBuilder:
    """An empty hand-built registry."""
    return RegistryBuilder()


@pytest.fixture(scope="session")
def epnec() -> StudyDefinition:
    """The bundled EP-NEC study definition."""
    return load_study(default_study())


@pytest.fixture
def derive(tmp_path):
    """Write a registry, run cohort selection and derivations; return the open connection."""
    opened = []

    def run(builder: RegistryBuilder, study: StudyDefinition):
        path = builder.write(tmp_path / f"store{len(opened)}.duckdb")
        con = open_store(path)
        opened.append(con)
        build_treatment_lines(con, study)
        build_study_base(con)
        selection = select_cohort(con, study)
        build_analysis_variables(con, study)
        build_endpoints(con, study)
        return con, selection

    yield run
    for con in opened:
        con.close()
