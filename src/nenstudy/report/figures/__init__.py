"""Report figures: Kaplan-Meier with risk tables, forest, flow, oncoprint and swimmer plots."""

from .flow import flow_figure
from .forest import forest_figure
from .km import KMSeries, km_figure
from .oncoprint import oncoprint_figure
from .render import FigureJob, render_figure, render_figures
from .style import FigureFile, figure_style, save_figure
from .swimmer import swimmer_figure

__all__ = [
    "FigureFile",
    "FigureJob",
    "KMSeries",
    "figure_style",
    "flow_figure",
    "forest_figure",
    "km_figure",
    "oncoprint_figure",
    "render_figure",
    "render_figures",
    "save_figure",
    "swimmer_figure",
]
