"""Small vectorised samplers shared by the synthetic registry's simulation steps."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = [
    "GROUPS",
    "DAYS_PER_MONTH",
    "NEVER",
    "categorical",
    "group_table",
    "uniform_days",
    "weibull_days",
    "iso_day",
]

GROUPS = ("ep_nec", "lung_nec", "net", "minen")
"""Disease-course groups of the simulation: extra-pulmonary NEC (pure or not), pulmonary NEC,
NET of any site, MiNEN. Parameters keyed by group use these names."""

DAYS_PER_MONTH = 30.4375
"""Days per month (DOMAIN: months = days / 30.4375)."""

NEVER = np.int64(10**9)
"""Day number standing for 'does not happen'."""


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Draw category indices.

    Parameters
    ----------
    rng
        Random generator.
    probs
        ``(n, k)`` row-wise probabilities (one row per draw).

    Returns
    -------
    numpy.ndarray
        ``n`` integers in ``0 .. k-1``.
    """
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = np.inf
    u = rng.random(probs.shape[0])
    return (u[:, None] >= cum).sum(axis=1)


def group_table(
    per_group: Mapping[str, Sequence[float] | float], group: np.ndarray, fallback: Mapping[str, str] | None = None
) -> np.ndarray:
    """Look up a per-group parameter for every patient.

    Parameters
    ----------
    per_group
        Value (number or vector) by group name of :data:`GROUPS`.
    group
        Group index of every patient.
    fallback
        Group name to use for groups missing from ``per_group`` (e.g. ``{"minen": "nec"}``).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` or ``(n, k)`` values.
    """
    fallback = fallback or {}
    rows = [np.atleast_1d(np.asarray(per_group[g if g in per_group else fallback[g]], dtype=float)) for g in GROUPS]
    table = np.stack(rows)
    out = table[group]
    return out[:, 0] if table.shape[1] == 1 else out


def uniform_days(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    """Integer day counts drawn uniformly from ``low .. high`` (inclusive)."""
    return rng.integers(int(low), int(high) + 1, size=n).astype(np.int64)


def weibull_days(
    rng: np.random.Generator, median_months: np.ndarray | float, shape: np.ndarray | float, hazard_ratio: np.ndarray
) -> np.ndarray:
    """Weibull proportional-hazards event times, in whole days (at least 1).

    The reference patient (hazard ratio 1) has median ``median_months``; a hazard ratio ``h``
    multiplies the hazard at every time by ``h``.
    """
    shape = np.asarray(shape, dtype=float)
    scale = np.asarray(median_months, dtype=float) / np.log(2.0) ** (1.0 / shape)
    e = rng.standard_exponential(len(hazard_ratio))
    months = scale * (e / hazard_ratio) ** (1.0 / shape)
    return np.maximum(np.ceil(months * DAYS_PER_MONTH), 1).astype(np.int64)


def iso_day(text: str) -> int:
    """Day number (days since 1970-01-01) of an ISO date."""
    return int(np.datetime64(text, "D").astype(np.int64))
