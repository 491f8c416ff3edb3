"""Build the whole report (HTML, DOCX, XLSX, figures) from ``out_dir/results.json``."""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from .document import make_figures, make_sections
from .docx import write_docx
from .html import write_html
from .results import load_results
from .tables import all_tables
from .xlsx import write_xlsx

__all__ = ["build_report"]

_FIGURES_WRITTEN = ".written"
"""The list of figure files the last build wrote, in the figures folder (hidden)."""


def _remove_earlier_figures(figures_dir: Path) -> None:
    """Remove the figure files an earlier build wrote (one without suppression may have drawn a
    figure this one omits), and only those: other files in the folder are the user's."""
    try:
        names = (figures_dir / _FIGURES_WRITTEN).read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    for name in names:
        if name and "/" not in name and "\\" not in name and not name.startswith(".") \
                and name.endswith((".png", ".svg")):
            (figures_dir / name).unlink(missing_ok=True)


def build_report(out_dir: Path, *, suppress_below: int | None = None, parallel: bool | None = None) -> list[Path]:
    """Write report.html, report.docx, tables.xlsx and figures/*.png|svg from ``out_dir/results.json``.

    Nothing is recomputed: every number comes from results.json (the report never imports
    ``nenstudy.stats``).

    Parameters
    ----------
    out_dir : Path
        A study run's output folder holding ``results.json``.
    suppress_below : int, optional
        Small-number suppression threshold K (>= 2): counts 1..K-1 are shown as ``"<K"`` in every
        table and figure label, and percentages derived from them are hidden. ``None``: off.
    parallel : bool, optional
        Whether figures are rendered with a helper process as well as in this one: ``None``
        (default) when a second core is available, ``False`` never (the files are the same).

    Returns
    -------
    list of Path
        The files written: report.html, report.docx, tables.xlsx, then the figure files.

    Raises
    ------
    nenstudy.report.results.ResultsError
        When results.json is missing or lacks a key the report needs.
    ValueError
        When ``suppress_below`` is below 2.
    """
    if suppress_below is not None and (isinstance(suppress_below, bool) or int(suppress_below) < 2):
        raise ValueError(f"suppress_below must be an integer >= 2 (counts 1..K-1 hidden), got {suppress_below!r}")
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    figures_dir = out_dir / "figures"
    if figures_dir.is_dir():
        _remove_earlier_figures(figures_dir)
    figures = make_figures(results, figures_dir, suppress_below, parallel=parallel)
    figures_dir.mkdir(parents=True, exist_ok=True)
    (figures_dir / _FIGURES_WRITTEN).write_text(
        "".join(f"{path.name}\n" for figure in figures.values()
                for path in (figure.file.png, figure.file.svg)), encoding="utf-8")
    tables = all_tables(results, suppress_below)
    sections = make_sections(results, tables, figures, suppress_below)
    written = [
        write_html(out_dir / "report.html", results, sections, __version__),
        write_docx(out_dir / "report.docx", results, sections, __version__),
        write_xlsx(out_dir / "tables.xlsx", tables.values(), results),
    ]
    for figure in figures.values():
        written += [figure.file.png, figure.file.svg]
    return written
