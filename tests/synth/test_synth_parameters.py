"""The parameter file: every value has a source; probability tables are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from nenstudy.synth.parameters import DEFAULT_PARAMETER_FILE, load_parameters


def test_every_bundled_parameter_names_its_source() -> None:
    params = load_parameters()
    assert set(params.values) == set(params.sources)
    assert all(len(s) > 10 for s in params.sources.values())


def test_a_parameter_without_source_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text('[centre.data_cutoff]\nvalue = "2023-06-30"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no source"):
        load_parameters(bad)


def test_probabilities_not_summing_to_one_are_refused(tmp_path: Path) -> None:
    text = DEFAULT_PARAMETER_FILE.read_text(encoding="utf-8")
    broken = text.replace("value = { net = 0.738, nec = 0.237, minen = 0.025 }", "value = { net = 0.8, nec = 0.237, minen = 0.025 }")
    assert broken != text
    bad = tmp_path / "p.toml"
    bad.write_text(broken, encoding="utf-8")
    with pytest.raises(ValueError, match="mix.tumour_class"):
        load_parameters(bad)


def test_unknown_parameter_key_is_named() -> None:
    with pytest.raises(KeyError, match="no parameter"):
        load_parameters()["hazard.nonexistent"]
