"""results.json: the published-vs-registry comparison, JSON conversion, schema check, writing.

The schema (``docs/results.schema.json``, JSON Schema draft 2020-12) ships inside the package as
``nenstudy/study/results.schema.json``; a test keeps the two copies identical. Results are
validated before they are written, and written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from jsonschema import Draft202012Validator

from nenstudy.study.definition import Published, StudyDefinitionError

__all__ = [
    "ResultsSchemaError",
    "resolve",
    "comparison_block",
    "to_json_value",
    "results_schema",
    "validate_results",
    "write_results",
]


class ResultsSchemaError(ValueError):
    """Results that do not match docs/results.schema.json (a bug, never user data)."""


_MISSING = object()


def resolve(results: dict[str, Any], path: str) -> Any:
    """Look up a dotted path in the results; list items are matched by their ``step`` key.

    ``"os.median"`` -> ``results["os"]["median"]``; ``"attrition.nec.n"`` -> the ``n`` of the
    attrition entry whose ``step`` is ``nec``.

    Parameters
    ----------
    results : dict
        The results document.
    path : str
        Dotted path.

    Returns
    -------
    Any
        The value, or a private sentinel when the path does not exist.
    """
    node: Any = results
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list):
            match = [x for x in node if isinstance(x, dict) and x.get("step") == part]
            if not match:
                return _MISSING
            node = match[0]
        else:
            return _MISSING
    return node


def _fmt_number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _fmt(value: Any, ci: Any, fmt: str, denominator: Any) -> str:
    if value is None:
        return "not reached" if fmt == "number" else "n/a"
    if fmt == "count":
        text = f"{int(value)}"
        if denominator:
            text += f"/{int(denominator)} ({100 * value / denominator:.1f}%)"
        return text
    if fmt == "percent":
        text = f"{100 * value:.1f}%"
        if ci and ci[0] is not None and ci[1] is not None:
            text += f" ({100 * ci[0]:.1f}-{100 * ci[1]:.1f})"
        return text
    text = _fmt_number(value)
    if ci and (ci[0] is not None or ci[1] is not None):
        text += f" ({_fmt_number(ci[0])}-{_fmt_number(ci[1])})"
    return text


def comparison_block(published: Published | None, results: dict[str, Any], study_path: Path) -> list[dict[str, Any]]:
    """Pair every published item with its registry counterpart.

    Parameters
    ----------
    published : Published or None
        The study's ``[published]`` block.
    results : dict
        Results computed so far.
    study_path : Path
        For error messages.

    Returns
    -------
    list of dict
        ``key, item, format, published, registry, published_value, registry_value,
        published_ci, registry_ci, published_denominator, registry_denominator``.

    Raises
    ------
    StudyDefinitionError
        When a ``registry``/``registry_ci``/``registry_denominator`` path names nothing in the results.
    """
    if published is None:
        return []
    rows = []
    for item in published.items:
        values = {}
        for attr in ("registry", "registry_ci", "registry_denominator"):
            path = getattr(item, attr)
            if path is None:
                values[attr] = None
                continue
            value = resolve(results, path)
            if value is _MISSING:
                raise StudyDefinitionError(
                    f"{study_path}: published.items.{item.key}.{attr}: {path!r} names nothing in results.json"
                )
            values[attr] = value
        registry_value = values["registry"]
        if isinstance(registry_value, (dict, list)):
            raise StudyDefinitionError(
                f"{study_path}: published.items.{item.key}.registry: {item.registry!r} is not a single number"
            )
        rows.append({
            "key": item.key,
            "item": item.label,
            "format": item.format,
            "published": _fmt(item.value, item.ci, item.format, item.denominator),
            "registry": _fmt(registry_value, values["registry_ci"], item.format, values["registry_denominator"])
            if item.registry else "n/a",
            "published_value": item.value,
            "registry_value": registry_value,
            "published_ci": list(item.ci) if item.ci else None,
            "registry_ci": values["registry_ci"],
            "published_denominator": item.denominator,
            "registry_denominator": values["registry_denominator"],
        })
    return rows


def to_json_value(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and non-finite floats into plain JSON values.

    Raises
    ------
    TypeError
        For a value JSON cannot hold (a bug in the caller).
    """
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_json_value(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} into results.json")


@lru_cache(maxsize=1)
def results_schema() -> dict[str, Any]:
    """Return the results.json schema shipped in the package."""
    text = resources.files("nenstudy.study").joinpath("results.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def validate_results(results: dict[str, Any]) -> None:
    """Check results against the schema.

    Parameters
    ----------
    results : dict
        A results.json document (as built by the study engine or read back from the file).

    Raises
    ------
    ResultsSchemaError
        Listing up to ten violations with their JSON paths.
    """
    validator = Draft202012Validator(results_schema())
    errors = sorted(validator.iter_errors(results), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:200]}" for e in errors[:10]]
        raise ResultsSchemaError(
            f"results do not match results.schema.json ({len(errors)} problem(s)):\n" + "\n".join(lines)
        )


def write_results(results: dict[str, Any], path: Path, *, validate: bool = True) -> None:
    """Validate and write results.json atomically.

    Parameters
    ----------
    results : dict
        JSON-ready results (see :func:`to_json_value`).
    path : Path
        Destination file.
    validate : bool, default True
        Check against the schema first (pass False only when the caller just did).
    """
    if validate:
        validate_results(results)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
