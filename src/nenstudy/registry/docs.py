"""Generate ``docs/registry.md`` (the registry format for users) from the schema.

Regenerate after changing :mod:`nenstudy.registry.schema`::

    python -m nenstudy.registry.docs > docs/registry.md

A test fails when the committed file differs from what this module renders.
"""

from __future__ import annotations

import sys

from nenstudy.registry import csvshape
from nenstudy.registry.sources import ROW_CONVENTION
from nenstudy.registry.schema import (
    HEADER_ALIASES,
    AGE_RANGE_YEARS,
    EARLIEST_DATE,
    TOPOGRAPHY_LAST,
    TOPOGRAPHY_GAPS,
    DAYS_PER_YEAR,
    KARNOFSKY_TO_ECOG,
    KI67_GRADE_UPPER,
    LIST_SEPARATOR,
    MISSING_MARKERS,
    MINEN_NON_NE_THRESHOLD_PCT,
    MITOSES_GRADE_UPPER,
    SCHEMA,
    SCHEMA_VERSION,
    CODE_SYNONYMS,
    SITE_GROUP_DEFAULT,
    SITE_GROUP_RANGES,
    Column,
    Table,
)
from nenstudy.registry.store import STORAGE_VERSION
from nenstudy.registry.validation import SPLIT_TEXT_LENGTH
from nenstudy.registry import DEFAULT_MEMORY_LIMIT

__all__ = ["REGENERATE_COMMAND", "render_registry_markdown", "main"]

