"""docs/registry.md is generated from the schema and kept current."""

from __future__ import annotations

from pathlib import Path

from nenstudy.registry.docs import REGENERATE_COMMAND, render_registry_markdown
from nenstudy.registry.schema import SCHEMA

DOC = Path(__file__).resolve().parents[2] / "docs" / "registry.md"


def test_registry_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_registry_markdown(), (
        f"docs/registry.md is stale; regenerate it with: {REGENERATE_COMMAND}"
    )


def test_registry_doc_lists_every_column() -> None:
    text = render_registry_markdown()
    for table in SCHEMA:
        assert f"## `{table.name}`" in text
        for column in table.columns:
            assert f"| `{column.name}` |" in text
