"""The Word report (python-docx): real Word tables, embedded PNG figures, A4 pages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Mapping, Sequence

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from .document import Section
from .tables import Table

__all__ = ["write_docx"]

_TEXT_WIDTH_MM = 174.0
_TEXT_HEIGHT_MM = 235.0
_FONT = "Liberation Sans"


def _set_repeat_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def _shade(cell, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    tc_pr.append(shading)


def _cell_text(cell, text: str, *, bold: bool = False, right: bool = False, note: str = "", indent: bool = False):
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_after = Pt(0)
    paragraph.paragraph_format.space_before = Pt(0)
    if right:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if indent:
        paragraph.paragraph_format.left_indent = Mm(3)
    run = paragraph.add_run(text)
    run.font.size = Pt(8)
    run.bold = bold
    if note:
        sup = paragraph.add_run(note)
        sup.font.size = Pt(8)
        sup.font.superscript = True


def _add_table(doc, table: Table) -> None:
    title = doc.add_paragraph()
    title.paragraph_format.keep_with_next = True
    run = title.add_run(table.title)
    run.bold = True
    run.font.size = Pt(9.5)
    word = doc.add_table(rows=1 + len(table.rows), cols=len(table.columns))
    word.style = "Table Grid"
    word.alignment = WD_TABLE_ALIGNMENT.CENTER
    header = word.rows[0]
    _set_repeat_header(header)
    for j, column in enumerate(table.columns):
        _cell_text(header.cells[j], column.header, bold=True, right=table.is_numeric_column(j))
        _shade(header.cells[j], "DCE6F0")
    numeric = [table.is_numeric_column(j) for j in range(len(table.columns))]
    for i, row in enumerate(table.rows, start=1):
        cells = word.rows[i].cells
        for j, cell in enumerate(row.cells):
            _cell_text(cells[j], cell.text, bold=(row.kind == "group" and j == 0), right=numeric[j], note=cell.note,
                       indent=(row.kind == "level" and j == 0))
    for note in table.footnotes:
        p = doc.add_paragraph()
        p.paragraph_format.space_after = Pt(0)
        r = p.add_run(note)
        r.font.size = Pt(7.5)
        r.italic = True
    doc.add_paragraph().paragraph_format.space_after = Pt(4)


def _add_figure(doc, png: Path, width_in: float, height_in: float, caption: str) -> None:
    width_mm = min(_TEXT_WIDTH_MM, _TEXT_HEIGHT_MM * width_in / height_in)
    doc.add_picture(str(png), width=Mm(width_mm))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.paragraphs[-1].paragraph_format.keep_with_next = True
    p = doc.add_paragraph()
    r = p.add_run(caption)
    r.font.size = Pt(8)
    r.font.color.rgb = RGBColor(0x55, 0x55, 0x55)


def write_docx(path: Path, results: Mapping, sections: Sequence[Section], version: str) -> Path:
    """Write report.docx: the same sections as the HTML, with Word tables and PNG figures.

    Parameters
    ----------
    path : Path
        Output file.
    results : Mapping
        Parsed results.json (title, provenance).
    sections : sequence of Section
        The report content.
    version : str
        nenstudy version (document properties).
    """
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(18)
    section.top_margin = section.bottom_margin = Mm(18)
    normal = doc.styles["Normal"]
    normal.font.name = _FONT
    normal.font.size = Pt(10)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), _FONT)
    study, prov = results["study"], results.get("provenance") or {}
    title = study.get("title") or study.get("name") or "Study report"
    props = doc.core_properties
    props.title = title
    props.author = f"nenstudy {version}"
    props.comments = f"Generated from results.json of study {study.get('name', '')}"
    generated = prov.get("generated_at")
    try:
        stamp = dt.datetime.fromisoformat(str(generated).replace("Z", "+00:00")) if generated else None
    except ValueError:
        stamp = None
    if stamp is not None:
        props.created = props.modified = stamp
    doc.add_heading(title, level=0)
    doc.add_paragraph(f"Study {study.get('name', '')} ({study.get('study_file', '')}); "
                      f"{'synthetic registry' if prov.get('synthetic') else 'registry data'}; "
                      f"results generated {prov.get('generated_at', 'at an unknown time')}.")
    doc.add_heading("Contents", level=1)
    for number, s in enumerate(sections, start=1):
        doc.add_paragraph(f"{number}. {s.title}")
    figure_number = 0
    for number, s in enumerate(sections, start=1):
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        doc.add_heading(f"{number}. {s.title}", level=1)
        for block in s.blocks:
            if block.kind == "paragraph":
                doc.add_paragraph(block.text)
            elif block.kind == "table" and block.table is not None:
                _add_table(doc, block.table)
            elif block.kind == "figure" and block.figure is not None:
                figure_number += 1
                f = block.figure.file
                _add_figure(doc, f.png, f.width_in, f.height_in, f"Figure {figure_number}. {block.figure.caption}")
    doc.save(str(path))
    return path
