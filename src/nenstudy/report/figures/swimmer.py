"""Swimmer plot: lines of systemic therapy over time, one lane per treated patient."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .style import GREY, OKABE_ITO, new_figure

__all__ = ["swimmer_figure", "LINE_COLOURS"]

#: Colour of each line of therapy (3 = third or later).
LINE_COLOURS = {1: OKABE_ITO["blue"], 2: OKABE_ITO["orange"], 3: OKABE_ITO["bluish_green"]}


def swimmer_figure(swimmer: Sequence[Mapping], *, xlabel: str) -> Figure:
    """Draw one lane per patient: follow-up as a thin grey line, each line of therapy as a bar.

    Lanes are sorted by follow-up. Markers show progression (triangle), death (cross) or alive at
    last contact (arrow). Lanes carry no patient labels (pseudonymous ids are not needed to read it).

    Parameters
    ----------
    swimmer : sequence of Mapping
        results.json ``swimmer``: per patient ``end``, ``dead`` and ``lines`` (``line``, ``start``,
        ``end``, ``progression``).
    xlabel : str
        The x-axis label (with the time origin and unit).

    Returns
    -------
    Figure
    """
    if not swimmer:
        raise ValueError("swimmer_figure: results.json 'swimmer' is empty")
    ends = np.array([p["end"] for p in swimmer], dtype=float)
    order = np.argsort(ends, kind="stable")
    lanes = [swimmer[i] for i in order]
    n = len(lanes)
    lane_h = 0.055 if n > 60 else 0.12
    height = 1.1 + lane_h * n
    fig = new_figure(6.5, height)
    ax = fig.add_axes((0.7 / 6.5, 0.75 / height, 5.6 / 6.5, (height - 0.95) / height))
    y = np.arange(n)
    ax.hlines(y, 0, ends[order], color="#BBBBBB", linewidth=0.5, zorder=1)
    bars: dict[int, list] = {1: [], 2: [], 3: []}
    progression_x, progression_y = [], []
    for lane, patient in enumerate(lanes):
        for line in patient.get("lines", []):
            bars[min(int(line["line"]), 3)].append([(line["start"], lane), (line["end"], lane)])
            if line.get("progression") is not None:
                progression_x.append(line["progression"])
                progression_y.append(lane)
    width_pts = max(1.0, 72 * lane_h * 0.75)
    for k, segments in bars.items():
        if segments:
            ax.add_collection(LineCollection(segments, colors=LINE_COLOURS[k], linewidths=width_pts,
                                             capstyle="butt", zorder=2))
    dead = np.array([bool(p.get("dead")) for p in lanes])
    marker_size = max(2.0, 72 * lane_h * 0.8)
    ax.plot(progression_x, progression_y, linestyle="none", marker="v", markersize=marker_size,
            color=OKABE_ITO["vermillion"], zorder=3)
    ax.plot(ends[order][dead], y[dead], linestyle="none", marker="x", markersize=marker_size,
            markeredgewidth=0.8, color="#000000", zorder=3)
    ax.plot(ends[order][~dead], y[~dead], linestyle="none", marker=">", markersize=marker_size, color=GREY, zorder=3)
    ax.set_ylim(-1, n)
    ax.set_xlim(0, float(np.nanmax(ends)) * 1.03)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_ylabel(f"Patients (n = {n}), one lane each")
    ax.set_xlabel(xlabel)
    handles = [Patch(color=LINE_COLOURS[1], label="Line 1"), Patch(color=LINE_COLOURS[2], label="Line 2"),
               Patch(color=LINE_COLOURS[3], label="Line 3+"),
               Line2D([], [], linestyle="none", marker="v", color=OKABE_ITO["vermillion"], label="Progression"),
               Line2D([], [], linestyle="none", marker="x", color="#000000", label="Death"),
               Line2D([], [], linestyle="none", marker=">", color=GREY, label="Alive at last contact")]
    ax.legend(handles=handles, loc="lower right", frameon=True, framealpha=0.9, edgecolor="none", fontsize=7.5)
    return fig
