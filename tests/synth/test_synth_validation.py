"""Generated registries pass the registry's own validation."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nenstudy.registry.validation import validate_source
from nenstudy.synth.generator import write_registry


def test_default_registry_has_no_validation_errors(registry_folder) -> None:
    folder, _ = registry_folder
    report = validate_source(folder)
    assert report.n_errors == 0, report.render(20)


def test_default_registry_has_no_validation_warnings(registry_folder) -> None:
    folder, _ = registry_folder
    report = validate_source(folder)
    assert report.n_warnings == 0, report.render(20)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), scale=st.sampled_from([0.05, 0.1, 0.2]))
def test_registries_of_any_seed_pass_validation(seed: int, scale: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_registry(Path(tmp), seed=seed, scale=scale)
        report = validate_source(Path(tmp))
    assert report.n_errors == 0, report.render(20)
