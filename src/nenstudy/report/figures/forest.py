"""Forest plot of Cox hazard ratios (univariable and multivariable side by side, log scale)."""

from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from ..formatting import fmt_hr_ci, fmt_level
from .style import GREY, OKABE_ITO, new_figure

__all__ = ["forest_figure"]

_MODELS = (("univariable", "Univariable", OKABE_ITO["blue"], "o"),
           ("multivariable", "Multivariable", OKABE_ITO["vermillion"], "s"))


def _terms_in_order(models: Mapping[str, Sequence[Mapping]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for key, *_ in _MODELS:
        for row in models.get(key, []) or []:
            label = str(row.get("label") or row["term"]).replace("_", " ")
            seen.setdefault(row["term"], "\n".join(textwrap.wrap(label, 30)))
    return list(seen.items())


def forest_figure(models: Mapping[str, Sequence[Mapping]], *, title: str | None = None) -> Figure:
    """Draw hazard ratios with their CIs for each term, one row per term, both models on one axis.

    Parameters
    ----------
    models : Mapping
        A results.json ``cox.<endpoint>`` block: ``univariable`` and ``multivariable`` lists of rows
        with ``term``, ``label``, ``hr``, ``lower``, ``upper``, and the ``conf_level`` of the CIs.
    title : str, optional
        Axes title.

    Returns
    -------
    Figure
    """
    terms = _terms_in_order(models)
    if not terms:
        raise ValueError("forest_figure: the Cox block has no univariable or multivariable rows")
    n = len(terms)
    height = 1.3 + 0.42 * n
    fig = new_figure(7.0, height)
    ax = fig.add_axes((2.2 / 7.0, 0.7 / height, 2.3 / 7.0, (height - 1.3) / height))
    index = {term: i for i, (term, _) in enumerate(terms)}
    values: list[float] = []
    for k, (key, name, colour, marker) in enumerate(_MODELS):
        rows = [r for r in (models.get(key) or []) if r.get("hr") is not None]
        if not rows:
            continue
        y = np.array([index[r["term"]] for r in rows], dtype=float) + (-0.14 if k == 0 else 0.14)
        hr = np.array([r["hr"] for r in rows], dtype=float)
        lo = np.array([np.nan if r["lower"] is None else r["lower"] for r in rows], dtype=float)
        hi = np.array([np.nan if r["upper"] is None else r["upper"] for r in rows], dtype=float)
        ax.hlines(y, lo, hi, color=colour, linewidth=1.2)
        ax.plot(hr, y, linestyle="none", marker=marker, color=colour, markersize=5, label=name)
        values.extend(v for v in np.concatenate([lo, hi, hr]) if np.isfinite(v) and v > 0)
        x_text = 1.04 + 0.5 * k
        for r, yy in zip(rows, y):
            ax.text(x_text, yy, fmt_hr_ci(r["hr"], r["lower"], r["upper"]), transform=ax.get_yaxis_transform(),
                    va="center", ha="left", fontsize=7.5, color=colour)
        heading = f"{name}\nHR ({fmt_level(models.get('conf_level'))} CI)"
        ax.text(x_text, -0.9, heading, transform=ax.get_yaxis_transform(), ha="left",
                va="bottom", fontsize=7.5, fontweight="bold", color=colour)
    ax.axvline(1.0, color=GREY, linewidth=0.8, linestyle=(0, (3, 2)))
    ax.set_xscale("log")
    lo_v, hi_v = min(values + [1.0]), max(values + [1.0])
    ax.set_xlim(lo_v / 1.25, hi_v * 1.25)
    candidates = [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 16, 32]
    ticks = [t for t in candidates if lo_v / 1.25 <= t <= hi_v * 1.25]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_yticks(range(n))
    ax.set_yticklabels([label for _, label in terms])
    ax.set_ylim(n - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("Hazard ratio (log scale)")
    if title:
        ax.set_title(title, loc="left", x=-0.9)
    return fig
