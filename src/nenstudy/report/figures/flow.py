"""STROBE flow diagram of cohort selection: one box per step and a side box per exclusion."""

from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..formatting import fmt_count
from .style import OKABE_ITO, new_figure

__all__ = ["flow_figure"]

_BOX_W, _SIDE_W = 3.0, 2.6
_BOX_H, _STEP = 0.62, 1.0


def _box(fig: Figure, ax, x: float, y: float, w: float, h: float, text: str, face: str) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.06",
                                linewidth=0.9, edgecolor="#333333", facecolor=face))
    ax.text(x, y, text, ha="center", va="center", fontsize=8, linespacing=1.25)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, linewidth=0.9, color="#333333",
                                 shrinkA=0, shrinkB=0))


def flow_figure(attrition: Sequence[Mapping], *, suppress_below: int | None = None) -> Figure:
    """Draw the attrition of the cohort as a vertical flow of boxes with exclusion boxes to the side.

    Parameters
    ----------
    attrition : sequence of Mapping
        results.json ``attrition``: ordered steps with ``label``, ``n``, ``excluded`` and ``reason``.
    suppress_below : int, optional
        Small-number suppression for the counts in the boxes.

    Returns
    -------
    Figure
    """
    if not attrition:
        raise ValueError("flow_figure: results.json 'attrition' is empty")
    steps = list(attrition)
    height_units = _STEP * (len(steps) - 1) + _BOX_H + 0.2
    width_units = _BOX_W + 0.5 + _SIDE_W + 0.2
    scale = 1.0
    fig = new_figure(width_units * scale + 0.2, height_units * scale + 0.2)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.1, width_units + 0.1)
    ax.set_ylim(-0.1, height_units + 0.1)
    ax.axis("off")
    x_main = 0.1 + _BOX_W / 2
    x_side = x_main + _BOX_W / 2 + 0.5 + _SIDE_W / 2
    top = height_units - 0.1 - _BOX_H / 2
    for i, step in enumerate(steps):
        y = top - i * _STEP
        label = "\n".join(textwrap.wrap(str(step["label"]), 38))
        face = OKABE_ITO["sky_blue"] + "33" if i < len(steps) - 1 else OKABE_ITO["bluish_green"] + "40"
        _box(fig, ax, x_main, y, _BOX_W, _BOX_H, f"{label}\nn = {fmt_count(step['n'], suppress_below)}", face)
        if i == 0:
            continue
        y_prev = top - (i - 1) * _STEP
        _arrow(ax, (x_main, y_prev - _BOX_H / 2), (x_main, y + _BOX_H / 2))
        excluded = step.get("excluded")
        if excluded:
            y_mid = (y_prev + y) / 2
            reason = "\n".join(textwrap.wrap(str(step.get("reason") or "excluded"), 34))
            side_h = 0.2 + 0.16 * (reason.count("\n") + 1)
            _box(fig, ax, x_side, y_mid, _SIDE_W, min(side_h, _STEP - 0.12),
                 f"Excluded (n = {fmt_count(excluded, suppress_below)})\n{reason}", "#F4F4F4")
            _arrow(ax, (x_main, y_mid), (x_side - _SIDE_W / 2, y_mid))
    return fig
