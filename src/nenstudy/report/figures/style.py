"""House style of every report figure: Okabe-Ito colours, one font family, sizes, saving."""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .png import encode_png

__all__ = [
    "OKABE_ITO",
    "GREY",
    "LIGHT_GREY",
    "FONT_FAMILY",
    "PNG_DPI",
    "FigureFile",
    "figure_style",
    "group_colours",
    "new_figure",
    "save_figure",
]

#: Okabe & Ito (2008) colour-blind-safe palette, black last (used for single curves first).
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish_green": "#009E73",
    "vermillion": "#D55E00",
    "sky_blue": "#56B4E9",
    "reddish_purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
GREY = "#6E6E6E"
LIGHT_GREY = "#D9D9D9"
#: Bundled with matplotlib, so every machine draws the same glyphs (SVG text is stored as paths).
FONT_FAMILY = "DejaVu Sans"
PNG_DPI = 300

_RC = {
    "font.family": FONT_FAMILY,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.5,
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "figure.dpi": 100,
}


def group_colours(n: int) -> list[str]:
    """Return ``n`` distinct Okabe-Ito colours (yellow skipped: too pale for lines on white).

    Parameters
    ----------
    n : int
        Number of groups (at most 7).
    """
    usable = [c for k, c in OKABE_ITO.items() if k != "yellow"]
    if n > len(usable):
        raise ValueError(f"at most {len(usable)} groups can be drawn in distinct colours, got {n}")
    return usable[:n]


@contextmanager
def figure_style() -> Iterator[None]:
    """Apply the house rcParams for the duration of a ``with`` block."""
    with matplotlib.rc_context(_RC):
        yield


def new_figure(width_in: float, height_in: float) -> Figure:
    """Create a figure outside pyplot's global state (no figure manager, nothing leaks)."""
    return Figure(figsize=(width_in, height_in), layout=None)


@dataclass(frozen=True)
class FigureFile:
    """One saved figure: its name, the PNG and SVG paths, and the SVG markup to inline in HTML."""

    name: str
    png: Path
    svg: Path
    svg_inline: str
    width_in: float
    height_in: float


_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_ID_ATTR = re.compile(r'\bid="([^"]+)"')
_ID_REF = re.compile(r'(href="#|url\(#)([^")]+)')


def _namespace_ids(svg: str, prefix: str) -> str:
    """Prefix every element id (and every reference to one) so that inlined SVGs never collide."""
    svg = _ID_ATTR.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return _ID_REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)


def _render_rgba(fig: Figure, dpi: float) -> np.ndarray:
    """Draw the figure with Agg at ``dpi`` and return its pixels as a (height, width, 4) uint8 array."""
    screen_dpi = fig.dpi
    fig.set_dpi(dpi)
    try:
        raw, (width, height) = FigureCanvasAgg(fig).print_to_buffer()
    finally:
        fig.set_dpi(screen_dpi)
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 4)


def save_figure(fig: Figure, figures_dir: Path, name: str) -> FigureFile:
    """Save a figure as PNG (300 dpi) and SVG, and return the SVG markup for inlining.

    The figure is drawn once per format: once by Agg at 300 dpi (the raster is encoded by
    :func:`~nenstudy.report.figures.png.encode_png`) and once by the SVG backend, whose text is
    both the ``.svg`` file and the inline markup.

    SVG element ids are salted with the figure name so that several figures inlined in one HTML
    page never share an id, and the output is reproducible (no random salt, no date).

    Parameters
    ----------
    fig : Figure
        The figure (drawn under :func:`figure_style`).
    figures_dir : Path
        Output folder (created if needed).
    name : str
        File stem, e.g. ``"km_os"``.
    """
    figures_dir.mkdir(parents=True, exist_ok=True)
    png = figures_dir / f"{name}.png"
    svg = figures_dir / f"{name}.svg"
    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"nenstudy-{name}"}):
        rgba = _render_rgba(fig, PNG_DPI)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    png.write_bytes(encode_png(rgba, PNG_DPI))
    markup = buffer.getvalue()
    svg.write_text(markup, encoding="utf-8")
    inline = _namespace_ids(_XML_PROLOGUE.sub("", markup, count=1), name)
    inline = inline.replace("<svg ", f'<svg role="img" data-figure="{name}" ', 1)
    width, height = fig.get_size_inches()
    return FigureFile(name=name, png=png, svg=svg, svg_inline=inline, width_in=float(width), height_in=float(height))
