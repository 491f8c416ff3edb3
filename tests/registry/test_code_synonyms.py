"""The usual other names of codes name a code of their column, and are no code themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import good_rows, write_registry
from nenstudy.registry.schema import CODE_SYNONYMS, TABLES
from nenstudy.registry.validation import validate_source


def test_every_synonym_names_a_code_of_its_column_and_is_none() -> None:
    columns = {c.name: c for t in TABLES.values() for c in t.columns}
    for name, synonyms in CODE_SYNONYMS.items():
        codes = columns[name].allowed
        assert codes is not None, name
        for written, meant in synonyms.items():
            assert written == written.lower(), written
            assert meant in codes, (name, meant)
            assert written not in {c.lower() for c in codes}, (name, written)


@pytest.mark.parametrize("written, meant", [("None", "absent"), ("Punctate", "focal"),
                                            ("GEOGRAPHIC", "extensive")])
def test_a_synonym_is_named_before_a_missing_value_mark(tmp_path: Path, written: str,
                                                         meant: str) -> None:
    """'None' is also R's or pandas' mark for a missing value; in necrosis it means absent."""
    rows = good_rows()
    rows["diagnoses"][0]["necrosis"] = written
    report = validate_source(write_registry(tmp_path / "reg", rows))
    hit = report.problems.query("column == 'necrosis'")
    assert hit["rule"].tolist() == ["allowed"]
    assert f"did you mean '{meant}'?" in hit["message"].iloc[0]
