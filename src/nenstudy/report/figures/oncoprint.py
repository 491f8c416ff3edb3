"""Oncoprint: alterations by gene (rows) and profiled patient (columns), with TMB and MSI tracks."""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..formatting import fmt_count
from ..suppression import is_suppressed
from .style import GREY, LIGHT_GREY, OKABE_ITO, new_figure

__all__ = ["oncoprint_figure", "ALTERATION_COLOURS"]

#: Colours of the alteration classes; any other class gets the next Okabe-Ito colour.
ALTERATION_COLOURS: dict[str, str] = {
    "not tested": "#FFFFFF",
    "wild_type": LIGHT_GREY,
    "mutation": OKABE_ITO["blue"],
    "cn_loss": OKABE_ITO["sky_blue"],
    "copy_number_loss": OKABE_ITO["sky_blue"],
    "amplification": OKABE_ITO["vermillion"],
    "fusion": OKABE_ITO["reddish_purple"],
}
_MSS_GREY = "#A6A6A6"
_SPARE = [OKABE_ITO["orange"], OKABE_ITO["bluish_green"], OKABE_ITO["black"]]


def _label(kind: str) -> str:
    names = {"wild_type": "Wild type", "not tested": "Not tested", "cn_loss": "Copy-number loss",
             "copy_number_loss": "Copy-number loss"}
    return names.get(kind, kind.replace("_", " ").capitalize())


def _classes(alterations: list[list[str | None]]) -> list[str]:
    found = {v for row in alterations for v in row if v is not None}
    ordered = [k for k in ALTERATION_COLOURS if k in found or k in ("not tested", "wild_type")]
    return ordered + sorted(found - set(ordered))


