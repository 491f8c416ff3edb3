"""The self-contained HTML report: Jinja2 template, inline CSS, figures inline as SVG, no network."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .document import Section

__all__ = ["render_html", "write_html"]


def _environment() -> Environment:
    folder = resources.files("nenstudy.report") / "templates"
    return Environment(loader=FileSystemLoader(str(folder)), autoescape=select_autoescape(["html", "j2"]),
                       undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)


def _figure_numbers(sections: Sequence[Section]) -> dict[str, int]:
    keys = [b.figure.key for s in sections for b in s.blocks if b.kind == "figure" and b.figure is not None]
    return {key: i + 1 for i, key in enumerate(keys)}


def render_html(results: Mapping, sections: Sequence[Section], version: str) -> str:
    """Render the report as one HTML string (styles and SVG figures inline; nothing fetched).

    Parameters
    ----------
    results : Mapping
        The parsed results.json (for the title and provenance line).
    sections : sequence of Section
        The report content (:func:`nenstudy.report.document.make_sections`).
    version : str
        The nenstudy version writing the report.
    """
    env = _environment()
    css = (resources.files("nenstudy.report") / "templates" / "report.css").read_text(encoding="utf-8")
    study, prov = results["study"], results.get("provenance") or {}
    subtitle = " · ".join(x for x in [
        f"Study {study.get('name', '')} ({study.get('study_file', '')})",
        "synthetic registry" if prov.get("synthetic") else "registry data",
        f"results generated {prov.get('generated_at', 'at an unknown time')}",
    ] if x)
    return env.get_template("report.html.j2").render(
        title=study.get("title") or study.get("name") or "Study report", subtitle=subtitle, css=css,
        sections=sections, figure_numbers=_figure_numbers(sections), version=version)


def write_html(path: Path, results: Mapping, sections: Sequence[Section], version: str) -> Path:
    """Render and write report.html; return its path."""
    path.write_text(render_html(results, sections, version), encoding="utf-8")
    return path
