"""Locations of the files bundled with nenstudy (study definitions)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["studies_dir", "default_study"]


def studies_dir() -> Path:
    """Return the folder holding the bundled study definitions.

    Returns
    -------
    Path
        ``nenstudy/_studies`` inside an installed wheel, else ``studies/`` of the source tree.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "_studies"
    if packaged.is_dir():
        return packaged
    return here.parents[1] / "studies"


def default_study() -> Path:
    """Return the path of the EP-NEC study definition (``studies/epnec.toml``)."""
    return studies_dir() / "epnec.toml"
