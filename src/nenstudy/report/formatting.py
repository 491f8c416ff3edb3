"""Number formatting shared by every table, figure label and text of the report (one style)."""

from __future__ import annotations

import math
from typing import Sequence

from .suppression import SUPPRESSED_DERIVED, is_suppressed, suppress_count

__all__ = [
    "MISSING",
    "NOT_REACHED",
    "fmt_count",
    "fmt_num",
    "fmt_pct",
    "fmt_p",
    "fmt_ci",
    "fmt_estimate_ci",
    "fmt_median_ci",
    "fmt_count_pct",
    "fmt_hr_ci",
    "fmt_ratio",
    "fmt_rate_ci",
    "fmt_level",
]

#: Text for a number that results.json gives as null (not available).
MISSING = "NA"
#: Text for a median or upper confidence limit that was not reached.
NOT_REACHED = "NR"
#: Separator inside a confidence interval.
DASH = "–"


def _is_missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_count(n: int | None, suppress_below: int | None = None) -> str:
    """Format a count, with small-number suppression ("<K") applied."""
    shown = suppress_count(n, suppress_below)
    return MISSING if shown is None else str(shown)


def fmt_num(x: float | None, digits: int = 1, missing: str = MISSING) -> str:
    """Format a number with a fixed number of decimals (``missing`` for null)."""
    if _is_missing(x):
        return missing
    return f"{x:.{digits}f}"


def fmt_pct(fraction: float | None, digits: int = 1) -> str:
    """Format a proportion in [0, 1] as a percentage, e.g. ``0.3897 -> '39.0%'``."""
    if _is_missing(fraction):
        return MISSING
    return f"{100.0 * fraction:.{digits}f}%"


def fmt_p(p: float | None) -> str:
    """Format a p-value: ``<0.001``; three decimals below 0.1; two decimals from 0.1."""
    if _is_missing(p):
        return MISSING
    if p < 0.001:
        return "<0.001"
    if p < 0.1:
        return f"{p:.3f}"
    return f"{p:.2f}"


def fmt_ci(ci: Sequence[float | None] | None, digits: int = 1, missing: str = NOT_REACHED) -> str:
    """Format a two-element interval as ``'13.2–18.5'``; a null bound shows ``missing``."""
    if ci is None:
        return MISSING
    lower, upper = ci
    return f"{fmt_num(lower, digits, missing)}{DASH}{fmt_num(upper, digits, missing)}"


def fmt_estimate_ci(
    estimate: float | None, ci: Sequence[float | None] | None, digits: int = 1, missing: str = MISSING
) -> str:
    """Format ``'estimate (lower–upper)'``."""
    return f"{fmt_num(estimate, digits, missing)} ({fmt_ci(ci, digits, missing)})"


def fmt_median_ci(median: float | None, ci: Sequence[float | None] | None, digits: int = 1) -> str:
    """Format a median survival time with its CI; null means not reached (``NR``)."""
    return fmt_estimate_ci(median, ci, digits, missing=NOT_REACHED)


def fmt_count_pct(
    n: int | None,
    fraction: float | None,
    suppress_below: int | None = None,
    denominator: int | None = None,
    digits: int = 1,
) -> str:
    """Format ``'n (p%)'``; a suppressed count (or denominator) hides the percentage too.

    Parameters
    ----------
    n : int or None
        The count.
    fraction : float or None
        The proportion behind the percentage (from results.json, or n / denominator).
    suppress_below : int or None
        Suppression threshold K.
    denominator : int or None
        The denominator of the proportion; when it is suppressed the percentage is hidden too.
    digits : int
        Decimals of the percentage.
    """
    count = fmt_count(n, suppress_below)
    if is_suppressed(n, suppress_below) or is_suppressed(denominator, suppress_below):
        return f"{count} ({SUPPRESSED_DERIVED})"
    return f"{count} ({fmt_pct(fraction, digits)})"


def fmt_ratio(n: int | None, of: int | None, suppress_below: int | None = None) -> str:
    """Format ``'n/of (p%)'`` with the percentage computed from the two counts shown."""
    num = fmt_count(n, suppress_below)
    den = fmt_count(of, suppress_below)
    hidden = is_suppressed(n, suppress_below) or is_suppressed(of, suppress_below)
    if hidden:
        pct = SUPPRESSED_DERIVED
    elif n is None or not of:
        pct = MISSING
    else:
        pct = fmt_pct(n / of)
    return f"{num}/{den} ({pct})"


def fmt_hr_ci(hr: float | None, lower: float | None, upper: float | None) -> str:
    """Format a hazard ratio with its CI to two decimals, e.g. ``'2.10 (1.40–3.20)'``."""
    return fmt_estimate_ci(hr, (lower, upper), digits=2)


def fmt_rate_ci(rate: float | None, lower: float | None, upper: float | None, digits: int = 1) -> str:
    """Format a proportion with its CI as percentages, e.g. ``'39.0% (30.7–47.7%)'``."""
    if _is_missing(rate):
        return MISSING
    return f"{fmt_pct(rate, digits)} ({fmt_num(_x100(lower), digits)}{DASH}{fmt_pct(upper, digits)})"


def fmt_level(conf_level: float | None) -> str:
    """Format a confidence level as a whole percentage, e.g. ``0.95 -> '95%'`` (``None``: 95%)."""
    return f"{round(100 * float(0.95 if conf_level is None else conf_level))}%"


def _x100(x: float | None) -> float | None:
    return None if _is_missing(x) else 100.0 * x
