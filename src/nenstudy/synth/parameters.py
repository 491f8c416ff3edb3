"""Load the synthetic registry's parameter file, where every value carries its source.

The file (``parameters.toml`` next to this module) is a tree of TOML tables whose leaves are
``{ value = ..., source = "..." }`` (or ``{ options = [...], source = "..." }`` for regimen
lists). :func:`load_parameters` flattens it to dotted keys (``"hazard.metastatic_hr"``) and
refuses a leaf without a source or a probability table that does not sum to one.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["DEFAULT_PARAMETER_FILE", "ParameterSet", "load_parameters", "probabilities"]

DEFAULT_PARAMETER_FILE = Path(__file__).with_name("parameters.toml")
"""The bundled parameter file."""

_PROBABILITY_PREFIXES = (
    "mix.tumour_class", "sites.", "pathology.net_grade", "stage.ep_nec", "stage.lung_nec",
    "stage.net", "stage.minen", "molecular.assays", "molecular.msi_methods",
)


@dataclass(frozen=True)
class ParameterSet:
    """Parameters of the generator, by dotted key, with the source of each.

    Attributes
    ----------
    values
        Parameter value by dotted key (``value`` of a leaf, or ``options`` of a regimen list).
    sources
        Source text by dotted key.
    path
        File the parameters were read from.
    """

    values: Mapping[str, Any]
    sources: Mapping[str, str]
    path: Path

    def __getitem__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            raise KeyError(f"{self.path}: no parameter {key!r}") from None


def probabilities(mapping: Mapping[str, float], key: str = "") -> tuple[list[str], list[float]]:
    """Split a ``{label: probability}`` mapping into labels and probabilities summing to one.

    Raises
    ------
    ValueError
        When a probability is negative or they do not sum to one (within 1e-6).
    """
    labels = list(mapping)
    probs = [float(mapping[k]) for k in labels]
    if any(p < 0 for p in probs) or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
        raise ValueError(f"parameter {key}: probabilities must be >= 0 and sum to 1, got {sum(probs):.6f}")
    return labels, probs


def _flatten(node: Mapping[str, Any], prefix: str, values: dict, sources: dict, path: Path) -> None:
    for name, child in node.items():
        key = f"{prefix}{name}"
        if not isinstance(child, dict):
            raise ValueError(f"{path}: {key} is a bare value; write {{ value = ..., source = \"...\" }}")
        if "value" in child or "options" in child:
            source = child.get("source")
            if not isinstance(source, str) or not source.strip():
                raise ValueError(f"{path}: parameter {key} has no source")
            values[key] = child["value"] if "value" in child else child["options"]
            sources[key] = source
        else:
            _flatten(child, f"{key}.", values, sources, path)


def _check_probabilities(values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if key.startswith(_PROBABILITY_PREFIXES) and isinstance(value, dict):
            probabilities(value, key)
        if (key.startswith(("patient.ecog", "response.", "pathology.necrosis"))
                and isinstance(value, dict)):
            for sub, dist in value.items():
                if isinstance(dist, dict):
                    probabilities(dist, f"{key}.{sub}")
                elif isinstance(dist, list):
                    probabilities(dict(enumerate(dist)), f"{key}.{sub}")
        if key.startswith("regimens."):
            probabilities({o["label"]: o["p"] for o in value}, key)


def load_parameters(path: Path | str | None = None) -> ParameterSet:
    """Read and check a parameter file.

    Parameters
    ----------
    path
        A TOML file in the format of the bundled ``parameters.toml``; default: the bundled file.

    Returns
    -------
    ParameterSet
        Values and sources by dotted key.

    Raises
    ------
    ValueError
        When a parameter has no source or a probability table does not sum to one.
    """
    file = Path(path) if path is not None else DEFAULT_PARAMETER_FILE
    with file.open("rb") as handle:
        tree = tomllib.load(handle)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    _flatten(tree, "", values, sources, file)
    _check_probabilities(values)
    return ParameterSet(MappingProxyType(values), MappingProxyType(sources), file)
