"""The Excel workbook (openpyxl): one sheet per table, styled headers, numbers stored as numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterable, Mapping

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from .tables import Column, Table

__all__ = ["write_xlsx", "sheet_columns", "HEADER_ROW", "FIRST_DATA_ROW"]

#: Row 1 holds the table title, row 2 the column headers, data start in row 3.
HEADER_ROW = 2
FIRST_DATA_ROW = 3

_NUMBER_FORMATS = {"int": "0", "pct": "0.0%", "num1": "0.0", "num2": "0.00", "p": "0.000"}
_HEADER_FILL = PatternFill("solid", fgColor="DCE6F0")
_HEADER_FONT = Font(bold=True)
_RULE = Border(bottom=Side(style="thin", color="333333"))


def sheet_columns(column: Column) -> list[str]:
    """Spreadsheet headers of one table column: composite columns become one sub-column per part."""
    if not column.parts:
        return [column.header]
    return [f"{column.header}: {part}" for part in column.parts]


def _write_value(ws, row: int, col: int, value: Any, fmt: str) -> None:
    cell = ws.cell(row=row, column=col)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or fmt == "text":
        cell.value = str(value)
        if isinstance(value, str) and value.startswith("<"):
            cell.alignment = Alignment(horizontal="right")
        return
    cell.value = value
    number_format = _NUMBER_FORMATS.get(fmt, "General")
    if fmt == "p" and 0 < value < 0.001:
        number_format = "0.0E+00"
    cell.number_format = number_format


def _write_table(wb: Workbook, table: Table) -> None:
    ws = wb.create_sheet(title=table.key[:31])
    ws.cell(row=1, column=1, value=table.title).font = Font(bold=True, size=12)
    col = 1
    widths: dict[int, int] = {}
    starts = []
    for column in table.columns:
        starts.append(col)
        for header in sheet_columns(column):
            cell = ws.cell(row=HEADER_ROW, column=col, value=header)
            cell.font, cell.fill, cell.border = _HEADER_FONT, _HEADER_FILL, _RULE
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            widths[col] = max(10, min(len(header) + 2, 28))
            col += 1
    for r, row in enumerate(table.rows, start=FIRST_DATA_ROW):
        for column, start, cell in zip(table.columns, starts, row.cells):
            n_parts = max(1, len(column.parts))
            values = list(cell.values) if cell.values else [cell.text or None]
            formats = list(cell.formats) if cell.formats else ["text"]
            values += [None] * (n_parts - len(values))
            formats += [formats[-1]] * (n_parts - len(formats))
            for k in range(n_parts):
                _write_value(ws, r, start + k, values[k], formats[k])
                if values[k] is not None:
                    widths[start + k] = max(widths.get(start + k, 10), min(len(str(values[k])) + 2, 60))
        first = ws.cell(row=r, column=1)
        if row.kind == "group":
            first.font = Font(bold=True)
        elif row.kind == "level":
            first.alignment = Alignment(indent=1)
        if cell_note := [c.note for c in row.cells if c.note]:
            ws.cell(row=r, column=col, value=f"test: {cell_note[0]}")
    note_row = FIRST_DATA_ROW + len(table.rows) + 1
    for i, note in enumerate(table.footnotes):
        ws.cell(row=note_row + i, column=1, value=note).font = Font(italic=True, size=9)
    for c, width in widths.items():
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=2)


def write_xlsx(path: Path, tables: Iterable[Table], results: Mapping) -> Path:
    """Write tables.xlsx: a Contents sheet, then one sheet per table (header row 2, data from row 3).

    Parameters
    ----------
    path : Path
        Output file.
    tables : iterable of Table
        The report's tables (:func:`nenstudy.report.tables.all_tables`).
    results : Mapping
        Parsed results.json (study name and provenance for the Contents sheet).
    """
    tables = list(tables)
    wb = Workbook()
    contents = wb.active
    contents.title = "Contents"
    study, prov = results["study"], results.get("provenance") or {}
    contents["A1"] = study.get("title") or study.get("name")
    contents["A1"].font = Font(bold=True, size=12)
    contents["A2"] = f"Generated {prov.get('generated_at', '')} from results.json; one sheet per table."
    for c, header in enumerate(("Sheet", "Table"), start=1):
        cell = contents.cell(row=4, column=c, value=header)
        cell.font, cell.fill, cell.border = _HEADER_FONT, _HEADER_FILL, _RULE
    for i, table in enumerate(tables, start=5):
        contents.cell(row=i, column=1, value=table.key[:31])
        contents.cell(row=i, column=2, value=table.title)
        _write_table(wb, table)
    contents.column_dimensions["A"].width = 16
    contents.column_dimensions["B"].width = 70
    generated = prov.get("generated_at")
    wb.properties.title = str(study.get("title") or "")
    if generated:
        try:
            stamp = dt.datetime.fromisoformat(str(generated).replace("Z", "+00:00")).replace(tzinfo=None)
            wb.properties.created = wb.properties.modified = stamp
        except ValueError:
            pass
    wb.save(str(path))
    return path
