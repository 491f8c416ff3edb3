"""Kaplan-Meier figure with its numbers-at-risk table drawn on the same x axis (it cannot drift)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..formatting import fmt_count, fmt_median_ci
from .style import GREY, group_colours, new_figure

__all__ = ["KMSeries", "km_figure", "RISK_TABLE_GID"]

#: ``gid`` of the risk-table axes (lets tests and the SVG find it).
RISK_TABLE_GID = "risk-table"


@dataclass(frozen=True)
class KMSeries:
    """One Kaplan-Meier curve as results.json stores it.

    Attributes
    ----------
    label : str
        Group label shown in the legend and the risk table (without the n).
    block : Mapping
        A results.json survival block with ``n``, ``events``, ``median``, ``ci``, ``curve``
        (``time``, ``survival``, ``lower``, ``upper``, ``n_censor``) and ``risk_table``
        (``times``, ``n_risk``).
    """

    label: str
    block: Mapping


def _as_float(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _step_arrays(curve: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return time, survival, lower, upper, censored-flag arrays starting at (0, 1)."""
    time = _as_float(curve["time"])
    surv = _as_float(curve["survival"])
    lower = _as_float(curve["lower"])
    upper = _as_float(curve["upper"])
    censored = np.asarray(curve.get("n_censor", [0] * len(time)), dtype=float) > 0
    if time.size == 0 or time[0] > 0:
        time = np.concatenate([[0.0], time])
        surv = np.concatenate([[1.0], surv])
        lower = np.concatenate([[1.0], lower])
        upper = np.concatenate([[1.0], upper])
        censored = np.concatenate([[False], censored])
    return time, surv, lower, upper, censored


def _draw_curve(ax: Axes, series: KMSeries, colour: str, legend: str, band: bool) -> None:
    time, surv, lower, upper, censored = _step_arrays(series.block["curve"])
    ax.step(time, surv, where="post", color=colour, label=legend, zorder=3)
    if band:
        ax.fill_between(time, lower, upper, step="post", color=colour, alpha=0.15, linewidth=0, zorder=1)
    ax.plot(time[censored], surv[censored], linestyle="none", marker="|", markersize=6,
            markeredgewidth=1.0, color=colour, zorder=4)


def _draw_median(ax: Axes, median: float | None, colour: str) -> None:
    if median is None:
        return
    ax.plot([0, median], [0.5, 0.5], linestyle=(0, (3, 2)), linewidth=0.8, color=GREY, zorder=2)
    ax.plot([median, median], [0, 0.5], linestyle=(0, (3, 2)), linewidth=0.8, color=colour, zorder=2)


def _risk_times(series: Sequence[KMSeries]) -> list[float]:
    times = list(series[0].block["risk_table"]["times"])
    for s in series[1:]:
        if list(s.block["risk_table"]["times"]) != times:
            raise ValueError(
                f"risk-table times differ between groups ({s.label!r}): results.json must give every "
                "group of one figure the same risk_table.times"
            )
    return times


def km_figure(
    series: Sequence[KMSeries],
    *,
    xlabel: str,
    ylabel: str,
    annotation: str | None = None,
    group_title: str | None = None,
    suppress_below: int | None = None,
    width_in: float = 6.5,
    plot_height_in: float = 3.4,
) -> Figure:
    """Draw Kaplan-Meier curves (steps, CI bands, censor marks, median lines) and numbers at risk.

    The numbers-at-risk table is a second axes that shares the x axis of the curves: each number
    is placed at its time in data coordinates, exactly under the tick of the same time.

    Parameters
    ----------
    series : sequence of KMSeries
        One or more curves (one per group).
    xlabel, ylabel : str
        Axis labels (the x label names the unit, months).
    annotation : str, optional
        Text in the upper right (e.g. the log-rank p-value).
    group_title : str, optional
        What the groups are (e.g. ``"ECOG PS"``): the legend's title and the heading of the
        numbers-at-risk rows ("Number at risk by ECOG PS"), so bare levels such as ``"0-1"``
        are never shown without their variable.
    suppress_below : int, optional
        Small-number suppression for the numbers at risk and the n in the legend.
    width_in, plot_height_in : float
        Size of the figure and of the curve panel, in inches.

    Returns
    -------
    Figure
    """
    if not series:
        raise ValueError("km_figure needs at least one curve")
    colours = group_colours(len(series))
    times = _risk_times(series)
    n_rows = len(series)
    row_h, gap_top, gap_mid, gap_bottom = 0.2, 0.15, 0.62, 0.12
    risk_h = 0.25 + row_h * n_rows
    height = gap_top + plot_height_in + gap_mid + risk_h + gap_bottom
    fig = new_figure(width_in, height)
    labels = [s.label.replace("_", " ") for s in series]
    left_in = max(1.25, 0.45 + 0.068 * max(len(label) for label in labels))
    left, right = left_in / width_in, 1 - 0.25 / width_in
    ax = fig.add_axes((left, (gap_bottom + risk_h + gap_mid) / height, right - left, plot_height_in / height))
    ax_risk = fig.add_axes((left, gap_bottom / height, right - left, (risk_h - 0.25) / height), sharex=ax)
    ax_risk.set_gid(RISK_TABLE_GID)

    single = n_rows == 1
    for s, label, colour in zip(series, labels, colours):
        n_text = fmt_count(s.block["n"], suppress_below)
        legend = f"{label} (n = {n_text})"
        _draw_curve(ax, s, colour if not single else "#000000", legend, band=True)
        _draw_median(ax, s.block.get("median"), colour if not single else "#000000")

    x_max = float(times[-1])
    ax.set_xlim(-0.02 * x_max, x_max * 1.03)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(times)
    ax.set_xticklabels([f"{t:g}" for t in times])
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="#EEEEEE", linewidth=0.6, zorder=0)

    if single:
        block = series[0].block
        text = (f"n = {fmt_count(block['n'], suppress_below)}, events = {fmt_count(block['events'], suppress_below)}\n"
                f"Median {fmt_median_ci(block.get('median'), block.get('ci'))} months")
        if annotation:
            text += f"\n{annotation}"
        ax.text(0.98, 0.97, text, transform=ax.transAxes, ha="right", va="top", fontsize=8)
    else:
        legend = ax.legend(loc="upper right", frameon=False, title=group_title, alignment="left")
        if group_title:
            legend.get_title().set_fontweight("bold")
            legend.get_title().set_fontsize(8)
        if annotation:
            ax.text(0.98, 0.62, annotation, transform=ax.transAxes, ha="right", va="top", fontsize=8)

    # Numbers at risk: same x axis, one row per group, text centred on each tick time.
    ax_risk.set_ylim(n_rows - 0.5, -0.5)
    for row, (s, colour) in enumerate(zip(series, colours)):
        for t, n in zip(times, s.block["risk_table"]["n_risk"]):
            ax_risk.text(t, row, fmt_count(n, suppress_below), ha="center", va="center", fontsize=8,
                         color="#000000" if single else colour)
    ax_risk.set_yticks(range(n_rows))
    ax_risk.set_yticklabels(labels)
    for label, colour in zip(ax_risk.get_yticklabels(), colours):
        label.set_color("#000000" if single else colour)
    ax_risk.tick_params(axis="y", length=0, pad=14)
    ax_risk.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    for spine in ax_risk.spines.values():
        spine.set_visible(False)
    heading = f"Number at risk by {group_title}" if group_title and not single else "Number at risk"
    ax_risk.set_title(heading, loc="left", fontsize=8, fontweight="bold", pad=4,
                      x=-(left * width_in - 0.1) / ((right - left) * width_in))
    return fig