def oncoprint_figure(molecular: Mapping, *, suppress_below: int | None = None) -> Figure:
    """Draw the molecular landscape of the profiled patients.

    Genes are ordered by number altered, patients by a lexicographic sort of their alterations (the
    usual oncoprint "mutual exclusivity" order). A bar track shows TMB (mut/Mb) with the TMB-high
    threshold; a tile track shows MSI status. Right of each gene: altered/tested counts.

    Parameters
    ----------
    molecular : Mapping
        results.json ``molecular`` with ``genes`` and ``matrix`` (``ids``, ``genes``, ``alterations``,
        ``msi``, ``tmb``) and ``tmb.threshold``.
    suppress_below : int, optional
        Small-number suppression for the counts printed beside the genes.

    Returns
    -------
    Figure
    """
    matrix = molecular.get("matrix")
    if not matrix or not matrix.get("ids"):
        raise ValueError("oncoprint_figure: results.json 'molecular.matrix' is missing or has no patients")
    genes = list(matrix["genes"])
    alterations = [list(row) for row in matrix["alterations"]]
    classes = _classes(alterations)
    code = {k: i for i, k in enumerate(classes)}
    grid = np.array([[code["not tested" if v is None else v] for v in row] for row in alterations]).T  # genes x pts
    altered = (grid != code["not tested"]) & (grid != code["wild_type"])
    gene_order = np.argsort(-altered.sum(axis=1), kind="stable")
    grid, altered = grid[gene_order], altered[gene_order]
    genes = [genes[i] for i in gene_order]
    patient_order = np.lexsort(tuple(~altered[::-1]))  # most frequent gene is the primary key
    grid = grid[:, patient_order]
    tmb = np.array([np.nan if v is None else v for v in matrix.get("tmb", [None] * len(patient_order))], float)
    tmb = tmb[patient_order]
    msi = [matrix.get("msi", [None] * len(patient_order))[i] for i in patient_order]

    n_genes, n_pat = grid.shape
    width = 7.0
    height = 1.2 + 0.24 * (n_genes + 1) + 0.9
    fig = new_figure(width, height)
    left, plot_w = 0.9 / width, 4.6 / width
    gene_h = 0.24 * n_genes / height
    msi_h = 0.24 / height
    tmb_h = 0.75 / height
    y0 = 0.85 / height
    ax = fig.add_axes((left, y0 + msi_h + 0.06 / height, plot_w, gene_h))
    ax_msi = fig.add_axes((left, y0, plot_w, msi_h), sharex=ax)
    ax_tmb = fig.add_axes((left, y0 + msi_h + gene_h + 0.14 / height, plot_w, tmb_h), sharex=ax)

    colours = [ALTERATION_COLOURS.get(k) for k in classes]
    spare = iter(_SPARE)
    colours = [c if c is not None else next(spare) for c in colours]
    ax.pcolormesh(np.arange(n_pat + 1) - 0.5, np.arange(n_genes + 1) - 0.5, grid,
                  cmap=ListedColormap(colours), vmin=-0.5, vmax=len(classes) - 0.5,
                  edgecolors="white", linewidth=0.6)
    ax.set_ylim(n_genes - 0.5, -0.5)
    ax.set_yticks(range(n_genes))
    ax.set_yticklabels(genes, fontstyle="italic")
    ax.tick_params(length=0, labelbottom=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    gene_counts = molecular.get("genes", {})
    for i, gene in enumerate(genes):
        counts = gene_counts.get(gene, {})
        a, t = counts.get("altered"), counts.get("tested")
        pct = "" if (a is None or not t or is_suppressed(a, suppress_below) or is_suppressed(t, suppress_below)) \
            else f" ({100 * a / t:.0f}%)"
        ax.text(1.01, i, f"{fmt_count(a, suppress_below)}/{fmt_count(t, suppress_below)}{pct}",
                transform=ax.get_yaxis_transform(), va="center", fontsize=7.5)
    ax.text(1.01, -0.85, "altered/tested", transform=ax.get_yaxis_transform(), fontsize=7.5, fontweight="bold")

    # TMB track
    threshold = (molecular.get("tmb") or {}).get("threshold")
    high = np.isfinite(tmb) & (tmb >= (threshold if threshold is not None else np.inf))
    ax_tmb.bar(np.arange(n_pat), np.nan_to_num(tmb), width=0.8,
               color=np.where(high, OKABE_ITO["vermillion"], GREY))
    if threshold is not None:
        ax_tmb.axhline(threshold, color=OKABE_ITO["vermillion"], linewidth=0.8, linestyle=(0, (3, 2)))
        ax_tmb.text(1.01, threshold, f"TMB-high ≥ {threshold:g}", transform=ax_tmb.get_yaxis_transform(),
                    va="center", fontsize=7, color=OKABE_ITO["vermillion"])
    ax_tmb.set_ylabel("TMB\n(mut/Mb)", fontsize=7.5)
    ax_tmb.tick_params(labelbottom=False, bottom=False, labelsize=7)
    ax_tmb.spines["bottom"].set_visible(False)

    # MSI track
    msi_code = np.array([[{"MSI-H": 2, "MSS": 1}.get(v, 0) if v is not None else 0 for v in msi]])
    ax_msi.pcolormesh(np.arange(n_pat + 1) - 0.5, [-0.5, 0.5], msi_code,
                      cmap=ListedColormap(["#FFFFFF", _MSS_GREY, OKABE_ITO["reddish_purple"]]),
                      vmin=-0.5, vmax=2.5, edgecolors="white", linewidth=0.6)
    ax_msi.set_yticks([0])
    ax_msi.set_yticklabels(["MSI"])
    ax_msi.tick_params(length=0, labelbottom=False)
    for spine in ax_msi.spines.values():
        spine.set_visible(False)
    ax.set_xlim(-0.5, n_pat - 0.5)
    ax_msi.set_xlabel(f"Profiled patients (n = {fmt_count(n_pat, suppress_below)}), one column each")

    handles = [Patch(facecolor=c, edgecolor=GREY if k == "not tested" else c, linewidth=0.5, label=_label(k))
               for k, c in zip(classes, colours)]
    handles += [Patch(facecolor=OKABE_ITO["reddish_purple"], label="MSI-high"),
                Patch(facecolor=_MSS_GREY, label="MSS")]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), frameon=False, fontsize=7.5,
               bbox_to_anchor=(0.5, 0.0), handlelength=1.2)
    return fig