REGENERATE_COMMAND = "python -m nenstudy.registry.docs > docs/registry.md"
"""The command that regenerates ``docs/registry.md``."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rules(column: Column) -> str:
    parts = []
    if column.allowed is not None:
        codes = ", ".join(f"`{a}`" for a in column.allowed)
        parts.append(("tokens: " if column.dtype == "list" else "") + codes)
    if column.pattern_hint:
        parts.append(column.pattern_hint)
    if column.minimum is not None and column.maximum is not None:
        parts.append(f"{column.minimum:g}–{column.maximum:g}")
    elif column.minimum is not None:
        parts.append(f">= {column.minimum:g}")
    if column.multiple_of is not None:
        parts.append(f"multiple of {column.multiple_of}")
    if column.identifier:
        parts.append("identifier (masked in problem listings)")
    return "; ".join(parts)


def _table_section(table: Table) -> list[str]:
    key = ", ".join(f"`{k}`" for k in table.key)
    lines = [
        f"## `{table.name}`",
        "",
        f"One row per {table.one_row_per}. Key: {key}."
        + (" A file with a header and no rows is accepted." if table.may_be_empty else ""),
    ]
    if table.foreign_keys:
        refs = "; ".join(
            f"`{fk.column}` → `{fk.table}.{fk.target_column}`" for fk in table.foreign_keys
        )
        lines.append(f"References: {refs}.")
    lines += [
        "",
        "| column | type | required | unit | allowed values / rules | description |",
        "|---|---|---|---|---|---|",
    ]
    for c in table.columns:
        lines.append(
            f"| `{c.name}` | {c.dtype} | {'yes' if c.required else 'no'} | {c.unit or ''} "
            f"| {_cell(_rules(c))} | {_cell(c.description)} |"
        )
    if table.derived:
        lines += [
            "",
            "Derived at import (store only):",
            "",
            "| column | type | derivation |",
            "|---|---|---|",
        ]
        for d in table.derived:
            lines.append(f"| `{d.name}` | {d.dtype} | {_cell(d.description)} |")
    lines.append("")
    return lines


def render_registry_markdown() -> str:
    """Render the registry documentation (Markdown) from the schema.

    Returns
    -------
    str
        The content of ``docs/registry.md``.
    """
    ranges = "; ".join(
        f"C{first:02d}–C{last:02d} → `{group}`" if first != last
        else f"C{first:02d} → `{group}`"
        for first, last, group in SITE_GROUP_RANGES
    )
    karnofsky = ", ".join(f"{k}→{e}" for k, e in sorted(KARNOFSKY_TO_ECOG.items(), reverse=True))
    lines = [
        "# The registry format",
        "",
        f"<!-- Generated from src/nenstudy/registry/schema.py by `{REGENERATE_COMMAND}`; "
        "do not edit by hand. -->",
        "",
        f"Schema version {SCHEMA_VERSION}. A registry source is a folder with one file per table, "
        "named `<table>.csv`, `<table>.parquet` or `<table>.xlsx` (first worksheet). Tables: "
        + ", ".join(f"`{t.name}`" for t in SCHEMA)
        + ". Another file whose name starts with a table's and a separator "
        "(`molecular_tests_2.csv`, `patients (1).xlsx`) and whose header names every required "
        "column of the table is an error: its rows would be left out. Any other file (a "
        "codebook `patients_codebook.csv`) is ignored with a warning.",
        "",
        "## Values",
        "",
        "- CSV: comma-separated, UTF-8 (a byte-order mark is fine); a Latin-1 file is read with "
        "a warning; Windows-1252 text, or a file mixing UTF-8 with other bytes, is an error "
        "at the first row concerned. The first line is the header (a first row naming none of "
        "the table's columns is an error that quotes none of its values); column names "
        "are matched case-insensitively; optional columns may be left out; unknown columns are "
        "reported and not imported, as are columns without a name (trailing commas), with the "
        "number of rows holding a value in them. An unknown column that names a missing one "
        "in another spelling (`Karnofsky %` for `karnofsky`, `resectible`) or by another usual "
        "name (`KPS`, `Ki-67 index`, `date of death`; listed below) is an error naming the "
        "column meant: its values would be lost; a header of which half the names or more are "
        "such names (REDCap's label export) is read so. REDCap checkbox columns (`metastatic_sites___1`, ...) in "
        "place of a missing column are an error naming it. Blank rows are "
        "ignored with a warning and counted in row numbers, as in a spreadsheet; so are rows "
        "of separators only (`,,,,`: a spreadsheet's formatted empty rows), left out with one "
        "warning naming them (`row.empty`). A row whose "
        "number of values is not the header's (a row of spaces too) is an error; the other "
        "rows' values are checked in the same run (up to "
        f"{csvshape.MAX_INNER_BLANK_ROWS} such rows), and the checks across rows and tables "
        "once the file is mended. A file with an unclosed quote or with mixed line endings "
        "gets every such row listed (a carriage return inside an unquoted value, which splits "
        "its line in two, is named by its line); its values are checked once it is mended. "
        "UTF-16, semicolon- and tab-separated files are named as "
        "such. A free-text value that another program writes for a missing value ("
        + ", ".join(f"`{m}`" for m in MISSING_MARKERS) + ", in any case) is kept as text with "
        "a warning (typed and coded columns refuse it). A free-text value holding a line "
        "break and as many commas as a whole row is an "
        "error (two rows merged by a stray quote: the second would be lost); only its length is "
        "shown.",
        "- XLSX: the first worksheet, every row and column it holds (whatever used range it "
        "states); blank rows are skipped and row numbers are the sheet's. A formula cell must "
        "hold its computed value (a workbook saved by Excel or LibreOffice does; one written by "
        "a script may not, and such a cell is an error); an error value (`#N/A`, `#REF!` ...) "
        "is an error, and so are merged cells (a merged range keeps its value in the first "
        "cell only). Hidden rows (filtered out?) are read like the others, with a warning; so is "
        "a hidden first sheet. In a text column (an identifier), a whole number formatted "
        "with leading zeros or text around it (`00000042`, `\"NEN-\"00000000`, `000-00-0000`) "
        "is read as the sheet shows it; a number in a format not read so (conditions, "
        "decimals, dates) is an error there, never stored as a number the sheet does not show; "
        "so is a number of more than 15 digits there (Excel keeps 15: the digits typed beyond "
        "are lost). A later sheet whose first row names every required column of the table is "
        "an error (its rows would be left out); other sheets are ignored with a warning.",
        "- Parquet: typed columns are read as they are (a 32-bit float as the number it shows); "
        "binary text columns must be UTF-8; a list, struct or map in a column of single values, "
        "numbers in a date column (a day count whose origin cannot be told), timestamps with a "
        "time zone in a date column (the day depends on the zone), or two columns whose names "
        "differ only in case, is an error; so is a list element that is missing or holds `;`, "
        "and an identifier column of decimal numbers (pandas writes an integer column with an "
        "empty cell as floats: 1000001 would be read as `1000001.0`). A null is a missing value "
        "(so are an empty text and an empty list); a NaN is an error (pyarrow writes a pandas "
        "float column's missing values as NaN: a nullable dtype such as `Float64` writes "
        "nulls). A timestamp without a zone is read as a date when its time is midnight, and is "
        "an error otherwise; booleans must be Parquet booleans (0/1 integers are refused, as in "
        "CSV). Row numbers count the header as row 1, as in CSV: the first row is row 2.",
        "- Other usual names of columns (compared by their letters and digits, in any case), "
        "named as the column meant when it is absent: "
        + "; ".join(f"`{c}`: " + ", ".join(a) for c, a in HEADER_ALIASES.items()) + ".",
        "- Empty cells are missing values; whitespace around a value is ignored. A row with no "
        "value at all (only separators) is one error.",
        "- `date`: ISO `YYYY-MM-DD` only. Excel serial numbers (e.g. 44927) and day/month "
        "orders (03/04/2021) are errors, never guessed. XLSX date cells are accepted when "
        "they hold a date alone (a time of midnight); a date-time with another time is an "
        "error even where the cell's format shows only the date. Partial dates (`2020-03`, a "
        "year alone) are errors: write the full date, or leave the cell empty and say so in "
        "`notes`.",
        "- `float`: decimal point (`12.5`), not comma; no digit separator or percent sign "
        "(an XLSX cell formatted as a percentage is refused: write 6 for 6%; a format that only "
        "writes a percent sign after the number, `0.0\\%`, is not one); finite, and not "
        "so small that it would be read as 0 (`1e-400`). A range or a bound (Ki-67 `<1`, "
        "`>20`, `5-10`) is no number and is an error: write the value the pathologist "
        "reports as the index (for `<1`, a value below 1 such as 0.5, as your centre's "
        "convention says), never a range. `mitoses_per_2mm2` is per 2 mm² (WHO 2019): convert "
        "counts per 10 high-power fields by the microscope's field area. Lung carcinoids are "
        "recorded in the WHO categories of this schema (typical carcinoid as `NET G1`, "
        "atypical as `NET G2`) and derived by the same Ki-67 and mitotic cut-points as the "
        "other sites: necrosis, which also makes a lung carcinoid atypical, is stored but not "
        "derived from, so an atypical carcinoid with necrosis alone is derived `NET G1` (a "
        "warning names the conflict with the typed-in `NET G2`). "
        "`int`: whole number (`3` or `3.0`), at most 9 digits.",
        "- `bool`: `true` or `false`, in any case (`TRUE`, `False`).",
        "- Codes are written as listed; one written in another case, or by a usual other "
        "name, is an error naming the code meant: "
        + "; ".join(f"`{c}`: " + ", ".join(f"{w} → `{code}`" for w, code in m.items())
                    for c, m in CODE_SYNONYMS.items()) + ".",
        f"- `list`: tokens separated by `{LIST_SEPARATOR}`, lower case, e.g. `liver;nodes`; "
        "spaces around a token are trimmed, and an empty token (two separators in a row, or one "
        "at the start or end) is left out with a warning; a token listed twice "
        "(`liver;liver`) is an error (it would be counted twice).",
        "",
        "## Validation",
        "",
        "`nenstudy validate SOURCE` lists every problem at once (terminal and `--problems "
        "FILE.csv`, UTF-8 with a byte-order mark so that Excel shows accented text), each with "
        "severity, file, row, column, value, rule and message; "
        f"{ROW_CONVENTION}. Values of identifier columns (and notes) are shown as "
        "`<identifier>` unless `--show-identifiers` is given; so is an identifier of the "
        "registry (a patient, diagnosis, test or treatment ID) found in any other value, header, "
        "file name or message, in any case (one shifted into another column, typed among "
        "words or list tokens); an identifier of fewer than 6 characters only as a word of its "
        "own, so that a date or number holding its digits stays visible; one of fewer than 6 "
        "digits only (a record number: 12) in a number or date column only as the whole value, "
        "and in a file or header problem's message only as a whole quoted text, so that a "
        "measurement (12 per 10 HPF) and the counts of rows and columns stay visible. One "
        "holding a letter "
        "and a digit is also found split in two or three by line breaks or spaces (a wrapped "
        f"cell), in a value of up to {SPLIT_TEXT_LENGTH} characters; one holding spaces (a "
        "name, a number written in groups: DUPONT Marie) as a run of words, whatever stands "
        "between them, in a text of any length; a number glued to letters (pt28034063) in any "
        "text. A value that merged "
        "rows is shown by its length only. Errors block an import; warnings do not. "
        "`nenstudy import SOURCE --registry FILE.duckdb` writes the store only when there is no "
        "error, and replaces it as a whole (a failed import leaves it unchanged). Both take "
        "`--threads N` and `--memory-limit SIZE` for DuckDB, which they run in (default: one "
        f"thread per core and {DEFAULT_MEMORY_LIMIT}; beyond the limit DuckDB spills to a "
        "temporary folder, so memory stays bounded however large the registry).",
        "",
        "Checks beyond each column's type, codes, range and required values:",
        "",
        f"- every date from {EARLIEST_DATE} to the day of validation (a year 0000, or a date "
        "in the future, is an error); ICD-O-3 topography codes up to "
        f"{TOPOGRAPHY_LAST}, none in a category ICD-O-3 lacks ("
        + ", ".join(low[:3] if low[:3] == high[:3] and "." not in low else
                    f"{low}-{high}" for low, high in TOPOGRAPHY_GAPS)
        + "; C78.7, a liver metastasis in ICD-10, is no primary site);",
        "- unique keys; a key that reads as a number in scientific notation (`1.23457E+15`, as "
        "Excel or R show a long numeric ID, its last digits lost) is an error; references "
        "(orphan rows are errors); every patient has exactly one "
        "`follow_up` row (error) and at least one diagnosis (warning);",
        "- birth date < diagnosis date <= MDT date; age at diagnosis "
        f"{AGE_RANGE_YEARS[0]:g}–{AGE_RANGE_YEARS[1]:g} years;",
        "- treatment start on or after the diagnosis date (its `diagnosis_id`, else the "
        "patient's first diagnosis); end, progression and last assessment on or after start;",
        "- death date required iff `vital_status` is `dead`; death on or after the latest "
        "diagnosis and on or before last contact; last contact on or after every other date of "
        "the patient, and not after death (warning); no treatment date after death (error) "
        "and no test date after it "
        "(warning: archival tissue may be tested after death); no treatment or test date "
        "before birth;",
        "- systemic lines numbered 1, 2, 3 ... per patient without gaps or duplicates "
        "(error), started in that order (warning); `line` and `agents` required for systemic "
        "treatments only; a `line` on another row is an error, `agents` on a surgery or "
        "radiotherapy row a warning (they count in no line);",
        "- molecular tests: exactly one of `gene`, `msi_status`, `tmb` per row; `alteration` "
        "iff `gene`;",
        "- possible duplicate patients (different `patient_id`, same sex, birth date, first "
        "diagnosis date and primary site): warning;",
        "- a typed-in `who_category` that a missing element could still make right (a "
        "higher NET grade while Ki-67 or the mitotic count is missing, MiNEN while the non-NE "
        "component is): kept, with a warning naming the missing element;",
        "- a typed-in `who_category` or `site_group` that differs from the derived one, and "
        "an `ecog_ps` that differs from the mapped Karnofsky: warnings;",
        "- stage metastatic without metastatic sites; metastatic sites with a localized or "
        "locally advanced stage, unless `metastases_timing` is metachronous (found after "
        "diagnosis); synchronous metastases without a metastatic stage, metachronous ones with "
        "it: warnings;",
        "- a primary of unknown site (C80.9, known by its metastases) staged localized or "
        "locally advanced; a small/large cell type on a well-differentiated tumour; a primary "
        "site of the genital organs of the other sex than the patient's (female C51-C58, male "
        "C60-C63): warnings;",
        "- a percentage column (`ki67_pct`, `non_ne_component_pct`) whose every value lies "
        "between 0 and 1 (10 values or more): a warning, since a spreadsheet reads a cell "
        "formatted as a percentage as a fraction (45% as 0.45);",
        "- no WHO category, neither typed in nor determined by the pathology elements: an "
        "error (`who_category.missing`).",
        "",
        "## Derivations",
        "",
        f"- Site group from the ICD-O-3 topography: {ranges}; any other → "
        f"`{SITE_GROUP_DEFAULT}`.",
        "- WHO 2019 category from the raw pathology elements, in order: non-neuroendocrine "
        f"component >= {MINEN_NON_NE_THRESHOLD_PCT:g}% → `MiNEN`; poorly differentiated or a "
        "small/large cell type → `NEC`; well differentiated → `NET G1/G2/G3` by the higher of "
        f"the Ki-67 grade (< {KI67_GRADE_UPPER[0]:g}%, {KI67_GRADE_UPPER[0]:g}–"
        f"{KI67_GRADE_UPPER[1]:g}%, > {KI67_GRADE_UPPER[1]:g}%) and the mitotic grade "
        f"(< {MITOSES_GRADE_UPPER[0]:g}, {MITOSES_GRADE_UPPER[0]:g}–{MITOSES_GRADE_UPPER[1]:g}, "
        f"> {MITOSES_GRADE_UPPER[1]:g} per 2 mm²). When the elements do not determine a "
        "category, the typed-in one is used; a row with neither is an error.",
        f"- Karnofsky → ECOG when `ecog_ps` is missing: {karnofsky}.",
        f"- Age at diagnosis in years = days / {DAYS_PER_YEAR:g}.",
        "",
        "## The store",
        "",
        "One DuckDB table per registry table with the types below (`date` DATE, `float` DOUBLE, "
        "`int` INTEGER, `bool` BOOLEAN, `list` VARCHAR[], `string` VARCHAR; a `string` with "
        "allowed values, including the derived `site_group` and `who_category`, is an ENUM of "
        "them in the order listed: R reads it as a factor with those levels, pandas as "
        "categories, and `ORDER BY` follows that order), rows in source order; "
        "plus `_meta` (schema version, source digest, and the seed and scale of a synthetic "
        "registry imported as `nenstudy synth` wrote it), `_source_files` (file, format, encoding, "
        "SHA-256, rows) and `_import_log` (one row per import). The file is written in DuckDB's "
        f"{STORAGE_VERSION} storage format, which DuckDB {STORAGE_VERSION.lstrip('v')} and later "
        "open (R: `DBI::dbConnect(duckdb::duckdb(), \"registry.duckdb\", read_only = TRUE)`).",
        "",
    ]
    for table in SCHEMA:
        lines += _table_section(table)
    return "\n".join(lines)


def main() -> None:
    """Print the registry documentation to standard output."""
    sys.stdout.write(render_registry_markdown())


if __name__ == "__main__":
    main()
