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
_BOX_H = 0.62


def _box(ax, x: float, y: float, w: float, h: float, text: str, face: str, style: str) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.06",
                                linewidth=0.9, edgecolor="#333333", facecolor=face, linestyle=style))
    ax.text(x, y, text, ha="center", va="center", fontsize=8, linespacing=1.25)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, linewidth=0.9, color="#333333",
                                 shrinkA=0, shrinkB=0))


def _breakdown(step: Mapping, suppress_below: int | None) -> str:
    by = step.get("excluded_by") or {}
    return "; ".join(f"{k.replace('_', ' ')} {fmt_count(v, suppress_below)}" for k, v in by.items())


def _final_index(steps: Sequence[Mapping]) -> int:
    cohort = [i for i, s in enumerate(steps) if s.get("kind", "cohort") == "cohort"]
    return cohort[-1] if cohort else len(steps) - 1


def flow_figure(attrition: Sequence[Mapping], *, suppress_below: int | None = None) -> Figure:
    """Draw the attrition of the cohort as a vertical flow of boxes with exclusion boxes to the side.

    The last cohort step (the final cohort) is green; later steps that are analysis subsets
    (``kind == "subset"``, e.g. advanced disease, first-line treated) are drawn with dashed edges.
    Exclusion boxes give the count, the reason and, when results give it, the breakdown.

    Parameters
    ----------
    attrition : sequence of Mapping
        results.json ``attrition``: ordered steps with ``label``, ``n``, ``excluded``, ``reason`` and
        optionally ``kind`` and ``excluded_by``.
    suppress_below : int, optional
        Small-number suppression for every count in the boxes.

    Returns
    -------
    Figure
    """
    if not attrition:
        raise ValueError("flow_figure: results.json 'attrition' is empty")
    steps = list(attrition)
    final = _final_index(steps)
    labels = ["\n".join(textwrap.wrap(str(s.get("label") or s.get("step")), 38)) for s in steps]
    box_h = [max(_BOX_H, 0.3 + 0.17 * (lab.count("\n") + 2)) for lab in labels]
    sides: list[str | None] = [None]
    for step in steps[1:]:
        if not step.get("excluded"):
            sides.append(None)
            continue
        lines = [f"Excluded (n = {fmt_count(step['excluded'], suppress_below)})"]
        lines += textwrap.wrap(str(step.get("reason") or "excluded"), 34)
        lines += textwrap.wrap(_breakdown(step, suppress_below), 38)
        sides.append("\n".join(lines))
    side_h = [0.0 if t is None else 0.14 + 0.17 * (t.count("\n") + 1) for t in sides]
    # vertical layout: the gap above each box is tall enough for its exclusion box
    gaps = [0.0] + [max(0.38, h + 0.14) for h in side_h[1:]]
    tops, y = [], 0.0
    for i in range(len(steps)):
        y += gaps[i]
        tops.append(y)
        y += box_h[i]
    height_units = y + 0.2
    width_units = _BOX_W + 0.5 + _SIDE_W + 0.2
    fig = new_figure(width_units + 0.2, height_units + 0.2)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.1, width_units + 0.1)
    ax.set_ylim(height_units + 0.1, -0.1)
    ax.axis("off")
    x_main = 0.1 + _BOX_W / 2
    x_side = x_main + _BOX_W / 2 + 0.5 + _SIDE_W / 2
    for i, step in enumerate(steps):
        centre = 0.1 + tops[i] + box_h[i] / 2
        if i == final:
            face, style = OKABE_ITO["bluish_green"] + "40", "solid"
        elif i > final:
            face, style = "#FFFFFF", "dashed"
        else:
            face, style = OKABE_ITO["sky_blue"] + "33", "solid"
        _box(ax, x_main, centre, _BOX_W, box_h[i], f"{labels[i]}\nn = {fmt_count(step['n'], suppress_below)}", face,
             style)
        if i == 0:
            continue
        prev_bottom = 0.1 + tops[i - 1] + box_h[i - 1]
        _arrow(ax, (x_main, prev_bottom), (x_main, centre - box_h[i] / 2))
        if sides[i] is not None:
            y_mid = (prev_bottom + centre - box_h[i] / 2) / 2
            _box(ax, x_side, y_mid, _SIDE_W, side_h[i], sides[i], "#F4F4F4", "solid")
            _arrow(ax, (x_main, y_mid), (x_side - _SIDE_W / 2, y_mid))
    return fig
